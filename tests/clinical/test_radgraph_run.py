"""RadGraph F1 end to end on a tiny generated checkpoint in the published archive layout:
the radgraph package runs on this transformers through medmine's tokenizer shim, medmine's
scorer batches all reports in one call, and its per-report F1 equals the package's own
F1RadGraph (reward_level="all") on the same weights and texts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("radgraph", reason="the radgraph package (clinical extra) is not installed")

REFS = [
    "Small left pleural effusion. Mild cardiomegaly.",
    "Lungs are clear. No pneumothorax.",
    "Left lower lobe atelectasis, stable since prior.",
    "Heart size normal.",
    "No pleural effusion.",
]
HYPS = [
    "There is a small left pleural effusion.",
    "Lungs clear. No pneumothorax or effusion.",
    "",  # an empty report: 0 at every level, never annotated (as the package)
    "Heart size normal. Lungs clear.",
    "Large right pleural effusion with opacity.",
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_weights import write_radgraph

    return write_radgraph(tmp_path_factory.mktemp("rg") / "radgraph")


def test_shim_gives_the_removed_tokenizer_methods(folder: Path) -> None:
    from transformers import AutoTokenizer

    from medmine.clinical.radgraph_compat import with_removed_methods

    tok = with_removed_methods(
        AutoTokenizer.from_pretrained(str(folder.parent / "radgraph-encoder"))
    )
    cls, sep = tok.convert_tokens_to_ids(["[CLS]", "[SEP]"])
    ids = tok.encode("pleural effusion", add_special_tokens=False)
    assert tok.build_inputs_with_special_tokens(ids) == [cls, *ids, sep]
    assert tok.build_inputs_with_special_tokens(ids, [7]) == [cls, *ids, sep, 7, sep]
    out = tok.encode_plus("left", "effusion", add_special_tokens=True, return_token_type_ids=True)
    assert out["input_ids"] == [cls, *tok.encode("left", add_special_tokens=False), sep,
                                *tok.encode("effusion", add_special_tokens=False), sep]  # fmt: skip
    assert out["token_type_ids"][-1] == 1


def test_scores_with_tiny_weights_and_equals_the_package(folder: Path) -> None:
    from radgraph import F1RadGraph

    from medmine.clinical.radgraph import make_radgraph
    from medmine.metrics.clinical.radgraph_f1 import LEVELS

    scorer = make_radgraph({"weights": {"radgraph": str(folder)}, "radgraph_model": "radgraph"})
    result = scorer.score(REFS, HYPS)
    assert result.tables["tokenizer_shim"] in (True, False)
    keys = [f"radgraph_{lvl}_f1" for lvl in LEVELS]
    assert set(keys) <= set(result.metrics)
    for k in keys:
        assert len(result.per_sample[k]) == len(REFS)
        assert result.per_sample[k][2] == 0.0  # the empty report

    f1 = F1RadGraph(reward_level="all", model_type="radgraph", model_cache_dir=str(folder.parent))
    mean, rewards, hyp_ann, _ref_ann = f1(refs=REFS, hyps=HYPS)
    for lvl, theirs in zip(keys, rewards, strict=True):
        assert result.per_sample[lvl] == pytest.approx(list(theirs), abs=1e-12)
    for lvl, theirs in zip(keys, mean, strict=True):
        assert result.metrics[lvl] == pytest.approx(float(theirs), abs=1e-12)
    # the tiny model finds entities and relations, and scores are not all 0 or 1
    assert any(e["relations"] for a in hyp_ann for e in a["entities"].values())
    assert any(0.0 < v < 1.0 for k in keys for v in result.per_sample[k])


def test_one_batch_equals_one_report_at_a_time(folder: Path) -> None:
    from medmine.clinical.radgraph import annotate

    texts = [t for t in REFS + HYPS if t]
    together = annotate(folder, "radgraph", texts)
    alone = [annotate(folder, "radgraph", [t])[0] for t in texts]
    assert together == alone
    assert annotate(folder, "radgraph", ["", "  "]) == [{"entities": {}}, {"entities": {}}]


def test_a_folder_without_weights_fails_with_the_expected_files(tmp_path: Path) -> None:
    from medmine.clinical.radgraph import make_radgraph

    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lacks weights\.th, vocabulary.*RRG_scorers"):
        make_radgraph({"weights": {"radgraph": str(tmp_path)}})
