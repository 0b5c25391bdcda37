"""Agreement between raters (pure numpy/scipy).

- :func:`binary_kappa`: Cohen's kappa of two binary raters, (p_o - p_e) / (1 - p_e), with p_o
  the observed agreement and p_e the agreement expected by chance from each rater's positive
  rate; NaN when p_e = 1 (both raters constant and equal), as scikit-learn returns then.
- :func:`icc1`: one-way random-effects intraclass correlation ICC(1,1) (Shrout & Fleiss,
  1979, case 1): n targets each rated k times by interchangeable raters (here: repeats of one
  judge), ``(MSB - MSW) / (MSB + (k - 1) MSW)``. 1 means repeats always agree.
- :func:`exact_agreement`: share of targets whose k ratings are all identical.
- :func:`correlations`: Kendall's tau-b and Spearman's rho with their p-values (scipy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def binary_kappa(x: np.ndarray, y: np.ndarray) -> float:
    """Cohen's kappa of two boolean vectors of the same length (NaN when empty or undefined)."""
    x, y = np.asarray(x, dtype=bool), np.asarray(y, dtype=bool)
    if x.shape != y.shape:
        raise ValueError(f"raters differ in length: {x.shape} vs {y.shape}")
    if x.size == 0:
        return math.nan
    po = float(np.mean(x == y))
    px, py = float(np.mean(x)), float(np.mean(y))
    pe = px * py + (1 - px) * (1 - py)
    return (po - pe) / (1 - pe) if pe < 1 else math.nan


def icc1(ratings: np.ndarray | Sequence[Sequence[float]]) -> float:
    """ICC(1,1) of an (n targets, k ratings) array; NaN when undefined (n < 2, k < 2, or
    no variance at all)."""
    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"ratings must be (targets, ratings), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("ratings contain NaN or infinite values")
    n, k = x.shape
    if n < 2 or k < 2:
        return float("nan")
    grand = x.mean()
    msb = k * ((x.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    msw = ((x - x.mean(axis=1, keepdims=True)) ** 2).sum() / (n * (k - 1))
    denom = msb + (k - 1) * msw
    if denom == 0:
        return 1.0 if msw == 0 else float("nan")
    return float((msb - msw) / denom)


def exact_agreement(ratings: np.ndarray | Sequence[Sequence[float]]) -> float:
    """Share of targets whose ratings are all equal (NaN with no target)."""
    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2 or x.shape[0] == 0:
        return float("nan")
    return float(np.mean(np.all(x == x[:, :1], axis=1)))


def correlations(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """Kendall tau-b and Spearman rho of two paired vectors, with p-values (NaN when n < 3
    or one side is constant)."""
    from scipy import stats

    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired ratings must be 1-D and equal in length: {x.shape}, {y.shape}")
    nan = float("nan")
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"kendall_tau": nan, "kendall_p": nan, "spearman_rho": nan, "spearman_p": nan}
    tau = stats.kendalltau(x, y)
    rho = stats.spearmanr(x, y)
    out = {
        "kendall_tau": float(tau.statistic),
        "kendall_p": float(tau.pvalue),
        "spearman_rho": float(rho.statistic),
        "spearman_p": float(rho.pvalue),
    }
    return {k: (v if not math.isnan(v) else nan) for k, v in out.items()}
