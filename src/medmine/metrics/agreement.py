"""Agreement between two binary raters: Cohen's kappa (pure numpy).

kappa = (p_o - p_e) / (1 - p_e), with p_o the observed agreement and p_e the agreement
expected by chance from each rater's positive rate; NaN when p_e = 1 (both raters constant
and equal), as scikit-learn's ``cohen_kappa_score`` returns then.
"""

from __future__ import annotations

import math

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
