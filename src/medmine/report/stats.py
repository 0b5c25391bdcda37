"""Paired significance tests and intervals for comparing models on the same samples (numpy/scipy).

- :func:`mcnemar_exact`: paired binary outcomes (correct / wrong), the exact two-sided binomial
  test on the discordant pairs.
- :func:`paired_permutation_test`: the sign-flip permutation test of the mean paired difference
  (exact enumeration when all sign patterns fit in ``n_resamples``, else seeded Monte Carlo).
- :func:`paired_bootstrap`: a seeded paired bootstrap of the difference of a statistic (the mean
  by default, or any statistic of resampled indices), optionally resampling whole patients.
- :func:`holm`: Holm's step-down adjustment of a family of p-values.
- :func:`patient_bootstrap_ci`: the bootstrap interval of a mean resampling whole patients.
- :func:`compare`: the right paired test for two models' per-sample scores, on the samples both
  models have.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from medmine.core import MetricSet
from medmine.metrics.bootstrap import mean_ci, resample_indices

# Relative tolerance when comparing null statistics with the observed one (float sums differ in
# the last bits between equal-valued permutations).
_RTOL = 1e-12


@dataclass(frozen=True)
class TestResult:
    """The outcome of one paired test: the observed difference (a - b), its p-value, the test."""

    __test__ = False  # not a pytest class

    difference: float
    p_value: float
    test: str
    n: int
    ci_low: float | None = None
    ci_high: float | None = None


def _paired(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> tuple:
    """Validate two paired score vectors: same length, 1-D, finite."""
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"paired scores must be 1-D; got shapes {x.shape} and {y.shape}")
    if x.shape != y.shape:
        raise ValueError(f"paired scores differ in length: {x.size} and {y.size}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("paired scores contain NaN or infinite values")
    return x, y


def mcnemar_exact(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> TestResult:
    """McNemar's exact test for paired binary outcomes (1 = correct, 0 = wrong).

    With ``n01`` pairs where only b is right and ``n10`` where only a is right, the two-sided
    p-value is ``min(1, 2 * BinomCDF(min(n01, n10); n01 + n10, 1/2))``; the difference reported
    is the accuracy difference ``mean(a) - mean(b)``.
    """
    from scipy.stats import binom

    x, y = _paired(a, b)
    if not (np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all()):
        raise ValueError("mcnemar_exact needs binary outcomes (0 or 1) for both models")
    n10 = int(np.sum((x == 1) & (y == 0)))
    n01 = int(np.sum((x == 0) & (y == 1)))
    discordant = n10 + n01
    p = 1.0 if discordant == 0 else min(1.0, 2.0 * float(binom.cdf(min(n01, n10), discordant, 0.5)))
    diff = float(x.mean() - y.mean()) if x.size else float("nan")
    return TestResult(diff, p, "McNemar exact", int(x.size))


def paired_permutation_test(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    n_resamples: int = 9999,
    seed: int = 0,
) -> TestResult:
    """Two-sided sign-flip permutation test of the mean paired difference ``mean(a - b)``.

    Under the null each pair's difference is as likely positive as negative. When all
    ``2**n`` sign patterns fit in ``n_resamples`` they are enumerated (exact p-value: twice
    the smaller tail share); otherwise ``n_resamples`` seeded patterns are drawn and each tail
    is ``(count + 1) / (n_resamples + 1)`` (the observed value counts as one of the null draws),
    the conventions of ``scipy.stats.permutation_test``.
    """
    x, y = _paired(a, b)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    d = x - y
    n = d.size
    if n == 0:
        return TestResult(float("nan"), 1.0, "sign-flip permutation", 0)
    observed = float(d.mean())
    exact = n < 63 and 2**n <= n_resamples
    if exact:
        codes = np.arange(2**n, dtype=np.int64)
        signs = 1.0 - 2.0 * ((codes[:, None] >> np.arange(n)) & 1)
        null = signs @ d / n
        adjust = 0
    else:
        rng = np.random.default_rng(seed)
        null = np.empty(n_resamples)
        total = float(d.sum())
        batch = max(1, min(n_resamples, 4_000_000 // max(n, 1)))
        for start in range(0, n_resamples, batch):
            k = min(batch, n_resamples - start)
            # one random bit per sign: flipping the set bits gives sum(d) - 2 * (bits @ d)
            bits = np.unpackbits(np.frombuffer(rng.bytes(k * n // 8 + 1), np.uint8))
            flips = bits[: k * n].reshape(k, n).astype(float) @ d
            null[start : start + k] = (total - 2.0 * flips) / n
        adjust = 1
    tol = _RTOL * max(abs(observed), float(np.abs(d).mean()))
    less = (np.sum(null <= observed + tol) + adjust) / (null.size + adjust)
    greater = (np.sum(null >= observed - tol) + adjust) / (null.size + adjust)
    p = float(min(1.0, 2.0 * min(less, greater)))
    return TestResult(observed, p, "sign-flip permutation" + (" (exact)" if exact else ""), n)


def paired_bootstrap(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    statistic: Callable[[np.ndarray, np.ndarray], float] | None = None,
    groups: Sequence[str] | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> TestResult:
    """Paired bootstrap of ``stat(a) - stat(b)``: resample samples (or patients) jointly.

    ``statistic(values, idx)`` computes the metric of one model on a resample given as indices
    (default: the mean). ``a`` and ``b`` may be 2-D (one row per sample, e.g. tp/fp/fn counts)
    when a statistic is given. Returns the observed difference, the percentile interval and a
    two-sided bootstrap p-value ``min(1, 2 * min(P(d* <= 0), P(d* >= 0)))``.
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim not in (1, 2):
        raise ValueError(f"paired scores must have one equal shape; got {x.shape} and {y.shape}")
    if statistic is None:
        if x.ndim != 1:
            raise ValueError("2-D paired scores need a statistic")
        x, y = _paired(x, y)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    n = x.shape[0]
    if n == 0:
        return TestResult(float("nan"), 1.0, "paired bootstrap", 0)
    rng = np.random.default_rng(seed)
    if statistic is None and groups is None:
        d = x - y
        observed = float(d.mean())
        idx = rng.integers(0, n, (n_resamples, n))
        boot = d[idx].mean(axis=1)
    else:
        stat = statistic or (lambda v, i: float(v[i].mean()))
        everyone = np.arange(n)
        observed = float(stat(x, everyone) - stat(y, everyone))
        boot = np.array(
            [stat(x, i) - stat(y, i) for i in resample_indices(n, n_resamples, rng, groups)]
        )
    boot = boot[~np.isnan(boot)]
    if boot.size == 0:
        return TestResult(observed, 1.0, "paired bootstrap", n)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    p = float(min(1.0, 2.0 * min(np.mean(boot <= 0), np.mean(boot >= 0))))
    return TestResult(observed, p, "paired bootstrap", n, float(lo), float(hi))


