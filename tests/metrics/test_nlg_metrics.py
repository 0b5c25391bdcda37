"""BLEU / ROUGE-L / CIDEr-D equality with pycocoevalcap on the same token lists."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

from medmine.metrics.nlg import bleu, cider_d, lcs_length, rouge_l, score_reports
from medmine.metrics.ptb_tokenize import ptb_tokenize

pytest.importorskip("pycocoevalcap")
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge, my_lcs

REALDATA = Path(
    os.environ.get(
        "MEDMINE_REALDATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"
    )
)
IU = REALDATA / "iu_xray_r2gen" / "iu_xray" / "annotation.json"

TokRefs = dict[str, list[list[str]]]
TokHyps = dict[str, list[str]]


def iu_reports() -> list[str]:
    """All IU X-ray reports of the sample (skip when the data is absent)."""
    if not IU.is_file():
        pytest.skip(f"IU X-ray sample not found at {IU}")
    ann = json.loads(IU.read_text(encoding="utf-8"))
    return [e["report"] for split in ann.values() for e in split]


def coco(refs: TokRefs, hyps: TokHyps) -> dict[str, tuple]:
    """pycocoevalcap scores on the same tokens (its scorers take space-joined strings)."""
    gts = {k: [" ".join(r) for r in v] for k, v in refs.items()}
    res = {k: [" ".join(v)] for k, v in hyps.items()}
    return {
        "bleu": Bleu(4).compute_score(gts, res, verbose=0),
        "rouge": Rouge().compute_score(gts, res),
        "cider": Cider().compute_score(gts, res),
    }


def assert_same(refs: TokRefs, hyps: TokHyps) -> None:
    """All three metrics equal pycocoevalcap's, corpus and per sample, to the last bit."""
    ref = coco(refs, hyps)
    b, b_per = bleu(refs, hyps)
    assert b == ref["bleu"][0]
    assert b_per == ref["bleu"][1]
    r, r_per = rouge_l(refs, hyps)
    assert r == ref["rouge"][0]
    np.testing.assert_array_equal(r_per, ref["rouge"][1])
    c, c_per = cider_d(refs, hyps)
    assert c == ref["cider"][0]
    np.testing.assert_array_equal(c_per, ref["cider"][1])


def build_iu_pairs(multi: bool) -> tuple[TokRefs, TokHyps]:
    """Hypotheses that are truncated, shuffled, other, empty or one-token reports."""
    reports = [ptb_tokenize(r) for r in iu_reports()]
    rng = random.Random(42)
    refs: TokRefs = {}
    hyps: TokHyps = {}
    for i, toks in enumerate(reports):
        other = reports[(i * 7 + 3) % len(reports)]
        kind = i % 6
        if kind == 0:
            hyp = toks[: len(toks) // 2]
        elif kind == 1:
            hyp = rng.sample(toks, len(toks))
        elif kind == 2:
            hyp = other
        elif kind == 3:
            hyp = []
        elif kind == 4:
            hyp = toks[:1]
        else:
            hyp = list(toks)
        refs[f"id{i}"] = [toks, other, reports[i - 1]][: (1 + i % 3) if multi else 1]
        hyps[f"id{i}"] = hyp
    return refs, hyps


def test_iu_single_reference_equals_pycocoevalcap() -> None:
    assert_same(*build_iu_pairs(multi=False))


def test_iu_multi_reference_equals_pycocoevalcap() -> None:
    assert_same(*build_iu_pairs(multi=True))


def test_edge_cases_equal_pycocoevalcap() -> None:
    refs = {"a": [["no", "effusion"]], "b": [["x"]], "c": [["a", "b", "c"], ["a"]], "d": [["y"]]}
    hyps = {"a": [], "b": ["x"], "c": ["c"], "d": ["y", "y", "y"]}
    assert_same(refs, hyps)


def test_single_sample_corpus() -> None:
    assert_same({"only": [["heart", "size", "normal"]]}, {"only": ["heart", "normal"]})


def test_lcs_matches_reference_dp() -> None:
    rng = random.Random(0)
    for _ in range(300):
        a = [rng.choice("abcde") for _ in range(rng.randint(0, 30))]
        b = [rng.choice("abcde") for _ in range(rng.randint(0, 30))]
        assert lcs_length(a, b) == my_lcs(a, b)


def test_score_reports_equals_pycocoevalcap_pipeline() -> None:
    texts = iu_reports()
    refs = {str(i): [t] for i, t in enumerate(texts)}
    hyps = {str(i): texts[(i + 5) % len(texts)] for i in range(len(texts))}
    out = score_reports(refs, hyps)
    tok_refs = {k: [ptb_tokenize(r) for r in v] for k, v in refs.items()}
    tok_hyps = {k: ptb_tokenize(v) for k, v in hyps.items()}
    ref = coco(tok_refs, tok_hyps)
    assert [out[f"bleu_{k}"] for k in range(1, 5)] == ref["bleu"][0]
    assert out["rouge_l"] == ref["rouge"][0]
    assert out["cider_d"] == ref["cider"][0]
    per = out["per_sample"]
    assert isinstance(per, dict)
    np.testing.assert_array_equal(per["cider_d"], ref["cider"][1])
    assert out["ids"] == list(refs)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="same ids"):
        bleu({"a": [["x"]]}, {"b": ["x"]})
    with pytest.raises(ValueError, match="non-empty list"):
        rouge_l({"a": []}, {"a": ["x"]})
    with pytest.raises(ValueError, match="list of token strings"):
        cider_d({"a": [["x"]]}, {"a": "x y"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="empty"):
        bleu({}, {})
    with pytest.raises(ValueError, match="report string"):
        score_reports({"a": ["x"]}, {"a": ["x"]})  # type: ignore[dict-item]
