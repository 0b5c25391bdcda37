"""Bootstrap intervals drawn in blocks equal the one-shot draws of the original formula."""

from __future__ import annotations

import numpy as np
import pytest

from medmine.metrics import bootstrap


def _one_shot_mean_ci(values: np.ndarray, seed: int = 0) -> tuple[float, float]:
    idx = np.random.default_rng(seed).integers(0, values.size, (1000, values.size))
    alpha = (1 - 0.95) / 2  # as the library computes it, to the last bit
    lo, hi = np.quantile(values[idx].mean(axis=1), [alpha, 1 - alpha])
    return float(lo), float(hi)


@pytest.mark.parametrize("n", [1, 7, 333, 4001, 20001])
def test_blocks_give_the_one_shot_interval(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    if n > 100:  # blocks of 16 rows and a shorter last one (real runs split above ~1,000)
        monkeypatch.setattr(bootstrap, "_BLOCK_CELLS", 16 * n + 3)
    values = np.random.default_rng(n).random(n)
    assert bootstrap.mean_ci(values) == _one_shot_mean_ci(values)
    want = bootstrap.resample_indices(n, 1000, np.random.default_rng(0))
    got = list(bootstrap.iter_resamples(n, 1000, np.random.default_rng(0)))
    assert all((a == b).all() for a, b in zip(want, got, strict=True))
    groups = [str(i // 3) for i in range(n)]
    want = bootstrap.resample_indices(n, 1000, np.random.default_rng(0), groups)
    got = list(bootstrap.iter_resamples(n, 1000, np.random.default_rng(0), groups))
    assert all((a == b).all() for a, b in zip(want, got, strict=True))