def holm(p_values: Sequence[float], alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down correction: (reject at ``alpha``, adjusted p-values), input order.

    The i-th smallest p-value (0-based) is multiplied by ``m - i``; adjusted values are made
    monotone with a running maximum and capped at 1.
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-D, got shape {p.shape}")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p_values must lie in [0, 1] (no NaN)")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    adjusted = np.empty(m)
    adjusted[order] = scaled
    return adjusted <= alpha, adjusted


def patient_bootstrap_ci(
    values: Sequence[float],
    patient_ids: Sequence[str | None] | None = None,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """The bootstrap interval of a mean of per-sample values, resampling whole patients.

    A sample without a patient id is its own patient. Without ids it is the plain bootstrap.
    """
    groups = None
    if patient_ids is not None:
        if len(patient_ids) != len(values):
            raise ValueError(f"{len(patient_ids)} patient ids for {len(values)} values")
        groups = [pid if pid is not None else f"\x00sample{i}" for i, pid in enumerate(patient_ids)]
    return mean_ci(values, groups=groups, seed=seed, n_resamples=n_resamples, confidence=confidence)


# --------------------------------------------------------------------------- model comparison


def paired_key(declared: MetricSet, keys: Sequence[str]) -> str | None:
    """The per-sample score to compare two models on, from the task's metric declaration.

    The headline's declared per-sample value when the rows have it; a corpus-level headline
    (AP50, corpus BLEU, macro F1 over labels) declares its closest per-sample counterpart
    (``"tp/fp/fn"``: per-image counts whose corpus F1 is bootstrapped). Failing that, the
    first secondary metric whose per-sample value the rows have; None when none fits.
    """
    have = set(keys)
    for spec in declared.all():
        key = spec.per_sample
        if key == "tp/fp/fn" and {"tp", "fp", "fn"} <= have:
            return key
        if key is not None and key in have:
            return key
    if declared.headline.key in have:
        return declared.headline.key
    return None


def _f1_from_counts(counts: np.ndarray, idx: np.ndarray) -> float:
    """Corpus F1 from summed per-sample (tp, fp, fn) counts of a resample."""
    tp, fp, fn = counts[idx].sum(axis=0)
    denom = 2 * tp + fp + fn
    return float(2 * tp / denom) if denom else float("nan")


def compare(
    per_sample_a: Mapping[str, Mapping[str, float]],
    per_sample_b: Mapping[str, Mapping[str, float]],
    key: str,
    *,
    seed: int = 0,
    n_resamples: int = 9999,
) -> TestResult:
    """Compare two models on the samples both have (same ids), with the test that fits the key.

    Binary scores (0/1 only) get McNemar's exact test; tp/fp/fn counts get a paired bootstrap
    of the corpus F1; other continuous scores the sign-flip permutation test of the mean.
    Samples where either model lacks the key or has a non-finite value are left out.
    """
    common = sorted(set(per_sample_a) & set(per_sample_b))
    if key == "tp/fp/fn":
        cols = ("tp", "fp", "fn")
        ids = [
            s for s in common if all(c in per_sample_a[s] and c in per_sample_b[s] for c in cols)
        ]
        xa = np.array([[per_sample_a[s][c] for c in cols] for s in ids], dtype=float).reshape(-1, 3)
        xb = np.array([[per_sample_b[s][c] for c in cols] for s in ids], dtype=float).reshape(-1, 3)
        res = paired_bootstrap(
            xa, xb, statistic=_f1_from_counts, n_resamples=min(n_resamples, 2000), seed=seed
        )
        return TestResult(res.difference, res.p_value, "paired bootstrap of F1@0.5", res.n)
    xa_l, xb_l = [], []
    for s in common:
        va, vb = per_sample_a[s].get(key), per_sample_b[s].get(key)
        if va is None or vb is None or not (np.isfinite(va) and np.isfinite(vb)):
            continue
        xa_l.append(va)
        xb_l.append(vb)
    xa, xb = np.asarray(xa_l, dtype=float), np.asarray(xb_l, dtype=float)
    if np.isin(xa, (0.0, 1.0)).all() and np.isin(xb, (0.0, 1.0)).all():
        return mcnemar_exact(xa, xb)
    return paired_permutation_test(xa, xb, n_resamples=n_resamples, seed=seed)
