"""Bootstrap intervals: the vectorised patient-level path, and coverage at the nominal rate."""

from __future__ import annotations

import numpy as np
import pytest

from medmine.metrics.bootstrap import bootstrap_ci, mean_ci


def test_vectorised_grouped_mean_equals_the_generic_resampler() -> None:
    rng = np.random.default_rng(1)
    values = rng.random(60)
    groups = [f"p{i // 3}" for i in range(60)]  # three images per patient
    fast = mean_ci(values, groups=groups, seed=7)
    slow = bootstrap_ci(lambda i: float(values[i].mean()), 60, groups=groups, seed=7)
    assert fast == pytest.approx(slow, abs=1e-12)


def test_patient_level_resampling_widens_the_interval_for_correlated_images() -> None:
    rng = np.random.default_rng(2)
    patient_effect = np.repeat(rng.normal(0, 1, 20), 5)  # 5 near-identical images per patient
    values = patient_effect + rng.normal(0, 0.05, 100)
    groups = [f"p{i // 5}" for i in range(100)]
    naive = mean_ci(values)
    grouped = mean_ci(values, groups=groups)
    assert (grouped[1] - grouped[0]) > 1.5 * (naive[1] - naive[0])


def test_interval_covers_the_true_mean_at_about_the_nominal_rate() -> None:
    rng = np.random.default_rng(3)
    p, n, trials = 0.3, 120, 400
    covered = 0
    for t in range(trials):
        x = (rng.random(n) < p).astype(float)
        lo, hi = mean_ci(x, seed=t, n_resamples=500)
        covered += lo <= p <= hi
    assert 0.91 <= covered / trials <= 0.98


def test_group_count_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="groups has 2 entries for 3 samples"):
        mean_ci([1.0, 2.0, 3.0], groups=["a", "b"])
