"""Paired tests and corrections against scipy and statsmodels on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import permutation_test

from medmine.core import MetricSet, MetricSpec
from medmine.report.stats import (
    compare,
    holm,
    mcnemar_exact,
    paired_bootstrap,
    paired_key,
    paired_permutation_test,
    patient_bootstrap_ci,
)
from medmine.tasks.registry import task_metrics

statsmodels = pytest.importorskip("statsmodels")
from statsmodels.stats.contingency_tables import mcnemar  # noqa: E402
from statsmodels.stats.multitest import multipletests  # noqa: E402


def _table(a: np.ndarray, b: np.ndarray) -> list[list[int]]:
    return [
        [int(np.sum((a == 1) & (b == 1))), int(np.sum((a == 1) & (b == 0)))],
        [int(np.sum((a == 0) & (b == 1))), int(np.sum((a == 0) & (b == 0)))],
    ]


@pytest.mark.parametrize("seed", range(8))
def test_mcnemar_matches_statsmodels_exact(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 120))
    a = (rng.random(n) < 0.7).astype(int)
    b = np.where(rng.random(n) < 0.3, 1 - a, a)
    ours = mcnemar_exact(a, b)
    ref = mcnemar(_table(a, b), exact=True)
    assert ours.p_value == pytest.approx(ref.pvalue, abs=1e-12)
    assert ours.difference == pytest.approx(a.mean() - b.mean())


def test_mcnemar_edge_cases_and_errors() -> None:
    assert mcnemar_exact([1, 0, 1], [1, 0, 1]).p_value == 1.0
    assert mcnemar_exact([1] * 10, [0] * 10).p_value == pytest.approx(2 * 0.5**10)
    with pytest.raises(ValueError, match="binary"):
        mcnemar_exact([0.5, 1], [1, 0])
    with pytest.raises(ValueError, match="length"):
        mcnemar_exact([1, 0], [1])


def _scipy_perm(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> float:
    res = permutation_test(
        (x, y),
        lambda u, v, axis: np.mean(u - v, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=n,
        rng=seed,
    )
    return float(res.pvalue)


@pytest.mark.parametrize("seed", range(6))
def test_exact_permutation_test_equals_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.random(11)
    y = x + rng.normal(0.1 * seed, 0.2, 11)
    ours = paired_permutation_test(x, y, n_resamples=5000)
    assert "exact" in ours.test
    assert ours.p_value == pytest.approx(_scipy_perm(x, y, 5000, 0), abs=1e-12)


def test_randomised_permutation_test_agrees_with_scipy() -> None:
    rng = np.random.default_rng(3)
    x = rng.random(300)
    y = x + rng.normal(0.01, 0.2, 300)
    ours = paired_permutation_test(x, y, n_resamples=20000, seed=1)
    ref = _scipy_perm(x, y, 20000, 1)
    assert 0.01 < ref < 0.6
    assert ours.p_value == pytest.approx(ref, abs=0.015)
    assert paired_permutation_test(x, y, n_resamples=2000, seed=5) == paired_permutation_test(
        x, y, n_resamples=2000, seed=5
    )


def test_permutation_p_values_are_uniform_under_the_null() -> None:
    rng = np.random.default_rng(2024)
    ps = []
    for i in range(200):
        a = rng.beta(2, 3, 40)
        b = rng.beta(2, 3, 40)
        ps.append(paired_permutation_test(a, b, n_resamples=999, seed=i).p_value)
    share = np.mean(np.array(ps) < 0.05)
    assert 0.02 <= share <= 0.09


def test_paired_bootstrap_false_positive_rate_and_interval() -> None:
    rng = np.random.default_rng(7)
    ps = []
    for i in range(200):
        base = rng.random(60)
        ps.append(paired_bootstrap(base + rng.normal(0, 0.1, 60), base, seed=i).p_value)
    assert 0.02 <= np.mean(np.array(ps) < 0.05) <= 0.10
    x = rng.random(200)
    res = paired_bootstrap(x + 0.1, x, seed=0)
    assert res.difference == pytest.approx(0.1)
    assert res.ci_low == pytest.approx(0.1) and res.ci_high == pytest.approx(0.1)
    assert res.p_value == 0.0


def test_paired_bootstrap_with_patients_and_a_ratio_statistic() -> None:
    rng = np.random.default_rng(1)
    counts_a = rng.integers(0, 5, (50, 3)).astype(float)
    counts_b = counts_a.copy()

    def f1(c: np.ndarray, idx: np.ndarray) -> float:
        tp, fp, fn = c[idx].sum(axis=0)
        return 2 * tp / (2 * tp + fp + fn)

    res = paired_bootstrap(
        counts_a, counts_b, statistic=f1, groups=[str(i // 2) for i in range(50)]
    )
    assert res.difference == 0.0 and res.p_value == 1.0
    with pytest.raises(ValueError, match="statistic"):
        paired_bootstrap(counts_a, counts_b)


@pytest.mark.parametrize("seed", range(5))
def test_holm_matches_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.random(int(rng.integers(1, 12))) ** 3
    reject, adjusted = holm(p, 0.05)
    ref_reject, ref_adj, _, _ = multipletests(p, alpha=0.05, method="holm")
    np.testing.assert_allclose(adjusted, ref_adj, atol=1e-12)
    assert (reject == ref_reject).all()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.1, 1.2])


def test_patient_bootstrap_ci_uses_the_metrics_bootstrap() -> None:
    from medmine.metrics.bootstrap import mean_ci

    values = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    pids = ["a", "a", "b", "b", None, "c"]
    lo, hi = patient_bootstrap_ci(values, pids, seed=3)
    groups = ["a", "a", "b", "b", "\x00sample4", "c"]
    assert (lo, hi) == mean_ci(values, groups=groups, seed=3)
    with pytest.raises(ValueError, match="patient ids"):
        patient_bootstrap_ci(values, pids[:2])


def test_compare_uses_only_shared_samples_and_the_fitting_test() -> None:
    a = {f"s{i}": {"correct": 1.0} for i in range(30)}
    b = {f"s{i}": {"correct": float(i % 2)} for i in range(25)}
    res = compare(a, b, "correct")
    assert res.test == "McNemar exact" and res.n == 25
    dice_a = {f"s{i}": {"dice": 0.8 + 0.001 * i} for i in range(20)}
    dice_b = {f"s{i}": {"dice": 0.5} for i in range(20)}
    res = compare(dice_a, dice_b, "dice")
    assert res.test.startswith("sign-flip") and res.p_value < 0.001
    det_a = {f"s{i}": {"tp": 2.0, "fp": 0.0, "fn": 0.0} for i in range(20)}
    det_b = {f"s{i}": {"tp": 0.0, "fp": 2.0, "fn": 2.0} for i in range(20)}
    assert compare(det_a, det_b, "tp/fp/fn").difference == pytest.approx(1.0)
    assert paired_key(task_metrics("detection"), ["fn", "fp", "tp"]) == "tp/fp/fn"
    assert paired_key(task_metrics("segmentation"), ["assd", "dice", "hd95", "iou"]) == "dice"
    assert paired_key(task_metrics("classification"), ["correct"]) == "correct"
    assert paired_key(task_metrics("report_generation"), ["ce_f1", "rouge_l"]) == "rouge_l"
    assert paired_key(MetricSet(MetricSpec("score", "score")), ["a", "b"]) is None
