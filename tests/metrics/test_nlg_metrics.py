"""BLEU / ROUGE-L / CIDEr-D equality with pycocoevalcap on the same token lists."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

from medmine.metrics.nlg import bleu, cider_d, lcs_length, rouge_l, score_reports
from medmine.metrics.nlg_corpus import stable_order
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


def assert_reports_same(refs: dict[str, list[str]], hyps: dict[str, str]) -> None:
    """score_reports equals pycocoevalcap's scorers on the same tokenised strings, per sample."""
    out = score_reports(refs, hyps)
    gts = {k: [" ".join(ptb_tokenize(r)) for r in v] for k, v in refs.items()}
    res = {k: [" ".join(ptb_tokenize(hyps[k]))] for k in refs}
    b, b_per = Bleu(4).compute_score(gts, res, verbose=0)
    r, r_per = Rouge().compute_score(gts, res)
    c, c_per = Cider().compute_score(gts, res)
    per = out["per_sample"]
    assert isinstance(per, dict)
    for k in range(4):
        assert out[f"bleu_{k + 1}"] == b[k]
        np.testing.assert_array_equal(per[f"bleu_{k + 1}"], np.array(b_per[k]))
    assert out["rouge_l"] == r
    np.testing.assert_array_equal(per["rouge_l"], r_per)
    assert out["cider_d"] == c
    np.testing.assert_array_equal(per["cider_d"], np.array(c_per))
    assert out["ids"] == list(refs)


def test_score_reports_equals_pycocoevalcap_pipeline() -> None:
    texts = iu_reports()
    refs = {str(i): [t] for i, t in enumerate(texts)}
    hyps = {str(i): texts[(i + 5) % len(texts)] for i in range(len(texts))}
    assert_reports_same(refs, hyps)


def test_score_reports_multi_reference_and_odd_texts() -> None:
    texts = iu_reports()
    odd = ["", "...", "5 7/8 in. and 555 123 4567", "No. Dr. x-ray's (XXXX).", "Heart"]
    refs: dict[str, list[str]] = {}
    hyps: dict[str, str] = {}
    for i, t in enumerate(texts):
        other = texts[(i * 7 + 3) % len(texts)]
        refs[f"r{i}"] = [t, other, t][: 1 + i % 3]  # duplicates of a reference too
        hyps[f"r{i}"] = odd[i % len(odd)] if i % 4 == 0 else " ".join(other.split(" ")[::-1])
    refs["blank"] = [""]
    hyps["blank"] = "no acute disease"
    assert_reports_same(refs, hyps)
    assert_reports_same({"x": ["5 7/8"], "y": ["a b"]}, {"x": "5 7/8", "y": ""})


def random_corpus(
    seed: int, n_samples: int, vocab: int, max_len: int, max_refs: int
) -> tuple[TokRefs, TokHyps]:
    """Random token corpora: small vocabularies give many repeated and shared n-grams."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocab)]

    def seq() -> list[str]:
        return [rng.choice(words) for _ in range(rng.randint(0, max_len))]

    pool = [seq() for _ in range(max(3, n_samples // 3))]
    refs: TokRefs = {}
    hyps: TokHyps = {}
    for i in range(n_samples):
        rs = [rng.choice(pool) if rng.random() < 0.5 else seq()]
        rs += [rng.choice(pool + rs) for _ in range(rng.randint(0, max_refs - 1))]
        refs[f"s{i}"] = rs
        hyps[f"s{i}"] = rng.choice(pool) if rng.random() < 0.2 else seq()
    return refs, hyps


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_corpora_equal_pycocoevalcap(seed: int) -> None:
    assert_same(*random_corpus(seed, 300, 6 + 10 * seed, 40, 3))


def test_large_vocabulary_equals_pycocoevalcap() -> None:
    """Over 65,536 distinct tokens: token ids take the two-pass radix sort."""
    refs, hyps = random_corpus(7, 3000, 400_000, 60, 2)
    tokens = {t for v in refs.values() for r in v for t in r} | {
        t for v in hyps.values() for t in v
    }
    assert len(tokens) > 1 << 16
    assert_same(refs, hyps)


def test_stable_order_equals_numpy_stable_argsort() -> None:
    rng = np.random.default_rng(1)
    for bound in [1, 300, 1 << 16, (1 << 16) + 1, 1 << 32, 1 << 40]:
        v = rng.integers(0, bound, 20_000)
        np.testing.assert_array_equal(stable_order(v, bound), np.argsort(v, kind="stable"))


def test_long_sequences_multiword_lcs() -> None:
    refs, hyps = random_corpus(5, 60, 8, 300, 2)  # LCS masks of up to 5 words
    assert max(len(h) for h in hyps.values()) > 256
    assert_same(refs, hyps)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_lower_bleu_orders_equal_pycocoevalcap(n: int) -> None:
    """pycocoevalcap cooks 4-grams whatever n is, so only Bleu(n <= 4) is comparable."""
    refs, hyps = random_corpus(11, 200, 12, 30, 3)
    gts = {k: [" ".join(r) for r in v] for k, v in refs.items()}
    res = {k: [" ".join(v)] for k, v in hyps.items()}
    assert bleu(refs, hyps, n) == Bleu(n).compute_score(gts, res, verbose=0)


def test_row_means_equal_numpy_mean_of_each_row() -> None:
    """cider_d averages the n orders of all samples at once with np.mean(axis=1)."""
    rng = np.random.default_rng(0)
    for n in range(1, 10):
        a = rng.random((2000, n)) * rng.choice([1e-8, 1.0, 1e8], (2000, n))
        rows = np.array([np.mean(row) for row in a])
        np.testing.assert_array_equal(np.mean(a, axis=1), rows)


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
