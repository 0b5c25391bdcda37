"""Percentile bootstrap confidence intervals, resampling samples or whole patients."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def bootstrap_ci(
    statistic: Callable[[np.ndarray], float],
    n: int,
    *,
    groups: Sequence[str] | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """A seeded percentile bootstrap interval for ``statistic(indices)`` over ``n`` samples.

    ``statistic`` receives an array of sample indices (with repeats) and returns the metric on
    that resample. With ``groups`` (one patient id per sample) whole patients are resampled, so
    correlated images of one patient do not narrow the interval. Resamples on which the
    statistic is undefined (NaN) are left out.
    """
    if n == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    if groups is not None:
        if len(groups) != n:
            raise ValueError(f"groups has {len(groups)} entries for {n} samples")
        _, inverse = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
        members = [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)]
        n_groups = len(members)
    values = np.empty(n_resamples)
    for b in range(n_resamples):
        if groups is None:
            idx = rng.integers(0, n, n)
        else:
            picked = rng.integers(0, n_groups, n_groups)
            idx = np.concatenate([members[g] for g in picked])
        values[b] = statistic(idx)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return (float("nan"), float("nan"))
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(values, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def mean_ci(
    values: Sequence[float],
    *,
    groups: Sequence[str] | None = None,
    seed: int = 0,
    n_resamples: int = 1000,
) -> tuple[float, float]:
    """Bootstrap interval of the mean of per-sample values (accuracy, Dice, ...)."""
    arr = np.asarray(values, dtype=float)
    if groups is None:
        # Vectorised fast path: all resamples at once.
        if arr.size == 0:
            return (float("nan"), float("nan"))
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, arr.size, (n_resamples, arr.size))
        means = arr[idx].mean(axis=1)
        lo, hi = np.quantile(means, [0.025, 0.975])
        return (float(lo), float(hi))
    return bootstrap_ci(
        lambda i: float(arr[i].mean()), arr.size, groups=groups, seed=seed, n_resamples=n_resamples
    )
