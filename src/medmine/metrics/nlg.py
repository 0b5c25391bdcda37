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

How it is fast and still identical
----------------------------------
Each distinct token sequence is interned once per call into integer token ids, and every
n-gram gets an integer id (:class:`_NGramTable`); counting, clipping, document frequencies
and tf-idf dot products are then numpy operations on sorted id arrays.  Floating-point
results are kept bit-identical by doing exactly pycocoevalcap's operations in its order:
sums that pycocoevalcap accumulates left to right (tf-idf norms, CIDEr dot products) are
accumulated with ``np.bincount(..., weights=...)``, which adds in array order, over arrays
laid out in pycocoevalcap's iteration order (n-grams by first occurrence); powers, ``exp``
and ``log`` use the same scalar functions (Python/libm ``pow``, ``math.exp``, scalar
``np.log``) on the distinct values only.  ROUGE-L uses a bit-parallel LCS over 64-bit words,
vectorised across all (reference, hypothesis) pairs.  Nothing is cached between calls.

:func:`score_reports` tokenises raw report strings with :func:`ptb_tokenize` and returns all
three metrics.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from medmine.metrics.ptb_tokenize import tokenize_uncached

__all__ = ["bleu", "cider_d", "lcs_length", "rouge_l", "score_reports"]

Tokens = Sequence[str]
Seq = tuple[str, ...]

_TINY = 1e-15
_SMALL = 1e-9
_I64 = np.int64
_WHITESPACE = re.compile(r"\s")  # what str.split() splits on


# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class _Corpus:
    """Distinct token sequences of one evaluation as integer arrays, and who uses which.

    ``tok[start[q]:start[q + 1]]`` are the token ids of sequence ``q``; ``hyp[s]`` is the
    sequence of sample ``s``'s hypothesis and ``refs[s, j]`` of its j-th reference (-1 when
    the sample has fewer references).
    """

    tok: np.ndarray
    start: np.ndarray
    vocab: int
    hyp: np.ndarray
    refs: np.ndarray
    nref: np.ndarray

    @property
    def lens(self) -> np.ndarray:
        """Length of every distinct sequence."""
        return np.diff(self.start)


def _corpus(seqs: list[Seq], hyp: list[int], refs: list[list[int]]) -> _Corpus:
    """Intern the tokens of ``seqs`` and pack the sample -> sequence indices into arrays."""
    flat = list(chain.from_iterable(seqs))
    index = {t: i for i, t in enumerate(dict.fromkeys(flat))}
    tok = np.fromiter(map(index.__getitem__, flat), _I64, len(flat))
    start = np.zeros(len(seqs) + 1, _I64)
    np.cumsum(np.fromiter(map(len, seqs), _I64, len(seqs)), out=start[1:])
    nref = np.fromiter(map(len, refs), _I64, len(refs))
    width = int(nref.max())
    ref_arr = np.full((len(refs), width), -1, _I64)
    if width == 1:
        ref_arr[:, 0] = [r[0] for r in refs]
    else:
        ref_arr[np.repeat(np.arange(len(refs)), nref), _ranks(nref)] = list(chain(*refs))
    return _Corpus(tok, start, len(index), np.asarray(hyp, _I64), ref_arr, nref)


