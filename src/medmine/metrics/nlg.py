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
n-gram gets an integer id (:class:`NGramTable`: the k-gram ids come from refining the
(k-1)-gram order by the next token with a stable sort of nearly sorted keys, and a radix
sort by sequence gives each table's row order); counting, clipping, document frequencies
and tf-idf dot products are then numpy operations on sorted id arrays.  Floating-point
results are kept bit-identical by doing exactly pycocoevalcap's operations in its order:
sums that pycocoevalcap accumulates left to right (tf-idf norms, CIDEr dot products) are
accumulated with ``np.bincount(..., weights=...)``, which adds in array order, over arrays
laid out in pycocoevalcap's iteration order (n-grams by first occurrence); powers, ``exp``
and ``log`` use the same scalar functions (Python/libm ``pow``, ``math.exp``, scalar
``np.log``) on the distinct values only.  ROUGE-L uses a bit-parallel LCS over 64-bit words,
vectorised across all (reference, hypothesis) pairs.  No n-gram or score is cached between
calls; only the tokeniser's fast path remembers (bounded) the tokens of text chunks and
sentence pieces, which never changes a result.

:func:`score_reports` tokenises raw report strings with :func:`ptb_tokenize` and returns all
three metrics.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import chain

import numpy as np

from medmine.metrics.bleu import _bleu, bleu
from medmine.metrics.cider import _cider, cider_d
from medmine.metrics.nlg_corpus import Tokens, make_corpus, matches_of, ngram_tables
from medmine.metrics.ptb_tokenize import tokenize_flagged
from medmine.metrics.rouge import _rouge, lcs_length, rouge_l

__all__ = ["bleu", "cider_d", "lcs_length", "rouge_l", "score_reports"]

_WHITESPACE = re.compile(r"\s")  # what str.split() splits on


# --------------------------------------------------------------------------- raw reports


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for one scoring call.

    Tokenising a corpus allocates hundreds of thousands of token lists and tuples, and the
    tokeniser's memos keep many of them; each allocation burst makes the collector traverse
    them again (about a tenth of the CPU time of a call on 22,000 distinct reports).  The
    call creates no reference cycles, so nothing is left for the collector; it is resumed
    (if it was running) when the call returns or raises.  Other threads run without cyclic
    collection meanwhile; reference counting still frees everything they drop.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@_gc_paused()
def score_reports(refs: Mapping[str, Sequence[str]], hyps: Mapping[str, str]) -> dict[str, object]:
    """Tokenise raw reports with :func:`ptb_tokenize` and compute BLEU-1..4, ROUGE-L, CIDEr-D.

    ``refs`` maps an id to a list of reference report strings, ``hyps`` maps the same ids to
    one generated report string.  Returns ``{"bleu_1".."bleu_4", "rouge_l", "cider_d"}`` as
    floats, plus ``"ids"`` (scoring order) and ``"per_sample"``: a dict of numpy arrays.
    Tokens are re-split the way pycocoevalcap's scorers split its tokenised strings (BLEU
    and CIDEr on any whitespace, ROUGE on single spaces), so results match it exactly.
    Each distinct text is tokenised once per call (the tokeniser's bounded chunk and
    sentence memos persist between calls; results never depend on them).
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
    flagged = list(map(tokenize_flagged, text_idx))
    toks = [t for t, _ in flagged]
    lexed = [t for t, full in flagged if full]
    if _WHITESPACE.search("".join(chain.from_iterable(lexed))) is None:
        # pycocoevalcap re-splits " ".join(tokens): a no-op unless a token holds whitespace
        # (CoreNLP joins "5 7/8" with U+00A0) or, for ROUGE's split(" "), there are none.
        ws: list[Tokens] = toks
        sp: list[Tokens] = toks if all(toks) else [s or ("",) for s in toks]
    else:
        joined = [" ".join(t) for t in toks]
        ws = [s.split() for s in joined]
        sp = [s.split(" ") for s in joined]
    c = make_corpus(ws, hyp, ref)
    tables = ngram_tables(c, 4)
    matches = matches_of(c, tables)
    b, b_per = _bleu(c, tables, matches, 4)
    cd, c_per = _cider(c, tables, matches, 4, 6.0)
    if sp is ws:  # no empty sequences and no odd whitespace: same corpus
        r, r_per = _rouge(c, 1.2)
    else:
        r, r_per = _rouge(make_corpus(sp, hyp, ref), 1.2)
    per: dict[str, np.ndarray] = {f"bleu_{k + 1}": np.array(b_per[k]) for k in range(4)}
    per["rouge_l"] = r_per
    per["cider_d"] = c_per
    out: dict[str, object] = {f"bleu_{k + 1}": b[k] for k in range(4)}
    out.update({"rouge_l": r, "cider_d": cd, "ids": ids, "per_sample": per})
    return out
