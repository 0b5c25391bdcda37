"""BLEU-1..4 exactly as pycocoevalcap ``Bleu(4)`` computes it (see :mod:`medmine.metrics.nlg`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from medmine.metrics.nlg_corpus import (
    I64,
    SMALL,
    TINY,
    Corpus,
    Matches,
    NGramTable,
    Tokens,
    check_inputs,
    make_corpus,
    matches_of,
    ngram_tables,
)

# --------------------------------------------------------------------------- BLEU


def _bleu(
    c: Corpus, tables: list[NGramTable], matches: list[Matches], n: int
) -> tuple[list[float], list[list[float]]]:
    """BLEU on a prepared corpus (see :func:`bleu`)."""
    n_samples = len(c.hyp)
    correct = np.zeros((n, n_samples), I64)
    for k in range(n):
        t, m = tables[k], matches[k]
        best = np.zeros(len(m.row), I64)
        for rr in m.ref_row:
            np.maximum(best, np.where(rr >= 0, t.count[rr], 0), out=best)
        clipped = np.minimum(t.count[m.row], best)
        correct[k] = np.bincount(m.sample, weights=clipped, minlength=n_samples).astype(I64)
    lens = c.lens
    testlen = lens[c.hyp]
    rl = np.where(c.refs >= 0, lens[c.refs], 0)
    big = int(rl.max()) + 1
    diff = np.abs(rl - testlen[:, None])
    comp = np.where(c.refs >= 0, diff * big + rl, np.iinfo(I64).max)
    reflen = comp.min(axis=1) % big  # min over (|r - c|, r): ties go to the shorter ref
    per = []
    score = np.ones(n_samples)
    for k in range(n):
        guess = np.maximum(testlen - k, 0)
        score = score * ((correct[k].astype(float) + TINY) / (guess.astype(float) + SMALL))
        e = 1.0 / (k + 1)
        per.append([x**e for x in score.tolist()])
    ratio = (testlen + TINY) / (reflen + SMALL)
    for s in np.flatnonzero(ratio < 1).tolist():
        bp = math.exp(1 - 1 / float(ratio[s]))
        for k in range(n):
            per[k][s] *= bp
    tot_test = int(testlen.sum())
    tot_ref = int(reflen.sum())
    corpus = []
    sc = 1.0
    for k in range(n):
        tot_correct = int(correct[k].sum())
        tot_guess = int(np.maximum(testlen - k, 0).sum())
        sc *= float(tot_correct + TINY) / (tot_guess + SMALL)
        corpus.append(sc ** (1.0 / (k + 1)))
    cratio = (tot_test + TINY) / (tot_ref + SMALL)
    if cratio < 1:
        for k in range(n):
            corpus[k] *= math.exp(1 - 1 / cratio)
    return corpus, per


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
    _, seqs, h, r = check_inputs(refs, hyps, empty_as_blank=False)
    c = make_corpus(seqs, h, r)
    tables = ngram_tables(c, n)
    return _bleu(c, tables, matches_of(c, tables), n)