def _ranks(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c - 1 for every c in ``counts``, concatenated."""
    total = int(counts.sum())
    return np.arange(total, dtype=_I64) - np.repeat(np.cumsum(counts) - counts, counts)


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the ranges ``lo[i]:hi[i]``; return (owner i, value) for every element."""
    cnt = hi - lo
    owner = np.repeat(np.arange(len(lo), dtype=_I64), cnt)
    return owner, np.repeat(lo, cnt) + _ranks(cnt)


def _check_inputs(
    refs: Mapping[str, Sequence[Tokens]], hyps: Mapping[str, Tokens], empty_as_blank: bool
) -> tuple[list[str], list[Seq], list[int], list[list[int]]]:
    """Validate the refs/hyps mappings; return ids, distinct sequences and their indices.

    With ``empty_as_blank`` an empty token list becomes ``("",)`` (pycocoevalcap's ROUGE).
    """
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
    ids = list(refs.keys())
    table: dict[Seq, int] = {}
    hyp_idx: list[int] = []
    ref_idx: list[list[int]] = []
    for key in ids:
        hyp = hyps[key]
        if isinstance(hyp, str) or not isinstance(hyp, Sequence):
            raise ValueError(f"hyps[{key!r}] must be a list of token strings, got {hyp!r:.80}")
        h = tuple(hyp) or (("",) if empty_as_blank else ())
        hyp_idx.append(table.setdefault(h, len(table)))
        rs = refs[key]
        if isinstance(rs, str) or not isinstance(rs, Sequence) or len(rs) == 0:
            raise ValueError(f"refs[{key!r}] must be a non-empty list of token lists")
        row = []
        for r in rs:
            if isinstance(r, str) or not isinstance(r, Sequence):
                raise ValueError(f"refs[{key!r}] must contain token lists, got {r!r:.80}")
            t = tuple(r) or (("",) if empty_as_blank else ())
            row.append(table.setdefault(t, len(table)))
        ref_idx.append(row)
    seqs = list(table)
    if not set(map(type, chain.from_iterable(seqs))) <= {str}:
        for key in ids:
            if not all(isinstance(t, str) for t in hyps[key]):
                raise ValueError(f"hyps[{key!r}] must be a list of token strings")
            for r in refs[key]:
                if not all(isinstance(t, str) for t in r):
                    raise ValueError(f"refs[{key!r}] must contain lists of token strings")
    return ids, seqs, hyp_idx, ref_idx


# --------------------------------------------------------------------------- n-grams


@dataclass(frozen=True)
class _NGramTable:
    """Distinct (sequence, k-gram) pairs of one order k, sorted by (sequence, gram id).

    ``occ`` lists the rows in order of first occurrence (sequence by sequence), which is
    pycocoevalcap's dict iteration order; ``row_start[q]`` is the first row of sequence q
    in both orders.
    """

    key: np.ndarray  # seq * n_grams + gram, ascending
    gram: np.ndarray
    count: np.ndarray
    occ: np.ndarray
    row_start: np.ndarray
    n_grams: int


def _ngram_tables(c: _Corpus, n: int) -> list[_NGramTable]:
    """Build the n-gram tables for orders 1..n over all distinct sequences of ``c``."""
    n_seq = len(c.start) - 1
    sid = np.repeat(np.arange(n_seq, dtype=_I64), c.lens)
    pos = np.arange(len(c.tok), dtype=_I64)
    end = c.start[1:][sid]
    gid = c.tok
    n_grams = max(c.vocab, 1)
    tables = []
    for k in range(1, n + 1):
        if k > 1:
            keep = pos + (k - 1) < end
            pos, sid, end = pos[keep], sid[keep], end[keep]
            # ids of (k-1)-grams are < n_grams <= len(tok), so the key fits in int64.
            uniq, gid = np.unique(gid[keep] * c.vocab + c.tok[pos + k - 1], return_inverse=True)
            n_grams = max(len(uniq), 1)
        skey = sid * n_grams + gid
        order = np.argsort(skey, kind="stable")
        ks = skey[order]
        new = np.ones(len(ks), bool)
        new[1:] = ks[1:] != ks[:-1]
        rows = np.flatnonzero(new)
        key = ks[rows]
        count = np.diff(np.append(rows, len(ks)))
        # Row of every position; a row's first position is its smallest (stable sort), so
        # the rows of first occurrences, read in position order, give pycocoevalcap's order.
        row_of = np.empty(len(ks), _I64)
        row_of[order] = np.cumsum(new) - 1
        is_first = np.zeros(len(ks), bool)
        is_first[order[rows]] = True
        occ = row_of[is_first]
        row_start = np.searchsorted(key // n_grams, np.arange(n_seq + 1))
        tables.append(_NGramTable(key, key % n_grams, count, occ, row_start, n_grams))
    return tables


@dataclass(frozen=True)
class _Matches:
    """The hypothesis n-grams of every sample and their rows in each reference's table."""

    sample: np.ndarray  # owning sample of every hypothesis n-gram (samples in order)
    row: np.ndarray  # its table row; per sample in first-occurrence order
    ref_row: list[np.ndarray]  # per reference slot j: table row in refs[s, j], or -1


def _match(c: _Corpus, t: _NGramTable, is_ref: np.ndarray) -> _Matches:
    """Look every hypothesis n-gram up in each of the sample's references.

    Only rows of reference sequences (``is_ref``) are searched, which keeps the sorted key
    array small when references repeat.
    """
    sample, p = _expand(t.row_start[c.hyp], t.row_start[c.hyp + 1])
    row = t.occ[p]
    gram = t.gram[row]
    lo, hi = t.row_start[:-1][is_ref], t.row_start[1:][is_ref]
    _, ref_rows_idx = _expand(lo, hi)
    ref_keys = t.key[ref_rows_idx]
    in_refs = np.zeros(t.n_grams, bool)
    in_refs[t.gram[ref_rows_idx]] = True
    cand = np.flatnonzero(in_refs[gram])  # n-grams that occur in some reference at all
    ref_rows = []
    for j in range(c.refs.shape[1]):
        q = c.refs[sample[cand], j]
        keys = q * t.n_grams + gram[cand]
        found = np.full(len(row), -1, _I64)
        if len(ref_keys):
            i = np.minimum(np.searchsorted(ref_keys, keys), len(ref_keys) - 1)
            ok = (q >= 0) & (ref_keys[i] == keys)
            found[cand[ok]] = ref_rows_idx[i[ok]]
        ref_rows.append(found)
    return _Matches(sample, row, ref_rows)


def _matches(c: _Corpus, tables: list[_NGramTable]) -> list[_Matches]:
    """:func:`_match` for every n-gram order."""
    is_ref = np.zeros(len(c.start) - 1, bool)
    is_ref[c.refs[c.refs >= 0]] = True
    return [_match(c, t, is_ref) for t in tables]


# --------------------------------------------------------------------------- BLEU


def _bleu(
    c: _Corpus, tables: list[_NGramTable], matches: list[_Matches], n: int
) -> tuple[list[float], list[list[float]]]:
    """BLEU on a prepared corpus (see :func:`bleu`)."""
    n_samples = len(c.hyp)
    correct = np.zeros((n, n_samples), _I64)
    for k in range(n):
        t, m = tables[k], matches[k]
        best = np.zeros(len(m.row), _I64)
        for rr in m.ref_row:
            np.maximum(best, np.where(rr >= 0, t.count[rr], 0), out=best)
        clipped = np.minimum(t.count[m.row], best)
        correct[k] = np.bincount(m.sample, weights=clipped, minlength=n_samples).astype(_I64)
    lens = c.lens
    testlen = lens[c.hyp]
    rl = np.where(c.refs >= 0, lens[c.refs], 0)
    big = int(rl.max()) + 1
    diff = np.abs(rl - testlen[:, None])
    comp = np.where(c.refs >= 0, diff * big + rl, np.iinfo(_I64).max)
    reflen = comp.min(axis=1) % big  # min over (|r - c|, r): ties go to the shorter ref
    per = []
    score = np.ones(n_samples)
    for k in range(n):
        guess = np.maximum(testlen - k, 0)
        score = score * ((correct[k].astype(float) + _TINY) / (guess.astype(float) + _SMALL))
        e = 1.0 / (k + 1)
        per.append([x**e for x in score.tolist()])
    ratio = (testlen + _TINY) / (reflen + _SMALL)
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
        sc *= float(tot_correct + _TINY) / (tot_guess + _SMALL)
        corpus.append(sc ** (1.0 / (k + 1)))
    cratio = (tot_test + _TINY) / (tot_ref + _SMALL)
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
    _, seqs, h, r = _check_inputs(refs, hyps, empty_as_blank=False)
    c = _corpus(seqs, h, r)
    tables = _ngram_tables(c, n)
    return _bleu(c, tables, _matches(c, tables), n)


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
        return np.bitwise_count(x).astype(_I64)
    table = np.array([bin(i).count("1") for i in range(256)], _I64)
    return table[x.view(np.uint8)].reshape(*x.shape, 8).sum(axis=-1)


def _lcs_pairs(c: _Corpus, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """LCS lengths of sequence pairs (a[p], b[p]) by the bit-parallel algorithm.

    The longer sequence of each pair is encoded as 64-bit masks per token; the other is
    scanned token by token, all pairs at once: U = V & M[t]; V = (V + U) | (V - U).
    """
    lens = c.lens
    swap = lens[a] < lens[b]
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    la, lb = lens[a], lens[b]
    out = np.zeros(len(a), _I64)
    if len(a) == 0:
        return out
    # Masks of every (distinct long sequence, token, word).
    ua, a_inv = np.unique(a, return_inverse=True)
    owner, posn = _expand(c.start[ua], c.start[ua + 1])
    local = posn - c.start[ua][owner]
    mkey = owner * c.vocab + c.tok[posn]
    ukeys, row = np.unique(mkey, return_inverse=True)
    n_words = int((la.max() + 63) // 64)
    masks = np.zeros((len(ukeys) + 1, n_words), np.uint64)  # last row: token absent
    bits = np.left_shift(np.uint64(1), (local % 64).astype(np.uint64))
    np.bitwise_or.at(masks, (row, local // 64), bits)
    words = (la + 63) // 64
    for w in np.unique(words).tolist():
        grp = np.flatnonzero(words == w)
        grp = grp[np.argsort(-lb[grp], kind="stable")]  # longest scans first
        g_lb = lb[grp]
        pair, posb = _expand(c.start[b[grp]], c.start[b[grp] + 1])
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


def _rouge(c: _Corpus, beta: float) -> tuple[float, np.ndarray]:
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
    _, seqs, h, r = _check_inputs(refs, hyps, empty_as_blank=True)
    return _rouge(_corpus(seqs, h, r), beta)


# --------------------------------------------------------------------------- CIDEr-D


def _cider(
    c: _Corpus, tables: list[_NGramTable], matches: list[_Matches], n: int, sigma: float
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
    set_id = np.repeat(np.arange(len(sets), dtype=_I64), has.sum(axis=1))
    hyp_w_rows: list[np.ndarray] = []
    seq_norm = np.zeros((n, n_seq))
    tf_w: list[np.ndarray] = []
    for k in range(n):
        t = tables[k]
        row_seq = np.repeat(np.arange(n_seq, dtype=_I64), np.diff(t.row_start))
        df = np.bincount(t.gram, weights=single_w[row_seq], minlength=t.n_grams)
        if len(sets):
            owner, rows = _expand(t.row_start[set_q], t.row_start[set_q + 1])
            u = np.sort(set_id[owner] * t.n_grams + t.gram[rows])
            keep = np.ones(len(u), bool)
            keep[1:] = u[1:] != u[:-1]
            u = u[keep]
            df += np.bincount(u % t.n_grams, weights=mult[u // t.n_grams], minlength=t.n_grams)
        df_int = df.astype(_I64)
        # idf and weights per distinct (df, tf) value, computed as pycocoevalcap does.
        df_vals = np.flatnonzero(np.bincount(df_int))
        idf_vals = [log_n - np.log(max(1.0, float(d))) for d in df_vals.tolist()]
        tf_vals = np.flatnonzero(np.bincount(t.count))
        shape = (len(tf_vals), len(df_vals))
        w_tab = np.array([[float(tf) * i for i in idf_vals] for tf in tf_vals.tolist()], float)
        w_tab = w_tab.reshape(shape)
        w2_tab = np.array([[pow(x, 2) for x in r] for r in w_tab.tolist()], float).reshape(shape)
        ti = np.searchsorted(tf_vals, t.count)
        di = np.searchsorted(df_vals, df_int[t.gram])
        w = w_tab[ti, di]
        w2 = w2_tab[ti, di]
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
    _, seqs, h, r = _check_inputs(refs, hyps, empty_as_blank=False)
    c = _corpus(seqs, h, r)
    tables = _ngram_tables(c, n)
    return _cider(c, tables, _matches(c, tables), n, sigma)


# --------------------------------------------------------------------------- raw reports


def score_reports(refs: Mapping[str, Sequence[str]], hyps: Mapping[str, str]) -> dict[str, object]:
    """Tokenise raw reports with :func:`ptb_tokenize` and compute BLEU-1..4, ROUGE-L, CIDEr-D.

    ``refs`` maps an id to a list of reference report strings, ``hyps`` maps the same ids to
    one generated report string.  Returns ``{"bleu_1".."bleu_4", "rouge_l", "cider_d"}`` as
    floats, plus ``"ids"`` (scoring order) and ``"per_sample"``: a dict of numpy arrays.
    Tokens are re-split the way pycocoevalcap's scorers split its tokenised strings (BLEU
    and CIDEr on any whitespace, ROUGE on single spaces), so results match it exactly.
    Each distinct text is tokenised once per call; nothing is cached between calls.
    """
    if not isinstance(refs, Mapping) or not isinstance(hyps, Mapping):
        raise ValueError("refs and hyps must be mappings from sample id to report text")
    for key, rs in refs.items():
        if isinstance(rs, str) or not all(isinstance(r, str) for r in rs):
            raise ValueError(f"refs[{key!r}] must be a list of report strings")
    for key, h in hyps.items():
        if not isinstance(h, str):
            raise ValueError(f"hyps[{key!r}] must be a report string, got {type(h).__name__}")
    if len(refs) == 0:
        raise ValueError("refs is empty: nothing to score")
    if refs.keys() != hyps.keys():
        raise ValueError("refs and hyps must have the same ids")
    ids = list(refs.keys())
    if any(len(refs[k]) == 0 for k in ids):
        raise ValueError("every sample needs at least one reference report")
    text_idx: dict[str, int] = {}
    hyp = [text_idx.setdefault(hyps[k], len(text_idx)) for k in ids]
    ref = [[text_idx.setdefault(r, len(text_idx)) for r in refs[k]] for k in ids]
    toks = [tokenize_uncached(t) for t in text_idx]
    if _WHITESPACE.search("".join(chain.from_iterable(toks))) is None:
        # pycocoevalcap re-splits " ".join(tokens): a no-op unless a token holds whitespace
        # (CoreNLP joins "5 7/8" with U+00A0) or, for ROUGE's split(" "), there are none.
        ws: list[Seq] = [tuple(t) for t in toks]
        sp: list[Seq] = [s or ("",) for s in ws]
    else:
        joined = [" ".join(t) for t in toks]
        ws = [tuple(s.split()) for s in joined]
        sp = [tuple(s.split(" ")) for s in joined]
    c = _corpus(ws, hyp, ref)
    tables = _ngram_tables(c, 4)
    matches = _matches(c, tables)
    b, b_per = _bleu(c, tables, matches, 4)
    cd, c_per = _cider(c, tables, matches, 4, 6.0)
    if sp == ws:  # no empty sequences and no odd whitespace: same corpus
        r, r_per = _rouge(c, 1.2)
    else:
        r, r_per = _rouge(_corpus(sp, hyp, ref), 1.2)
    per: dict[str, np.ndarray] = {f"bleu_{k + 1}": np.array(b_per[k]) for k in range(4)}
    per["rouge_l"] = r_per
    per["cider_d"] = c_per
    out: dict[str, object] = {f"bleu_{k + 1}": b[k] for k in range(4)}
    out.update({"rouge_l": r, "cider_d": cd, "ids": ids, "per_sample": per})
    return out
