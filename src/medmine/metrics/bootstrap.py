"""Percentile bootstrap confidence intervals, resampling samples or whole patients."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np


def resample_indices(
    n: int,
    n_resamples: int,
    rng: np.random.Generator,
    groups: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """Index arrays of bootstrap resamples: of samples, or of whole groups (patients)."""
    if groups is None:
        return list(rng.integers(0, n, (n_resamples, n)))
    if len(groups) != n:
        raise ValueError(f"groups has {len(groups)} entries for {n} samples")
    _, inverse = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    n_groups = int(inverse.max()) + 1
    if n_groups == n:  # every sample its own group: the plain bootstrap
        return list(rng.integers(0, n, (n_resamples, n)))
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(n_groups))
    members = np.split(order, starts[1:])
    picks = rng.integers(0, n_groups, (n_resamples, n_groups))
    return [np.concatenate([members[g] for g in row]) for row in picks]


_BLOCK_CELLS = 1 << 20  # resample draws held at once (8 MB of int64), whatever n is


def _draws(
    rng: np.random.Generator, high: int, n_resamples: int, width: int
) -> Iterator[np.ndarray]:
    """``rng.integers(0, high, (n_resamples, width))`` in blocks of rows: the same numbers in
    the same order (the generator is sequential), in memory bounded by ``_BLOCK_CELLS``."""
    rows = max(1, _BLOCK_CELLS // max(width, 1))
    for start in range(0, n_resamples, rows):
        yield rng.integers(0, high, (min(rows, n_resamples - start), width))


def iter_resamples(
    n: int,
    n_resamples: int,
    rng: np.random.Generator,
    groups: Sequence[str] | None = None,
) -> Iterator[np.ndarray]:
    """The index arrays :func:`resample_indices` returns, one at a time (bounded memory)."""
    if groups is None:
        for block in _draws(rng, n, n_resamples, n):
            yield from block
        return
    if len(groups) != n:
        raise ValueError(f"groups has {len(groups)} entries for {n} samples")
    _, inverse = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    n_groups = int(inverse.max()) + 1
    if n_groups == n:
        for block in _draws(rng, n, n_resamples, n):
            yield from block
        return
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(n_groups))
    members = np.split(order, starts[1:])
    for block in _draws(rng, n_groups, n_resamples, n_groups):
        for row in block:
            yield np.concatenate([members[g] for g in row])


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
    values = np.array([statistic(idx) for idx in iter_resamples(n, n_resamples, rng, groups)])
    return _percentiles(values, confidence)


def mean_ci(
    values: Sequence[float],
    *,
    groups: Sequence[str] | None = None,
    seed: int = 0,
    n_resamples: int = 1000,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Bootstrap interval of the mean of per-sample values (accuracy, Dice, ...).

    Vectorised: with groups, each resample's mean is the sum of the picked groups' sums over
    the sum of their sizes, which equals the mean over the concatenated members.
    """
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    if groups is None:
        means = [arr[idx].mean(axis=1) for idx in _draws(rng, arr.size, n_resamples, arr.size)]
        return _percentiles(np.concatenate(means), confidence)
    if len(groups) != arr.size:
        raise ValueError(f"groups has {len(groups)} entries for {arr.size} samples")
    _, inverse = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    n_groups = int(inverse.max()) + 1
    sums = np.bincount(inverse, weights=arr, minlength=n_groups)
    sizes = np.bincount(inverse, minlength=n_groups).astype(float)
    ratios = [
        sums[picks].sum(axis=1) / sizes[picks].sum(axis=1)
        for picks in _draws(rng, n_groups, n_resamples, n_groups)
    ]
    return _percentiles(np.concatenate(ratios), confidence)


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    values = values[~np.isnan(values)]
    if values.size == 0:
        return (float("nan"), float("nan"))
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(values, [alpha, 1 - alpha])
    return (float(lo), float(hi))
