"""medmine.metrics.localization: hit tests, centres, normalised distance errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medmine.metrics.geometry import rasterize_box
from medmine.metrics.localization import (
    box_center,
    hit_rate,
    mean_normalized_distance_error,
    normalized_distance_error,
    point_in_region_hit,
)


def test_point_in_box_is_inclusive() -> None:
    box = (10, 20, 30, 40)
    assert point_in_region_hit((10, 20), box)
    assert point_in_region_hit((30, 40), box)
    assert point_in_region_hit((15.5, 39.9), box)
    assert not point_in_region_hit((30.01, 25), box)
    assert not point_in_region_hit((9.99, 25), np.array(box, float))


def test_point_in_mask_uses_containing_pixel() -> None:
    mask = np.zeros((5, 6), bool)
    mask[2, 3] = True
    assert point_in_region_hit((3.0, 2.0), mask)
    assert point_in_region_hit((3.99, 2.99), mask)
    assert not point_in_region_hit((4.0, 2.5), mask)
    assert not point_in_region_hit((-0.5, 2.5), mask)
    assert not point_in_region_hit((6.0, 0.0), mask.astype(np.uint8))
    # A box and its rasterised mask agree on pixel centres.
    box = (1.0, 1.0, 4.0, 3.0)
    m = rasterize_box(box, 5, 6)
    for r in range(5):
        for c in range(6):
            assert point_in_region_hit((c + 0.5, r + 0.5), m) == point_in_region_hit(
                (c + 0.5, r + 0.5), box
            )


def test_box_center_and_distance() -> None:
    assert box_center((0, 0, 10, 4)) == (5.0, 2.0)
    assert normalized_distance_error((0, 0), (40, 30), 30, 40) == 1.0
    assert normalized_distance_error((3, 4), (0, 0), 100, 100) == pytest.approx(
        5 / math.hypot(100, 100)
    )
    assert normalized_distance_error((7, 7), (7, 7), 10, 20) == 0.0


def test_rates_count_missing_answers_as_failures() -> None:
    boxes = [(0, 0, 10, 10), (0, 0, 10, 10), (0, 0, 10, 10), (0, 0, 10, 10)]
    points = [(5, 5), (50, 50), None, (10, 0)]
    assert hit_rate(points, boxes) == 0.5
    err = mean_normalized_distance_error([(0, 0), None], [(3, 4), (1, 1)], [(100, 100), (100, 100)])
    assert err == pytest.approx((5 / math.hypot(100, 100) + 1.0) / 2)


def test_bad_localisation_inputs() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        hit_rate([(1, 1)], [])
    with pytest.raises(ValueError, match="at least one"):
        hit_rate([], [])
    with pytest.raises(ValueError, match="x1 >= x0"):
        point_in_region_hit((1, 1), (5, 5, 1, 1))
    with pytest.raises(ValueError, match="region"):
        point_in_region_hit((1, 1), np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="point"):
        point_in_region_hit((1, float("nan")), (0, 0, 2, 2))
    with pytest.raises(ValueError, match="width"):
        normalized_distance_error((0, 0), (1, 1), 10, 0)
    with pytest.raises(ValueError, match="differ in length"):
        mean_normalized_distance_error([(0, 0)], [(1, 1)], [])
