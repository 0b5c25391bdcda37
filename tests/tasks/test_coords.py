"""Tests for medmine.tasks.coords: coordinate conventions and conversions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medmine.tasks.coords import (
    BOX_CONVENTIONS,
    CONVENTIONS,
    DEFAULT_CONVENTION,
    POINT_CONVENTIONS,
    ImageGeometry,
    box_from_pixels,
    box_to_pixels,
    convention_name,
    describe,
    parse_convention,
    pixels_per_unit,
    point_from_pixels,
    point_to_pixels,
    polygon_from_pixels,
    polygon_to_pixels,
    resolution,
)

GEO = ImageGeometry(width=800, height=600)


def test_convention_lists_cover_every_scale_and_order() -> None:
    """Each scale has a box and a point name in both axis orders."""
    assert len(CONVENTIONS) == 16
    assert len(BOX_CONVENTIONS) == len(POINT_CONVENTIONS) == 8
    assert DEFAULT_CONVENTION == "norm1000_xyxy"
    for name in ("norm1000_xyxy", "norm1000_yxyx", "pixel_xyxy", "norm1_xyxy", "percent_xyxy"):
        assert name in BOX_CONVENTIONS


@pytest.mark.parametrize("name", CONVENTIONS)
def test_parse_convention_round_trips_through_convention_name(name: str) -> None:
    """Splitting a name and building it again gives the same name."""
    spec = parse_convention(name)
    shape = "box" if name in BOX_CONVENTIONS else "point"
    assert convention_name(spec.scale, spec.order, shape) == name


@pytest.mark.parametrize("bad", ["", "norm1000", "xyxy", "NORM1000_XYXY", "pixels_xyxy"])
def test_unknown_convention_is_rejected_by_name(bad: str) -> None:
    """An unknown convention raises a ValueError that names it."""
    with pytest.raises(ValueError, match="unknown coordinate convention"):
        parse_convention(bad)


@pytest.mark.parametrize(
    ("scale", "order", "shape"), [("mm", "xy", "box"), ("pixel", "xz", "box"), ("pixel", "xy", "x")]
)
def test_convention_name_rejects_bad_parts(scale: str, order: str, shape: str) -> None:
    """Each part of a convention name is validated."""
    with pytest.raises(ValueError):
        convention_name(scale, order, shape)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("width", "height"), [(0, 10), (10, -1), (10.5, 10), (True, 10), ("10", 10)]
)
def test_image_geometry_rejects_bad_sizes(width: object, height: object) -> None:
    """Only positive integer sizes make an ImageGeometry."""
    with pytest.raises(ValueError, match="ImageGeometry"):
        ImageGeometry(width, height)  # type: ignore[arg-type]


def test_image_geometry_is_frozen_and_hashable() -> None:
    """Geometries are values: equal by content, hashable, immutable."""
    assert ImageGeometry(3, 4) == ImageGeometry(3, 4)
    assert len({ImageGeometry(3, 4), ImageGeometry(3, 4)}) == 1
    with pytest.raises(AttributeError):
        GEO.width = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("convention", "written", "pixels"),
    [
        ("norm1000_xyxy", [100, 250, 500, 1000], (80.0, 150.0, 400.0, 600.0)),
        ("norm1000_yxyx", [250, 100, 1000, 500], (80.0, 150.0, 400.0, 600.0)),
        ("norm1_xyxy", [0.1, 0.25, 0.5, 1.0], (80.0, 150.0, 400.0, 600.0)),
        ("norm1_yxyx", [0.25, 0.1, 1.0, 0.5], (80.0, 150.0, 400.0, 600.0)),
        ("percent_xyxy", [10, 25, 50, 100], (80.0, 150.0, 400.0, 600.0)),
        ("percent_yxyx", [25, 10, 100, 50], (80.0, 150.0, 400.0, 600.0)),
        ("pixel_xyxy", [80, 150, 400, 600], (80.0, 150.0, 400.0, 600.0)),
        ("pixel_yxyx", [150, 80, 600, 400], (80.0, 150.0, 400.0, 600.0)),
    ],
)
def test_box_to_pixels_known_values(
    convention: str, written: list[float], pixels: tuple[float, ...]
) -> None:
    """Hand-computed conversions on an 800x600 image, for every box convention."""
    assert box_to_pixels(written, convention, GEO) == pytest.approx(pixels)
    assert box_from_pixels(pixels, convention, GEO) == pytest.approx(written)


def test_point_conversion_uses_pixel_edges_and_axis_order() -> None:
    """The image corners map to 0 and the full side; yx swaps the pair."""
    assert point_to_pixels([1000, 1000], "norm1000_xy", GEO) == (800.0, 600.0)
    assert point_to_pixels([0, 0], "norm1000_xy", GEO) == (0.0, 0.0)
    assert point_to_pixels([500, 250], "norm1000_yx", GEO) == (200.0, 300.0)
    assert point_from_pixels((200.0, 300.0), "percent_yx", GEO) == (50.0, 25.0)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_unrounded_conversion_is_an_exact_inverse(convention: str) -> None:
    """Without rounding, to_pixels(from_pixels(p)) gives p back for every convention."""
    rng = np.random.default_rng(7)
    geo = ImageGeometry(1337, 911)
    pts = rng.uniform(0, 1, size=(50, 2)) * [geo.width, geo.height]
    written = polygon_from_pixels(pts, convention, geo, rounded=False)
    np.testing.assert_allclose(polygon_to_pixels(written, convention, geo), pts, rtol=1e-12)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_rounded_conversion_stays_within_resolution(convention: str) -> None:
    """Rounding to the written precision moves a point by at most ``resolution``."""
    rng = np.random.default_rng(11)
    geo = ImageGeometry(1920, 1072)
    pts = rng.uniform(0, 1, size=(200, 2)) * [geo.width, geo.height]
    back = polygon_to_pixels(polygon_from_pixels(pts, convention, geo), convention, geo)
    rx, ry = resolution(convention, geo)
    assert np.all(np.abs(back[:, 0] - pts[:, 0]) <= rx + 1e-9)
    assert np.all(np.abs(back[:, 1] - pts[:, 1]) <= ry + 1e-9)


def test_rounding_precision_per_scale() -> None:
    """Integer scales give Python ints; norm1 keeps 3 decimals and percent 1."""
    px = (123.456, 78.9, 400.0, 599.0)
    n1000 = box_from_pixels(px, "norm1000_xyxy", GEO)
    assert all(isinstance(v, int) for v in n1000)
    assert n1000 == (154, 132, 500, 998)
    assert box_from_pixels(px, "pixel_xyxy", GEO) == (123, 79, 400, 599)
    assert box_from_pixels(px, "norm1_xyxy", GEO) == (0.154, 0.132, 0.5, 0.998)
    assert box_from_pixels(px, "percent_xyxy", GEO) == (15.4, 13.2, 50.0, 99.8)


def test_resolution_and_pixels_per_unit() -> None:
    """Half a written step, in pixels, per axis."""
    assert resolution("norm1000_xyxy", GEO) == pytest.approx((0.4, 0.3))
    assert resolution("pixel_xy", GEO) == (0.5, 0.5)
    assert resolution("norm1_yx", GEO) == pytest.approx((0.4, 0.3))
    assert resolution("percent_xyxy", GEO) == pytest.approx((0.4, 0.3))
    assert pixels_per_unit("percent", GEO) == (8.0, 6.0)
    with pytest.raises(ValueError, match="unknown scale"):
        pixels_per_unit("inch", GEO)


def test_box_and_point_names_of_one_spec_convert_alike() -> None:
    """``norm1000_yxyx`` and ``norm1000_yx`` are the same convention for points."""
    a = polygon_to_pixels([[10, 20], [30, 40]], "norm1000_yxyx", GEO)
    b = polygon_to_pixels([[10, 20], [30, 40]], "norm1000_yx", GEO)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: box_to_pixels([1, 2, 3], "pixel_xyxy", GEO), "4 numbers"),
        (lambda: box_from_pixels([1, 2, 3, 4, 5], "pixel_xyxy", GEO), "4 numbers"),
        (lambda: point_to_pixels([1], "pixel_xy", GEO), "2 numbers"),
        (lambda: point_from_pixels([1, 2, 3], "pixel_xy", GEO), "2 numbers"),
        (lambda: polygon_to_pixels([1, 2, 3], "pixel_xy", GEO), "pairs"),
        (lambda: polygon_to_pixels([[1, 2, 3]], "pixel_xy", GEO), "pairs"),
        (lambda: polygon_to_pixels([[1, math.nan]], "pixel_xy", GEO), "NaN"),
        (lambda: box_to_pixels([1, 2, 3, math.inf], "pixel_xyxy", GEO), "NaN or infinite"),
    ],
)
def test_bad_geometry_input_raises_clear_errors(call: object, match: str) -> None:
    """Wrong lengths and non-finite numbers raise ValueError naming the problem."""
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_describe_states_order_and_scale(convention: str) -> None:
    """The prompt text names the layout of the array and the range of the numbers."""
    text = describe(convention)
    spec = parse_convention(convention)
    layout = {
        ("xy", True): "[x_min, y_min, x_max, y_max]",
        ("yx", True): "[y_min, x_min, y_max, x_max]",
        ("xy", False): "[x, y]",
        ("yx", False): "[y, x]",
    }[(spec.order, convention in BOX_CONVENTIONS)]
    assert layout in text
    words = {"norm1000": "0 to 1000", "norm1": "0.0 to 1.0", "percent": "0 to 100"}
    assert words.get(spec.scale, "pixel") in text
    assert "top-left" in text


def test_describe_pixel_mentions_image_size() -> None:
    """A pixel prompt can tell the model how large the image is."""
    text = describe("pixel_xyxy", ImageGeometry(512, 384))
    assert "512 pixels wide" in text
    assert "384 pixels high" in text
