"""The shared machinery of the n-gram report metrics: interned corpora and n-gram tables.

Each distinct token sequence of one evaluation is interned into integer token ids, and every
n-gram gets an integer id (:class:`NGramTable`); BLEU, ROUGE-L and CIDEr-D
(:mod:`medmine.metrics.nlg`) then count, clip and weight with numpy on sorted id arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, count

import numpy as np

Tokens = Sequence[str]
Seq = tuple[str, ...]

TINY = 1e-15
SMALL = 1e-9
I64 = np.int64

# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class Corpus:
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


def make_corpus(seqs: Sequence[Tokens], hyp: list[int], refs: list[list[int]]) -> Corpus:
    """Intern the tokens of ``seqs`` and pack the sample -> sequence indices into arrays."""
    flat = list(chain.from_iterable(seqs))
    index = dict(zip(dict.fromkeys(flat), count()))
    tok = np.fromiter(map(index.__getitem__, flat), I64, len(flat))
    start = np.zeros(len(seqs) + 1, I64)
    np.cumsum(np.fromiter(map(len, seqs), I64, len(seqs)), out=start[1:])
    nref = np.fromiter(map(len, refs), I64, len(refs))
    width = int(nref.max())
    ref_arr = np.full((len(refs), width), -1, I64)
    if width == 1:
        ref_arr[:, 0] = [r[0] for r in refs]
    else:
        ref_arr[np.repeat(np.arange(len(refs)), nref), ranks(nref)] = list(chain(*refs))
    return Corpus(tok, start, len(index), np.asarray(hyp, I64), ref_arr, nref)


def ranks(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c - 1 for every c in ``counts``, concatenated."""
    total = int(counts.sum())
    return np.arange(total, dtype=I64) - np.repeat(np.cumsum(counts) - counts, counts)


def expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the ranges ``lo[i]:hi[i]``; return (owner i, value) for every element."""
    cnt = hi - lo
    owner = np.repeat(np.arange(len(lo), dtype=I64), cnt)
    return owner, np.repeat(lo, cnt) + ranks(cnt)


def check_inputs(
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
class NGramTable:
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


def stable_order(values: np.ndarray, bound: int) -> np.ndarray:
    """Stable argsort of non-negative ints < ``bound``: LSD radix passes over 16-bit digits.

    numpy radix-sorts 16-bit keys in linear time; wider keys take two such passes (up to
    2**32) or fall back to numpy's stable sort.
    """
    if bound <= 1 << 16:
        return np.argsort(values.astype(np.uint16, copy=False), kind="stable")
    if bound <= 1 << 32:
        low = np.argsort((values & 0xFFFF).astype(np.uint16), kind="stable")
        high = np.argsort((values[low] >> 16).astype(np.uint16), kind="stable")
        return low[high]
    return np.argsort(values, kind="stable")


def unique_inverse(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` by a stable sort, which is near-linear when
    ``keys`` is already sorted by its high part (e.g. sequence-major keys)."""
    order = np.argsort(keys, kind="stable")
    ks = keys[order]
    new = np.empty(len(ks), bool)
    new[:1] = True
    np.not_equal(ks[1:], ks[:-1], out=new[1:])
    inverse = np.empty(len(ks), I64)
    inverse[order] = np.cumsum(new) - 1
    return ks[new], inverse


