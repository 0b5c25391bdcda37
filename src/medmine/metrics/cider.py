"""CIDEr-D exactly as pycocoevalcap ``Cider()`` computes it (see :mod:`medmine.metrics.nlg`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from medmine.metrics.nlg_corpus import (
    I64,
    Corpus,
    Matches,
    NGramTable,
    Tokens,
    check_inputs,
    expand,
    make_corpus,
    matches_of,
    ngram_tables,
)

# --------------------------------------------------------------------------- CIDEr-D


def _cider(
    c: Corpus, tables: list[NGramTable], matches: list[Matches], n: int, sigma: float
) -> tuple[float, np.ndarray]:
    """CIDEr-D on a prepared corpus (see :func:`cider_d`)."""
    n_samples, width = c.refs.shape
    n_seq = len(c.start) - 1
    log_n = np.log(float(n_samples))
    # df counts each sample once per n-gram of its references.  Samples whose references
    # are all one sequence add that sequence's n-grams; the others are deduplicated as
    # reference sets, whose n-gram unions are counted with the sets' multiplicities.
    refs = c.refs
    one = np.all((refs == refs[:, :1]) | (refs < 0), axis=1)
    single_w = np.bincount(refs[one, 0], minlength=n_seq).astype(float)
    sets, mult = np.unique(refs[~one], axis=0, return_counts=True)
    has = sets >= 0
    set_q = sets[has]
    set_id = np.repeat(np.arange(len(sets), dtype=I64), has.sum(axis=1))
    hyp_w_rows: list[np.ndarray] = []
    seq_norm = np.zeros((n, n_seq))
    tf_w: list[np.ndarray] = []
    for k in range(n):
        t = tables[k]
        row_seq = np.repeat(np.arange(n_seq, dtype=I64), np.diff(t.row_start))
        df = np.bincount(t.gram, weights=single_w[row_seq], minlength=t.n_grams)
        if len(sets):
            owner, rows = expand(t.row_start[set_q], t.row_start[set_q + 1])
            # set-major input: timsort merges its runs in near-linear time
            u = np.sort(set_id[owner] * t.n_grams + t.gram[rows], kind="stable")
            keep = np.ones(len(u), bool)
            keep[1:] = u[1:] != u[:-1]
            u = u[keep]
            df += np.bincount(u % t.n_grams, weights=mult[u // t.n_grams], minlength=t.n_grams)
        df_int = df.astype(I64)
        # idf and weights per distinct (df, tf) value, computed as pycocoevalcap does.
        df_vals = np.flatnonzero(np.bincount(df_int))
        idf_vals = [log_n - np.log(max(1.0, float(d))) for d in df_vals.tolist()]
        tf_vals = np.flatnonzero(np.bincount(t.count))
        shape = (len(tf_vals), len(df_vals))
        w_tab = np.array([[float(tf) * i for i in idf_vals] for tf in tf_vals.tolist()], float)
        w_tab = w_tab.reshape(shape)
        w2_tab = np.array([[pow(x, 2) for x in r] for r in w_tab.tolist()], float).reshape(shape)
        # flat index into the (tf, df) tables through lookup arrays (no binary searches)
        tf_lut = np.zeros(int(tf_vals[-1]) + 1 if len(tf_vals) else 1, I64)
        tf_lut[tf_vals] = np.arange(len(tf_vals), dtype=I64) * len(df_vals)
        df_lut = np.zeros(int(df_vals[-1]) + 1 if len(df_vals) else 1, I64)
        df_lut[df_vals] = np.arange(len(df_vals), dtype=I64)
        cell = tf_lut[t.count] + df_lut[df_int][t.gram]
        w = w_tab.ravel()[cell]
        w2 = w2_tab.ravel()[cell]
        occ_seq = row_seq[t.occ]
        seq_norm[k] = np.sqrt(np.bincount(occ_seq, weights=w2[t.occ], minlength=n_seq))
        tf_w.append(w)
        hyp_w_rows.append(w[matches[k].row])
    length = np.maximum(c.lens - 1, 0).astype(float)  # bigram positions (pycocoevalcap quirk)
    two_s2 = 2 * sigma**2
    score = np.zeros((n_samples, n))
    for j in range(width):
        has = c.refs[:, j] >= 0
        q = np.where(has, c.refs[:, j], 0)
        delta = length[c.hyp] - length[q]
        uniq, inv = np.unique(delta, return_inverse=True)
        penalty = np.array([np.e ** (-(float(d) ** 2) / two_s2) for d in uniq.tolist()])[inv]
        for k in range(n):
            m = matches[k]
            hit = np.flatnonzero(m.ref_row[j] >= 0)  # absent n-grams add exactly 0.0
            wr = tf_w[k][m.ref_row[j][hit]]
            terms = np.minimum(hyp_w_rows[k][hit], wr) * wr
            val = np.bincount(m.sample[hit], weights=terms, minlength=n_samples)
            nh, nr = seq_norm[k][c.hyp], seq_norm[k][q]
            nz = (nh != 0) & (nr != 0)
            val = np.where(nz, val / np.where(nz, nh * nr, 1.0), val)
            val = val * penalty
            score[:, k] = np.where(has, score[:, k] + val, score[:, k])
    avg = np.mean(score, axis=1)  # same per-row reduction as np.mean on each row
    avg /= c.nref
    avg *= 10.0
    return float(np.mean(avg)), avg


def cider_d(
    refs: Mapping[str, Sequence[Tokens]],
    hyps: Mapping[str, Tokens],
    n: int = 4,
    sigma: float = 6.0,
) -> tuple[float, np.ndarray]:
    """Mean and per-sample CIDEr-D exactly as pycocoevalcap ``Cider()`` (see module doc)."""
    if n < 1 or sigma <= 0:
        raise ValueError(f"need n >= 1 and sigma > 0, got n={n}, sigma={sigma}")
    _, seqs, h, r = check_inputs(refs, hyps, empty_as_blank=False)
    c = make_corpus(seqs, h, r)
    tables = ngram_tables(c, n)
    return _cider(c, tables, matches_of(c, tables), n, sigma)
