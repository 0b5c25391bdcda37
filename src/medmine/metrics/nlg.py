"""Report-generation metrics that reproduce pycocoevalcap's BLEU, ROUGE-L and CIDEr-D.

All functions take already-tokenised text: ``refs`` maps a sample id to one or more
reference token lists, ``hyps`` maps the same ids to one hypothesis token list.  Samples are
scored in the key order of ``refs`` (pycocoevalcap iterates ``gts.keys()``).  The arithmetic
follows pycocoevalcap 1.2 operation by operation, so the numbers are identical to it, not
merely close:

* :func:`bleu` = ``Bleu(4)``: modified n-gram precision with the "closest" reference length
  (ties go to the shorter reference), ``tiny=1e-15`` / ``small=1e-9`` smoothing, per-sample
  brevity penalty for the per-sample scores and a corpus brevity penalty over summed lengths.
* :func:`rouge_l` = ``Rouge()``: LCS-based F-measure with beta = 1.2 using the best precision
  and best recall over references, averaged over samples.  As in pycocoevalcap (which splits
  the empty string into ``[""]``) an empty token list counts as one empty token.
* :func:`cider_d` = ``Cider()``: CIDEr-D with n = 1..4, sigma = 6, tf-idf over the
  references of the evaluated corpus (idf = log(N) - log(max(1, df))), clipped
  hypothesis weights, a Gaussian length penalty whose "length" is the number of *bigram*
  positions (pycocoevalcap's quirk), the mean over n, divided by the number of references
  and scaled by 10.

:func:`score_reports` tokenises raw report strings with :func:`ptb_tokenize` and returns all
three metrics.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from medmine.metrics.ptb_tokenize import ptb_tokenize

__all__ = ["bleu", "cider_d", "rouge_l", "score_reports"]

Tokens = Sequence[str]

_STR = frozenset([str])
_TINY = 1e-15
_SMALL = 1e-9


def _check_inputs(refs: Mapping[str, Sequence[Tokens]], hyps: Mapping[str, Tokens]) -> list[str]:
    """Validate the refs/hyps mappings and return the ids in scoring order."""
    if not isinstance(refs, Mapping) or not isinstance(hyps, Mapping):
        raise ValueError("refs and hyps must be mappings from sample id to tokens")
    if len(refs) == 0:
        raise ValueError("refs is empty: nothing to score")
    if refs.keys() != hyps.keys():
        missing = sorted(map(str, set(refs) - set(hyps)))[:5]
        extra = sorted(map(str, set(hyps) - set(refs)))[:5]
        raise ValueError(
            f"refs and hyps must have the same ids (only in refs: {missing}, only in hyps: {extra})"
        )
    for key in refs:
        hyp = hyps[key]
        if isinstance(hyp, str) or not set(map(type, hyp)) <= _STR:
            raise ValueError(f"hyps[{key!r}] must be a list of token strings, got {hyp!r:.80}")
        rs = refs[key]
        if isinstance(rs, str) or len(rs) == 0:
            raise ValueError(f"refs[{key!r}] must be a non-empty list of token lists")
        for r in rs:
            if isinstance(r, str) or not set(map(type, r)) <= _STR:
                raise ValueError(f"refs[{key!r}] must contain token lists, got {r!r:.80}")
    return list(refs.keys())


def _ngram_counts(tokens: Tokens, n: int) -> Counter[tuple[str, ...]]:
    """Count all 1..n-grams of ``tokens`` in pycocoevalcap's insertion order (read-only)."""
    return _ngram_counts_cached(tuple(tokens), n)


@lru_cache(maxsize=131072)
def _ngram_counts_cached(toks: tuple[str, ...], n: int) -> Counter[tuple[str, ...]]:
    """Cached n-gram counter; k-grams are added for k = 1..n, left to right."""
    counts: Counter[tuple[str, ...]] = Counter(zip(toks))
    for k in range(2, n + 1):
        counts.update(zip(*[toks[i:] for i in range(k)], strict=False))
    return counts


