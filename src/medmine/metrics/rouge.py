"""ROUGE-L exactly as pycocoevalcap ``Rouge()`` computes it (see :mod:`medmine.metrics.nlg`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from medmine.metrics.nlg_corpus import (
    I64,
    Corpus,
    Tokens,
    check_inputs,
    expand,
    make_corpus,
    unique_inverse,
)

# --------------------------------------------------------------------------- ROUGE-L


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


def _popcount(x: np.ndarray) -> np.ndarray:
    """Number of set bits of every uint64."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).astype(I64)
    table = np.array([bin(i).count("1") for i in range(256)], I64)
    return table[x.view(np.uint8)].reshape(*x.shape, 8).sum(axis=-1)


def _lcs_pairs(c: Corpus, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """LCS lengths of sequence pairs (a[p], b[p]) by the bit-parallel algorithm.

    The longer sequence of each pair is encoded as 64-bit masks per token; the other is
    scanned token by token, all pairs at once: U = V & M[t]; V = (V + U) | (V - U).
    """
    lens = c.lens
    swap = lens[a] < lens[b]
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    la, lb = lens[a], lens[b]
    out = np.zeros(len(a), I64)
    if len(a) == 0:
        return out
    # Masks of every (distinct long sequence, token, word).
    ua, a_inv = np.unique(a, return_inverse=True)
    owner, posn = expand(c.start[ua], c.start[ua + 1])
    local = posn - c.start[ua][owner]
    mkey = owner * c.vocab + c.tok[posn]
    ukeys, row = unique_inverse(mkey)  # sequence-major keys
    n_words = int((la.max() + 63) // 64)
    masks = np.zeros((len(ukeys) + 1, n_words), np.uint64)  # last row: token absent
    bits = np.left_shift(np.uint64(1), (local % 64).astype(np.uint64))
    np.bitwise_or.at(masks, (row, local // 64), bits)
    words = (la + 63) // 64
    for w in np.unique(words).tolist():
        grp = np.flatnonzero(words == w)
        grp = grp[np.argsort(-lb[grp], kind="stable")]  # longest scans first
        g_lb = lb[grp]
        pair, posb = expand(c.start[b[grp]], c.start[b[grp] + 1])
        step = posb - c.start[b[grp]][pair]
        keys = a_inv[grp][pair] * c.vocab + c.tok[posb]
        i = np.minimum(np.searchsorted(ukeys, keys), len(ukeys) - 1)
        rows = np.where(ukeys[i] == keys, i, len(ukeys))
        order = np.lexsort((pair, step))
        rows = rows[order]
        active = np.searchsorted(-g_lb, -np.arange(int(g_lb.max())), side="left")
        offs = np.concatenate(([0], np.cumsum(active)))
        m = la[grp]
        full = np.zeros((len(grp), w), np.uint64)
        for wi in range(w):
            nb = np.clip(m - 64 * wi, 0, 64).astype(np.uint64)
            full[:, wi] = np.where(
                nb == 64, ~np.uint64(0), np.left_shift(np.uint64(1), nb % 64) - np.uint64(1)
            )
        v = full.copy()
        for j in range(len(active)):
            cnt = int(active[j])
            mj = masks[rows[offs[j] : offs[j] + cnt], :w]
            vc = v[:cnt]
            u = vc & mj
            if w == 1:
                v[:cnt] = (vc + u) | (vc & ~u)
                continue
            carry = np.zeros(cnt, np.uint64)
            for wi in range(w):
                vw, uw = vc[:, wi].copy(), u[:, wi]
                s = vw + uw
                c1 = s < vw
                s2 = s + carry
                carry = (c1 | (s2 < s)).astype(np.uint64)
                vc[:, wi] = s2 | (vw & ~uw)
        out[grp] = m - _popcount(v & full).sum(axis=1)
    return out


def _rouge(c: Corpus, beta: float) -> tuple[float, np.ndarray]:
    """ROUGE-L on a prepared corpus whose empty sequences are already ``("",)``."""
    n_samples, width = c.refs.shape
    has = c.refs >= 0
    s_idx = np.repeat(np.arange(n_samples), width)[has.ravel()]
    q = c.refs[has]
    pair_key = q * (len(c.start) - 1) + c.hyp[s_idx]
    upairs, inv = np.unique(pair_key, return_inverse=True)
    lcs_u = _lcs_pairs(c, upairs // (len(c.start) - 1), upairs % (len(c.start) - 1))
    lcs = np.zeros((n_samples, width))
    lcs[has] = lcs_u[inv]
    lens = c.lens.astype(float)
    prec = np.where(has, lcs / lens[c.hyp][:, None], -1.0).max(axis=1)
    rec = np.where(has, lcs / np.where(has, lens[c.refs], 1.0), -1.0).max(axis=1)
    b2 = beta**2
    ok = (prec != 0) & (rec != 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(ok, ((1 + b2) * prec * rec) / (rec + b2 * prec), 0.0)
    return float(np.mean(score)), score


def rouge_l(
    refs: Mapping[str, Sequence[Tokens]], hyps: Mapping[str, Tokens], beta: float = 1.2
) -> tuple[float, np.ndarray]:
    """Mean and per-sample ROUGE-L exactly as pycocoevalcap ``Rouge()``.

    Per sample: P = max_r LCS/|hyp|, R = max_r LCS/|ref|,
    score = (1 + beta^2) P R / (R + beta^2 P) (0 if P or R is 0).
    """
    _, seqs, h, r = check_inputs(refs, hyps, empty_as_blank=True)
    return _rouge(make_corpus(seqs, h, r), beta)