def ngram_tables(c: Corpus, n: int) -> list[NGramTable]:
    """Build the n-gram tables for orders 1..n over all distinct sequences of ``c``.

    The id of a k-gram is the rank of (id of its (k-1)-gram prefix, last token) among the
    distinct pairs.  Positions are kept sorted by (k-gram id, position); refining that
    order by the next token is a stable sort of an array already sorted by its high part,
    which timsort does in near-linear time, and a stable radix sort by sequence then gives
    the (sequence, gram, position) order of the table (no global sort per order).
    """
    n_seq = len(c.start) - 1
    n_tok = len(c.tok)
    sid = np.repeat(np.arange(n_seq, dtype=I64), c.lens)
    rem = c.start[1:][sid] - np.arange(n_tok, dtype=I64)  # tokens left from a position
    gid = c.tok  # k-gram id of every position (valid where rem >= k)
    perm = stable_order(c.tok, c.vocab)  # valid positions sorted by (gram id, position)
    sid_small = sid.astype(np.uint16) if n_seq <= 1 << 16 else sid  # less to gather
    n_grams = max(c.vocab, 1)
    tables = []
    for k in range(1, n + 1):
        if k > 1:
            perm = perm[rem[perm] >= k]
            # prefix ids are < n_tok and token ids < vocab <= n_tok: the key fits in int64.
            key = gid[perm] * c.vocab + c.tok[perm + (k - 1)]
            o = np.argsort(key, kind="stable")
            perm = perm[o]
            ks = key[o]
            new = np.empty(len(ks), bool)
            new[:1] = True
            np.not_equal(ks[1:], ks[:-1], out=new[1:])
            ids = np.cumsum(new) - 1
            gid = np.zeros(n_tok, I64)
            gid[perm] = ids
            n_grams = max(int(ids[-1]) + 1 if len(ids) else 0, 1)
        ordered = perm[stable_order(sid_small[perm], n_seq)]  # by (seq, gram, position)
        tables.append(_table(ordered, sid[ordered], gid[ordered], n_seq, n_grams))
    return tables


def _table(
    ordered: np.ndarray, sid: np.ndarray, gid: np.ndarray, n_seq: int, n_grams: int
) -> NGramTable:
    """The (sequence, gram) rows of one order from its positions in (seq, gram, pos) order."""
    ks = sid * n_grams + gid
    new = np.empty(len(ks), bool)
    new[:1] = True
    np.not_equal(ks[1:], ks[:-1], out=new[1:])
    rows = np.flatnonzero(new)
    count = np.diff(np.append(rows, len(ks)))
    # Row of every position; a row's first position is its smallest, so the rows of first
    # occurrences, read in position order, give pycocoevalcap's order.
    first = ordered[rows]
    size = int(ordered.max()) + 1 if len(ordered) else 0
    row_of = np.zeros(size, I64)
    row_of[first] = np.arange(len(rows), dtype=I64)
    is_first = np.zeros(size, bool)
    is_first[first] = True
    occ = row_of[is_first]
    row_start = np.searchsorted(sid[rows], np.arange(n_seq + 1))
    return NGramTable(ks[rows], gid[rows], count, occ, row_start, n_grams)


@dataclass(frozen=True)
class Matches:
    """The hypothesis n-grams of every sample and their rows in each reference's table."""

    sample: np.ndarray  # owning sample of every hypothesis n-gram (samples in order)
    row: np.ndarray  # its table row; per sample in first-occurrence order
    ref_row: list[np.ndarray]  # per reference slot j: table row in refs[s, j], or -1


def match_ngrams(c: Corpus, t: NGramTable, is_ref: np.ndarray) -> Matches:
    """Look every hypothesis n-gram up in each of the sample's references.

    Only rows of reference sequences (``is_ref``) are searched, which keeps the sorted key
    array small when references repeat.
    """
    sample, p = expand(t.row_start[c.hyp], t.row_start[c.hyp + 1])
    row = t.occ[p]
    gram = t.gram[row]
    lo, hi = t.row_start[:-1][is_ref], t.row_start[1:][is_ref]
    _, ref_rows_idx = expand(lo, hi)
    ref_keys = t.key[ref_rows_idx]
    in_refs = np.zeros(t.n_grams, bool)
    in_refs[t.gram[ref_rows_idx]] = True
    cand = np.flatnonzero(in_refs[gram])  # n-grams that occur in some reference at all
    ref_rows = []
    for j in range(c.refs.shape[1]):
        q = c.refs[sample[cand], j]
        keys = q * t.n_grams + gram[cand]
        found = np.full(len(row), -1, I64)
        if len(ref_keys):
            i = np.minimum(np.searchsorted(ref_keys, keys), len(ref_keys) - 1)
            ok = (q >= 0) & (ref_keys[i] == keys)
            found[cand[ok]] = ref_rows_idx[i[ok]]
        ref_rows.append(found)
    return Matches(sample, row, ref_rows)


def matches_of(c: Corpus, tables: list[NGramTable]) -> list[Matches]:
    """:func:`match_ngrams` for every n-gram order."""
    is_ref = np.zeros(len(c.start) - 1, bool)
    is_ref[c.refs[c.refs >= 0]] = True
    return [match_ngrams(c, t, is_ref) for t in tables]