def bleu(
    refs: Mapping[str, Sequence[Tokens]], hyps: Mapping[str, Tokens], n: int = 4
) -> tuple[list[float], list[list[float]]]:
    """Corpus BLEU-1..n and per-sample BLEU-1..n exactly as pycocoevalcap ``Bleu(n)``.

    BLEU-k = BP * (prod_{i<=k} (correct_i + 1e-15) / (guess_i + 1e-9)) ** (1/k) with
    BP = exp(1 - r/c) when c < r (c: hypothesis length, r: closest reference length).
    Returns ``([b1..bn], [[b1 per sample], ..., [bn per sample]])``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    ids = _check_inputs(refs, hyps)
    per = [[] for _ in range(n)]  # type: list[list[float]]
    tot_correct = [0] * n
    tot_guess = [0] * n
    tot_test = 0
    tot_ref = 0
    for key in ids:
        hyp = hyps[key]
        testlen = len(hyp)
        rs = refs[key]
        reflens = [len(r) for r in rs]
        maxcounts: Mapping[tuple[str, ...], int]
        if len(rs) == 1:
            maxcounts = _ngram_counts(rs[0], n)
        else:
            merged: dict[tuple[str, ...], int] = {}
            for r in rs:
                for ng, c in _ngram_counts(r, n).items():
                    if c > merged.get(ng, 0):
                        merged[ng] = c
            maxcounts = merged
        reflen = min((abs(rl - testlen), rl) for rl in reflens)[1]
        correct = [0] * n
        get = maxcounts.get
        for ng, c in _ngram_counts(hyp, n).items():
            m = get(ng, 0)
            if m:
                correct[len(ng) - 1] += m if m < c else c
        guess = [max(0, testlen - k) for k in range(n)]
        tot_test += testlen
        tot_ref += reflen
        score = 1.0
        for k in range(n):
            tot_correct[k] += correct[k]
            tot_guess[k] += guess[k]
            score *= (float(correct[k]) + _TINY) / (float(guess[k]) + _SMALL)
            per[k].append(score ** (1.0 / (k + 1)))
        ratio = (testlen + _TINY) / (reflen + _SMALL)
        if ratio < 1:
            bp = math.exp(1 - 1 / ratio)
            for k in range(n):
                per[k][-1] *= bp
    corpus = []
    score = 1.0
    for k in range(n):
        score *= float(tot_correct[k] + _TINY) / (tot_guess[k] + _SMALL)
        corpus.append(score ** (1.0 / (k + 1)))
    ratio = (tot_test + _TINY) / (tot_ref + _SMALL)
    if ratio < 1:
        for k in range(n):
            corpus[k] *= math.exp(1 - 1 / ratio)
    return corpus, per


def lcs_length(a: Tokens, b: Tokens) -> int:
    """Length of the longest common subsequence of two token sequences (bit-parallel)."""
    if len(a) < len(b):
        a, b = b, a
    m = len(a)
    if m == 0 or len(b) == 0:
        return 0
    masks: dict[str, int] = {}
    for i, tok in enumerate(a):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << m) - 1
    v = full
    for tok in b:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return m - v.bit_count()


def rouge_l(
    refs: Mapping[str, Sequence[Tokens]], hyps: Mapping[str, Tokens], beta: float = 1.2
) -> tuple[float, np.ndarray]:
    """Mean and per-sample ROUGE-L exactly as pycocoevalcap ``Rouge()``.

    Per sample: P = max_r LCS/|hyp|, R = max_r LCS/|ref|,
    score = (1 + beta^2) P R / (R + beta^2 P) (0 if P or R is 0).
    """
    ids = _check_inputs(refs, hyps)
    b2 = beta**2
    scores = []
    for key in ids:
        hyp = list(hyps[key]) or [""]
        prec = []
        rec = []
        for r in refs[key]:
            ref = list(r) or [""]
            lcs = lcs_length(ref, hyp)
            prec.append(lcs / float(len(hyp)))
            rec.append(lcs / float(len(ref)))
        p = max(prec)
        rc = max(rec)
        if p != 0 and rc != 0:
            scores.append(((1 + b2) * p * rc) / float(rc + b2 * p))
        else:
            scores.append(0.0)
    arr = np.array(scores)
    return float(np.mean(arr)), arr


def _tfidf(
    counts: Counter[tuple[str, ...]], idf: Mapping[tuple[str, ...], float], n: int
) -> tuple[list[dict[tuple[str, ...], float]], list[float], int]:
    """tf-idf vectors per n-gram order, their norms, and the bigram-position count.

    Python floats give the same IEEE results as pycocoevalcap's numpy scalars here.
    """
    vec: list[dict[tuple[str, ...], float]] = [{} for _ in range(n)]
    norm = [0.0] * n
    length = 0
    for ng, tf in counts.items():
        k = len(ng) - 1
        w = float(tf) * idf[ng]
        vec[k][ng] = w
        norm[k] += w * w
        if k == 1:
            length += tf
    return vec, [math.sqrt(x) for x in norm], length


def cider_d(
    refs: Mapping[str, Sequence[Tokens]],
    hyps: Mapping[str, Tokens],
    n: int = 4,
    sigma: float = 6.0,
) -> tuple[float, np.ndarray]:
    """Mean and per-sample CIDEr-D exactly as pycocoevalcap ``Cider()`` (see module doc)."""
    if n < 1 or sigma <= 0:
        raise ValueError(f"need n >= 1 and sigma > 0, got n={n}, sigma={sigma}")
    ids = _check_inputs(refs, hyps)
    ref_tuples = [[tuple(r) for r in refs[key]] for key in ids]
    df: Counter[tuple[str, ...]] = Counter()
    for rts in ref_tuples:
        df.update({ng for rt in rts for ng in _ngram_counts_cached(rt, n)})
    log_n = float(np.log(float(len(ids))))
    # idf = log N - log max(1, df); np.log as in pycocoevalcap, computed once per n-gram.
    uniq = list(df)
    logs = np.log(np.maximum(1.0, np.array([float(df[g]) for g in uniq], dtype=np.float64)))
    idf: dict[tuple[str, ...], float] = {
        g: log_n - float(v) for g, v in zip(uniq, logs.tolist(), strict=True)
    }

    class _Idf(dict):  # type: ignore[type-arg]
        """idf lookup; n-grams seen in no reference get log N - log 1."""

        def __missing__(self, ng: tuple[str, ...]) -> float:
            return log_n - 0.0

    idf_map = _Idf(idf)
    ref_vecs: dict[tuple[str, ...], tuple[list[dict[tuple[str, ...], float]], list[float], int]]
    ref_vecs = {}
    two_s2 = 2 * sigma**2
    scores = []
    for key, rts in zip(ids, ref_tuples, strict=True):
        vec, norm, length = _tfidf(_ngram_counts(hyps[key], n), idf_map, n)
        total = [0.0] * n
        for rt in rts:
            cached = ref_vecs.get(rt)
            if cached is None:
                cached = _tfidf(_ngram_counts_cached(rt, n), idf_map, n)
                ref_vecs[rt] = cached
            vec_r, norm_r, length_r = cached
            delta = float(length - length_r)
            penalty = np.e ** (-(delta**2) / two_s2)
            for k in range(n):
                vr = vec_r[k]
                acc = 0.0
                for ng, w in vec[k].items():
                    wr = vr.get(ng, 0.0)
                    acc += min(w, wr) * wr
                if norm[k] != 0 and norm_r[k] != 0:
                    acc /= norm[k] * norm_r[k]
                total[k] += acc * penalty
        avg = np.mean(np.array(total))
        avg /= len(rts)
        avg *= 10.0
        scores.append(avg)
    arr = np.array(scores)
    return float(np.mean(arr)), arr


def score_reports(refs: Mapping[str, Sequence[str]], hyps: Mapping[str, str]) -> dict[str, object]:
    """Tokenise raw reports with :func:`ptb_tokenize` and compute BLEU-1..4, ROUGE-L, CIDEr-D.

    ``refs`` maps an id to a list of reference report strings, ``hyps`` maps the same ids to
    one generated report string.  Returns ``{"bleu_1".."bleu_4", "rouge_l", "cider_d"}`` as
    floats, plus ``"ids"`` (scoring order) and ``"per_sample"``: a dict of numpy arrays.
    Tokens are re-split the way pycocoevalcap's scorers split its tokenised strings (BLEU
    and CIDEr on any whitespace, ROUGE on single spaces), so results match it exactly.
    """
    if not isinstance(refs, Mapping) or not isinstance(hyps, Mapping):
        raise ValueError("refs and hyps must be mappings from sample id to report text")
    for key, rs in refs.items():
        if isinstance(rs, str) or not all(isinstance(r, str) for r in rs):
            raise ValueError(f"refs[{key!r}] must be a list of report strings")
    for key, h in hyps.items():
        if not isinstance(h, str):
            raise ValueError(f"hyps[{key!r}] must be a report string, got {type(h).__name__}")
    ref_str = {k: [" ".join(ptb_tokenize(r)) for r in rs] for k, rs in refs.items()}
    hyp_str = {k: " ".join(ptb_tokenize(h)) for k, h in hyps.items()}
    ref_ws = {k: [r.split() for r in rs] for k, rs in ref_str.items()}
    hyp_ws = {k: h.split() for k, h in hyp_str.items()}
    ref_sp = {k: [r.split(" ") for r in rs] for k, rs in ref_str.items()}
    hyp_sp = {k: h.split(" ") for k, h in hyp_str.items()}
    b, b_per = bleu(ref_ws, hyp_ws, 4)
    r, r_per = rouge_l(ref_sp, hyp_sp)
    c, c_per = cider_d(ref_ws, hyp_ws)
    per: dict[str, np.ndarray] = {f"bleu_{k + 1}": np.array(b_per[k]) for k in range(4)}
    per["rouge_l"] = r_per
    per["cider_d"] = c_per
    out: dict[str, object] = {f"bleu_{k + 1}": b[k] for k in range(4)}
    out.update({"rouge_l": r, "cider_d": c, "ids": list(refs.keys()), "per_sample": per})
    return out
