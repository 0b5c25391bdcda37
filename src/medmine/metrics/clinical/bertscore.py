"""BERTScore (Zhang et al., ICLR 2020) from token embeddings: greedy cosine matching.

For a candidate x and a reference y with contextual token embeddings (one layer of the
model, special tokens included) normalised to unit length, and importance weights w
(IDF, or 1; 0 for [CLS]/[SEP]) normalised to sum to 1 on each side::

    P = sum_i w(x_i) max_j cos(x_i, y_j)      R = sum_j w(y_j) max_i cos(x_i, y_j)
    F = 2 P R / (P + R)                        (0 when undefined)

[CLS] and [SEP] take part in the max (as in the ``bert_score`` package) but weigh 0. A
text with no token besides the special ones scores P = R = F = 0. IDF over the references:
``idf(t) = log((M + 1) / (df(t) + 1))`` with M references and df the number holding t.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np


def idf_weights(reference_ids: Sequence[Sequence[int]]) -> Callable[[int], float]:
    """IDF of a token id over the references (ids unseen in them: ``log(M + 1)``)."""
    m = len(reference_ids)
    df: Counter[int] = Counter()
    for ids in reference_ids:
        df.update(set(ids))
    default = math.log(m + 1)
    table = {t: math.log((m + 1) / (c + 1)) for t, c in df.items()}
    return lambda t: table.get(t, default)


def token_weights(
    ids: Sequence[int], special: set[int], idf: Callable[[int], float] | None
) -> np.ndarray:
    """One weight per token: 0 for special tokens, IDF (or 1) for the others."""
    return np.array([0.0 if t in special else (idf(t) if idf else 1.0) for t in ids])


def greedy_match(
    hyp_emb: np.ndarray, hyp_w: np.ndarray, ref_emb: np.ndarray, ref_w: np.ndarray
) -> tuple[float, float, float]:
    """(P, R, F) of one candidate against one reference (embeddings (tokens, dim))."""
    h = np.asarray(hyp_emb, dtype=np.float64)
    r = np.asarray(ref_emb, dtype=np.float64)
    if h.ndim != 2 or r.ndim != 2 or h.shape[1] != r.shape[1]:
        raise ValueError(f"embeddings must be (tokens, dim) alike; got {h.shape} and {r.shape}")
    if not (hyp_w > 0).any() or not (ref_w > 0).any():
        return 0.0, 0.0, 0.0
    h = h / np.linalg.norm(h, axis=1, keepdims=True)
    r = r / np.linalg.norm(r, axis=1, keepdims=True)
    sim = h @ r.T
    p = float((sim.max(axis=1) * (hyp_w / hyp_w.sum())).sum())
    rc = float((sim.max(axis=0) * (ref_w / ref_w.sum())).sum())
    f = 2 * p * rc / (p + rc) if (p + rc) != 0 else 0.0
    return p, rc, (0.0 if math.isnan(f) else f)
