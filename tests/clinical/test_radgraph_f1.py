"""RadGraph F1 equals the radgraph package's reward functions on the same annotations."""

from __future__ import annotations

import random

import pytest

from medmine.metrics.clinical.radgraph_f1 import LEVELS, radgraph_f1

LABELS = ("ANAT-DP", "OBS-DP", "OBS-DA", "OBS-U")
TOKENS = ("lung", "Lung", "effusion", "pleural", "left", "opacity", "heart", "enlarged", "clear")
RELATIONS = ("modify", "located_at", "suggestive_of")


def _annotation(rng: random.Random) -> dict:
    n = rng.randint(0, 6)
    entities: dict[str, dict] = {}
    for i in range(1, n + 1):
        entities[str(i)] = {
            "tokens": rng.choice(TOKENS),
            "label": rng.choice(LABELS),
            "start_ix": i,
            "end_ix": i,
            "relations": [],
        }
    for e in entities.values():
        for _ in range(rng.choice([0, 0, 1, 2])):
            e["relations"].append([rng.choice(RELATIONS), rng.choice(list(entities))])
    return {"text": "", "entities": entities, "data_source": None, "data_split": "inference"}


def test_equals_radgraph_rewards_on_random_annotations() -> None:
    rewards = pytest.importorskip("radgraph.rewards")
    rng = random.Random(7)
    checked = 0
    for _ in range(300):
        hyp, ref = _annotation(rng), _annotation(rng)
        ours = radgraph_f1(hyp, ref)
        theirs = rewards.compute_reward(hyp, ref, "all")
        assert [ours[lvl] for lvl in LEVELS] == pytest.approx(list(theirs), abs=1e-12)
        checked += any(v not in (0.0, 1.0) for v in theirs)
    assert checked > 50  # the draws cover partial matches, not only 0 and 1


def test_by_hand() -> None:
    ref = {"entities": {
        "1": {"tokens": "effusion", "label": "OBS-DP", "relations": [["located_at", "2"]]},
        "2": {"tokens": "pleural", "label": "ANAT-DP", "relations": []},
    }}  # fmt: skip
    hyp = {"entities": {
        "1": {"tokens": "effusion", "label": "OBS-DP", "relations": []},
        "2": {"tokens": "pleural", "label": "ANAT-DP", "relations": []},
    }}  # fmt: skip
    out = radgraph_f1(hyp, ref)
    assert out["entity"] == 1.0
    assert out["relation_exists"] == pytest.approx(0.5)
    # hyp {effusion, pleural}, ref {(effusion located_at pleural), pleural}: 1 of 2 each side
    assert out["relation"] == pytest.approx(0.5)
    assert radgraph_f1({"entities": {}}, ref) == dict.fromkeys(LEVELS, 0.0)
