"""RaTEScore end to end on tiny generated weights in the published layout (a DeBERTa-v2 NER
folder and an MPNet encoder folder), equal to the RaTEScore package (0.6.0) on the same
weights and texts; its span rules and matching equal the package's on random inputs."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from medmine.clinical.ratescore_core import (
    NO_ENTITY_SCORE,
    entity_spans,
    load_affinity,
    weighted_similarity,
)

REFS = [
    "Small left pleural effusion. Mild cardiomegaly.",
    "Lungs are clear. No pneumothorax.",
    "Left lower lobe atelectasis, stable since prior. Tube in place.",
    "There is no pleural effusion. The heart size is normal.",
]
HYPS = [
    "There is a small left pleural effusion.",
    "Lungs clear. No pneumothorax or effusion.",
    "Stable left lower lobe opacity.",
    "Large right pleural effusion with mild edema.",
]


def test_span_rules_by_hand() -> None:
    toks = ["[CLS]", "a", "b", "c", "d", "e", "[SEP]"]
    labels = ["O", "B-DISEASE", "I-DISEASE", "O", "B-ANATOMY", "B-ABNORMALITY", "O"]
    assert entity_spans(toks, labels) == [
        (1, 2, "DISEASE"),
        (4, 4, "ANATOMY"),
        (5, 5, "ABNORMALITY"),
    ]
    # a span still open at the end closes before the last token ([SEP]) ...
    assert entity_spans(toks[:4], ["O", "B-ANATOMY", "I-ANATOMY", "I-ANATOMY"]) == [
        (1, 2, "ANATOMY")
    ]
    # ... unless the span before it ended at a label followed by B- (the reference's rule, kept)
    labels = ["O", "B-DISEASE", "I-DISEASE", "B-ANATOMY", "I-ANATOMY", "I-ANATOMY"]
    assert entity_spans(toks[:6], labels) == [(1, 2, "DISEASE")]


def _reference_utils() -> Any:
    return pytest.importorskip("RaTEScore.utils", reason="RaTEScore (with medspacy) not installed")


class _JoinTokens:
    @staticmethod
    def convert_tokens_to_string(tokens: list[str]) -> str:
        return "|".join(tokens)


def test_span_rules_equal_the_package_on_random_labels() -> None:
    utils = _reference_utils()
    from tiny_weights import RATE_LABELS

    rng = random.Random(3)
    for _ in range(2000):
        n = rng.randint(2, 12)
        toks = ["[CLS]", *(f"t{i}" for i in range(1, n - 1)), "[SEP]"]
        labels = [rng.choice(RATE_LABELS) for _ in range(n + rng.choice([0, 0, 2]))]
        theirs = utils.post_process(toks, labels, _JoinTokens)
        ours = [("|".join(toks[a : b + 1]), t) for a, b, t in entity_spans(toks, labels)]
        assert ours == theirs, (toks, labels)


def test_matching_equals_the_package_on_random_embeddings() -> None:
    utils = _reference_utils()
    import torch
    from tiny_weights import RATE_TYPES

    from medmine.clinical.ratescore import top1

    affinity = load_affinity("long")
    rng = random.Random(5)
    torch.manual_seed(5)
    for _ in range(200):
        na, nb = rng.randint(1, 6), rng.randint(1, 6)
        a, b = torch.randn(na, 8), torch.randn(nb, 8)
        if rng.random() < 0.3:
            b[-1] = a[0]  # an identical entity on both sides
        ta = [rng.choice(RATE_TYPES) for _ in range(na)]
        tb = [rng.choice(RATE_TYPES) for _ in range(nb)]
        theirs = utils.compute(a, b, ta, tb, affinity)
        assert weighted_similarity(top1(a, b), ta, tb, affinity) == pytest.approx(theirs, abs=1e-12)


def test_matrices_equal_the_package() -> None:
    scorer = pytest.importorskip("RaTEScore.scorer", reason="RaTEScore not installed")
    from medmine.clinical.ratescore_matrices import MATRICES

    assert MATRICES["long"] == scorer.DEFAULT_MATRIX_LONG
    assert MATRICES["short"] == scorer.DEFAULT_MATRIX_SHORT


def test_a_matrix_file_and_bad_ones(tmp_path: Path) -> None:
    good = tmp_path / "m.json"
    good.write_text('{"disease_disease": 0.5, "neg_weight": 0.2}', encoding="utf-8")
    assert load_affinity(str(good)) == {("DISEASE", "DISEASE"): 0.5, ("NEG", "WEIGHT"): 0.2}
    with pytest.raises(ValueError, match="not 'long' or 'short'"):
        load_affinity(str(tmp_path / "none.json"))
    (tmp_path / "n.json").write_text('{"disease_disease": 0.5}', encoding="utf-8")
    with pytest.raises(ValueError, match="no neg_weight"):
        load_affinity(str(tmp_path / "n.json"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("medspacy", reason="medspacy (extra ratescore) not installed")
    from tiny_weights import write_ratescore

    return write_ratescore(tmp_path_factory.mktemp("rate"))


def test_scores_with_tiny_weights_and_equals_the_package(folder: Path) -> None:
    from medmine.clinical.ratescore import make_ratescore

    scorer = make_ratescore({"weights": {"ratescore": str(folder)}})
    result = scorer.score(REFS, HYPS)
    per = result.per_sample["ratescore"]
    assert len(per) == len(REFS) and all(0.0 <= v <= 1.0 for v in per)
    assert result.metrics["ratescore"] == pytest.approx(sum(per) / len(per))
    ents = scorer.entities(REFS + HYPS)
    assert sum(map(len, ents)) > 10 and len({t for e in ents for _, t in e}) >= 3
    assert any(v not in (0.0, 0.5, 1.0) for v in per)
    assert set(result.tables["checkpoint_sha"]) == {"ner", "embedder"}

    pkg = pytest.importorskip("RaTEScore", reason="RaTEScore not installed")
    ref = pkg.RaTEScore(
        bert_model=str(folder / "ner"), eval_model=str(folder / "embedder"), use_gpu=False
    )
    assert per == pytest.approx(ref.compute_score(list(HYPS), list(REFS)), abs=1e-9)


def test_empty_side_scores_one_half_and_batches_agree(folder: Path) -> None:
    from medmine.clinical.ratescore import make_ratescore

    scorer = make_ratescore({"weights": {"ratescore": str(folder)}})
    result = scorer.score([REFS[0], ""], ["", HYPS[0]])
    assert result.per_sample["ratescore"] == [NO_ENTITY_SCORE, NO_ENTITY_SCORE]
    together = scorer.entities(REFS + HYPS)
    assert together == [scorer.entities([t])[0] for t in REFS + HYPS]


def test_a_wrong_folder_fails_with_the_expected_files(tmp_path: Path) -> None:
    pytest.importorskip("medspacy", reason="medspacy (extra ratescore) not installed")
    from medmine.clinical.ratescore import make_ratescore

    (tmp_path / "ner").mkdir()
    (tmp_path / "ner" / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lacks embedder/config\.json.*RaTE-NER-Deberta"):
        make_ratescore({"weights": {"ratescore": str(tmp_path)}})
