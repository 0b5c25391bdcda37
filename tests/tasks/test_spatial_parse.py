"""Tests for medmine.tasks.spatial_parse: reading geometry from free-text model answers."""

from __future__ import annotations

import json
import math
import os
import random
import string
from pathlib import Path

import numpy as np
import pytest

from medmine.tasks.coords import (
    BOX_CONVENTIONS,
    POINT_CONVENTIONS,
    ImageGeometry,
    box_from_pixels,
    parse_convention,
    point_from_pixels,
    polygon_from_pixels,
    resolution,
)
from medmine.tasks.spatial_parse import KINDS, Box, SpatialAnswer, parse_spatial

GEO = ImageGeometry(width=800, height=600)
REALDATA = Path(
    os.environ.get(
        "MEDMINE_REALDATA", Path(__file__).resolve().parents[2] / ".." / "shared/realdata"
    )
)


def _box(ans: SpatialAnswer, i: int = 0) -> tuple[float, float, float, float]:
    """The i-th box of an answer as a plain tuple."""
    b = ans.boxes[i]
    return (b.x0, b.y0, b.x1, b.y1)


def _tol(convention: str, geo: ImageGeometry) -> np.ndarray:
    """Per-coordinate tolerance (x, y, x, y) for one rounding step of ``convention``."""
    rx, ry = resolution(convention, geo)
    return np.array([rx, ry, rx, ry]) + 1e-6


# ---------------------------------------------------------------- round trips, every convention


def _random_boxes(rng: random.Random, geo: ImageGeometry, n: int) -> list[tuple[float, ...]]:
    """Random pixel boxes at least 5% of the image in size (so percent values exceed 1)."""
    boxes = []
    for _ in range(n):
        w = rng.uniform(0.05, 0.6) * geo.width
        h = rng.uniform(0.05, 0.6) * geo.height
        x0 = rng.uniform(0, geo.width - w)
        y0 = rng.uniform(0, geo.height - h)
        boxes.append((x0 + w * 0.5, y0 + h * 0.5, x0 + w, y0 + h))
    return boxes


@pytest.mark.parametrize("convention", BOX_CONVENTIONS)
def test_box_round_trip_every_convention(convention: str) -> None:
    """A pixel box written in convention C and parsed with C comes back within rounding."""
    rng = random.Random(convention)
    for _ in range(30):
        geo = ImageGeometry(rng.randint(200, 2500), rng.randint(200, 2500))
        for px in _random_boxes(rng, geo, 2):
            answer = json.dumps({"bbox": list(box_from_pixels(px, convention, geo))})
            ans = parse_spatial(answer, "box", geo, expected=convention)
            assert ans.status == "ok", (answer, ans.notes)
            assert np.all(np.abs(np.array(_box(ans)) - px) <= _tol(convention, geo))
            assert ans.convention_seen == convention


@pytest.mark.parametrize("convention", POINT_CONVENTIONS)
def test_polygon_round_trip_every_convention(convention: str) -> None:
    """A pixel polygon written in convention C and parsed with C comes back within rounding."""
    rng = np.random.default_rng(sum(map(ord, convention)))
    geo = ImageGeometry(1280, 720)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 40))
    pts = np.c_[640 + 300 * np.cos(angles), 360 + 200 * np.sin(angles)]
    written = polygon_from_pixels(pts, convention, geo).tolist()
    ans = parse_spatial(json.dumps({"polygon": written}), "polygon", geo, expected=convention)
    assert ans.status == "ok", ans.notes
    back = np.array(ans.polygons[0])
    rx, ry = resolution(convention, geo)
    assert back.shape == pts.shape
    assert np.all(np.abs(back - pts) <= [rx + 1e-6, ry + 1e-6])
    assert ans.convention_seen == convention


@pytest.mark.parametrize("convention", POINT_CONVENTIONS)
def test_point_round_trip_every_convention(convention: str) -> None:
    """A pixel point written in convention C and parsed with C comes back within rounding."""
    geo = ImageGeometry(1000, 700)
    px = (612.3, 245.8)
    written = list(point_from_pixels(px, convention, geo))
    ans = parse_spatial(json.dumps(written), "point", geo, expected=convention)
    assert ans.status == "ok", ans.notes
    rx, ry = resolution(convention, geo)
    assert abs(ans.points[0][0] - px[0]) <= rx + 1e-6
    assert abs(ans.points[0][1] - px[1]) <= ry + 1e-6


# ---------------------------------------------------------------- real annotations


def _realdata(sub: str) -> Path:
    """Path of a real-data folder, skipping the test when it is absent."""
    path = REALDATA / sub
    if not path.exists():
        pytest.skip(f"real data folder {path} not found (set MEDMINE_REALDATA)")
    return path


@pytest.mark.parametrize(
    "convention", ["norm1000_xyxy", "norm1000_yxyx", "norm1_xyxy", "pixel_xyxy"]
)
def test_nih_chestxray14_boxes_round_trip(convention: str) -> None:
    """All 984 official ChestX-ray14 boxes (x, y, w, h on 1024x1024) survive a round trip."""
    csv = _realdata("nih_chestxray14_bbox") / "BBox_List_2017.csv"
    geo = ImageGeometry(1024, 1024)
    rows = [line.split(",") for line in csv.read_text().splitlines()[1:]]
    assert len(rows) == 984
    answers, truth = [], []
    for row in rows:
        x, y, w, h = map(float, row[2:6])
        px = (x, y, x + w, y + h)
        truth.append(px)
        answers.append({"label": row[1], "bbox": list(box_from_pixels(px, convention, geo))})
    ans = parse_spatial(
        json.dumps(answers), "labelled_boxes", geo, expected=convention, labels=["mass", "nodule"]
    )
    assert ans.status == "ok"
    assert len(ans.boxes) == 984
    got = np.array([_box(ans, i) for i in range(984)])
    assert np.all(np.abs(got - np.array(truth)) <= _tol(convention, geo))
    labels = {b.label for b in ans.boxes}
    assert {"mass", "nodule", "Atelectasis"} <= labels  # mapped to the given case; others kept


def test_nih_boxes_as_corner_and_size_objects() -> None:
    """The same real boxes written as {x, y, width, height} in pixels parse exactly."""
    csv = _realdata("nih_chestxray14_bbox") / "BBox_List_2017.csv"
    geo = ImageGeometry(1024, 1024)
    rows = [line.split(",") for line in csv.read_text().splitlines()[1:50]]
    objs = [dict(zip(("x", "y", "width", "height"), map(float, r[2:6]), strict=True)) for r in rows]
    ans = parse_spatial(json.dumps(objs), "boxes", geo, expected="pixel_xyxy")
    assert ans.status == "ok"
    for obj, box in zip(objs, ans.boxes, strict=True):
        assert (box.x0, box.y0) == pytest.approx((obj["x"], obj["y"]))
        assert (box.x1, box.y1) == pytest.approx(
            (obj["x"] + obj["width"], obj["y"] + obj["height"])
        )
    assert ans.convention_seen == "pixel_xyxy+corner_size"


def test_kvasir_boxes_gemini_style_on_non_square_images() -> None:
    """Kvasir-SEG polyp boxes written Gemini-style (box_2d, y first, 0..1000) come back."""
    data = json.loads((_realdata("kvasir_seg") / "Kvasir-SEG/kavsir_bboxes.json").read_text())
    n_boxes = 0
    assert any(len(entry["bbox"]) > 1 for entry in data.values())
    for entry in data.values():
        geo = ImageGeometry(entry["width"], entry["height"])
        truth = [(b["xmin"], b["ymin"], b["xmax"], b["ymax"]) for b in entry["bbox"]]
        items = [
            {"box_2d": list(box_from_pixels(t, "norm1000_yxyx", geo)), "label": "Polyp"}
            for t in truth
        ]
        text = "Here are the detections:\n```json\n" + json.dumps(items, indent=2) + "\n```"
        ans = parse_spatial(text, "labelled_boxes", geo, labels=["polyp"])
        assert ans.status == "ok", ans.notes
        assert [b.label for b in ans.boxes] == ["polyp"] * len(truth)
        got = np.array([_box(ans, i) for i in range(len(truth))])
        assert np.all(np.abs(got - np.array(truth)) <= _tol("norm1000_yxyx", geo))
        n_boxes += len(truth)
    assert n_boxes == sum(len(entry["bbox"]) for entry in data.values()) > len(data)


def test_kvasir_mask_contour_polygon_round_trip() -> None:
    """A real polyp outline (from its mask) survives norm1000 and pixel polygon answers."""
    measure = pytest.importorskip("skimage.measure")
    from PIL import Image

    folder = _realdata("kvasir_seg") / "Kvasir-SEG"
    mask_path = sorted((folder / "masks").glob("*.jpg"))[0]
    mask = np.asarray(Image.open(mask_path).convert("L")) > 127
    geo = ImageGeometry(mask.shape[1], mask.shape[0])
    contour = max(measure.find_contours(mask.astype(float), 0.5), key=len)
    pts = contour[:-1, ::-1] + 0.5  # (row, col) of pixel centres -> (x, y) pixel edges
    for convention in ("norm1000_xy", "pixel_xy"):
        written = polygon_from_pixels(pts, convention, geo).tolist()
        ans = parse_spatial(json.dumps({"points": written}), "polygon", geo, expected=convention)
        assert ans.status == "ok", ans.notes
        back = np.array(ans.polygons[0])
        rx, ry = resolution(convention, geo)
        assert len(back) >= 0.99 * len(pts)  # only exact duplicates after rounding may merge
        if len(back) == len(pts):
            assert np.all(np.abs(back - pts) <= [rx + 1e-6, ry + 1e-6])


# ---------------------------------------------------------------- accepted formats


@pytest.mark.parametrize(
    ("text", "expected_box"),
    [
        ('{"box_2d": [200, 100, 600, 500]}', (80, 120, 400, 360)),
        ('{"bbox": [100, 200, 500, 600]}', (80, 120, 400, 360)),
        ('{"bbox_2d": [100, 200, 500, 600]}', (80, 120, 400, 360)),
        ('{"box": [100, 200, 500, 600]}', (80, 120, 400, 360)),
        ('{"x_min": 100, "y_min": 200, "x_max": 500, "y_max": 600}', (80, 120, 400, 360)),
        ('{"xmin": 100, "ymin": 200, "xmax": 500, "ymax": 600}', (80, 120, 400, 360)),
        ('{"x1": 100, "y1": 200, "x2": 500, "y2": 600}', (80, 120, 400, 360)),
        ('{"left": 100, "top": 200, "right": 500, "bottom": 600}', (80, 120, 400, 360)),
        ('{"x": 100, "y": 200, "width": 400, "height": 400}', (80, 120, 400, 360)),
        ('{"cx": 300, "cy": 400, "w": 400, "h": 400}', (80, 120, 400, 360)),
        ('{"center": [300, 400], "width": 400, "height": 400}', (80, 120, 400, 360)),
        ('{"center": {"x": 300, "y": 400}, "width": 400, "height": 400}', (80, 120, 400, 360)),
        ('{"top_left": [100, 200], "bottom_right": [500, 600]}', (80, 120, 400, 360)),
        ('{"label": "polyp", "box": [100, 200, 500, 600]}', (80, 120, 400, 360)),
        ("[100, 200, 500, 600]", (80, 120, 400, 360)),
        ("[[100, 200], [500, 600]]", (80, 120, 400, 360)),
        ("(100, 200, 500, 600)", (80, 120, 400, 360)),
        ("```json\n[100, 200, 500, 600]\n```", (80, 120, 400, 360)),
        ("```\n{'bbox': (100, 200, 500, 600),}\n```", (80, 120, 400, 360)),
        ("{bbox: [100, 200, 500, 600]}", (80, 120, 400, 360)),
        ("[100 200 500 600]", (80, 120, 400, 360)),
        ("100, 200, 500, 600", (80, 120, 400, 360)),
        ('{"BBox": ["100", "200", "500", "600"]}', (80, 120, 400, 360)),
    ],
)
def test_box_formats(text: str, expected_box: tuple[float, ...]) -> None:
    """Every accepted box notation gives the same pixel box (norm1000 on 800x600)."""
    ans = parse_spatial(text, "box", GEO)
    assert ans.status == "ok", ans.notes
    assert _box(ans) == pytest.approx(expected_box)


@pytest.mark.parametrize(
    "text",
    [
        "The lesion spans from (100, 200) to (500, 600).",
        "top-left corner at x=100, y=200 and bottom-right at x=500, y=600",
        "Bounding box: x_min = 100, y_min: 200, x_max 500, y_max is 600.",
        "The lesion is centered at (300, 400) with a width of 400 and a height of 400.",
        "Top left [100, 200], bottom right [500, 600].",
        "The lesion occupies x: 100-500, y: 200-600.",
        "It spans y from 200 to 600 and x from 100 to 500.",
    ],
)
def test_box_from_prose(text: str) -> None:
    """Coordinates written in sentences are read and noted as prose."""
    ans = parse_spatial(text, "box", GEO)
    assert ans.status == "ok", ans.notes
    assert _box(ans) == pytest.approx((80, 120, 400, 360))


def test_centre_size_in_prose_is_recorded_in_convention_seen() -> None:
    """A centre/size box says so in convention_seen."""
    ans = parse_spatial("centered at (300, 400), width 400, height 400", "box", GEO)
    assert ans.convention_seen == "norm1000_xyxy+center_size"
    assert "coordinates read from prose" in ans.notes


@pytest.mark.parametrize(
    ("text", "seen"),
    [
        ("[0.125, 0.2, 0.625, 0.6]", "norm1_xyxy"),
        ('{"bbox": ["12.5%", "20%", "62.5%", "60%"]}', "percent_xyxy"),
        ("12.5%, 20%, 62.5%, 60%", "percent_xyxy"),
        ("[12.5, 20, 62.5, 60] (in percent of the image size)", "percent_xyxy"),
    ],
)
def test_scale_detection_from_the_numbers(text: str, seen: str) -> None:
    """0..1 floats and percentages override the expected norm1000 scale."""
    ans = parse_spatial(text, "box", GEO)
    assert ans.status == "ok", ans.notes
    assert _box(ans) == pytest.approx((100, 120, 500, 360))
    assert ans.convention_seen == seen
    assert any("instead of the expected" in n for n in ans.notes) or seen.startswith("percent")


def test_values_above_1000_are_pixels() -> None:
    """A value above 1000 cannot be norm1000, so the answer is read in pixels."""
    geo = ImageGeometry(2048, 1536)
    ans = parse_spatial("[100, 200, 1500, 1200]", "box", geo)
    assert _box(ans) == (100, 200, 1500, 1200)
    assert ans.convention_seen == "pixel_xyxy"
    assert any("exceed 1000" in n for n in ans.notes)


def test_pixels_stated_in_the_answer() -> None:
    """'in pixels' in the answer switches small numbers to pixels too."""
    ans = parse_spatial(
        "The box in pixels is [100, 200, 500, 600].", "box", ImageGeometry(900, 900)
    )
    assert _box(ans) == (100, 200, 500, 600)
    assert ans.convention_seen == "pixel_xyxy"


def test_expected_pixels_are_used_when_numbers_fit() -> None:
    """With pixel_xyxy expected, numbers up to 1000 stay pixels."""
    ans = parse_spatial("[100, 200, 500, 600]", "box", GEO, expected="pixel_xyxy")
    assert _box(ans) == (100, 200, 500, 600)
    assert not any("instead" in n for n in ans.notes)


def test_expected_norm1_contradicted_by_large_integers() -> None:
    """norm1 expected but values in the hundreds: read as 0..1000."""
    ans = parse_spatial("[100, 200, 500, 600]", "box", GEO, expected="norm1_xyxy")
    assert _box(ans) == pytest.approx((80, 120, 400, 360))
    assert ans.convention_seen == "norm1000_xyxy"


def test_expected_yx_order_applies_to_bare_lists_not_named_keys() -> None:
    """Gemini's convention reorders bare lists; x_min-style keys are never reordered."""
    bare = parse_spatial("[200, 100, 600, 500]", "box", GEO, expected="norm1000_yxyx")
    named = parse_spatial(
        '{"x_min": 100, "y_min": 200, "x_max": 500, "y_max": 600}',
        "box",
        GEO,
        expected="norm1000_yxyx",
    )
    assert _box(bare) == _box(named) == pytest.approx((80, 120, 400, 360))


def test_prose_centre_follows_expected_axis_order() -> None:
    """A bare (a, b) centre is y-first under a yx convention; width/height stay named."""
    ans = parse_spatial(
        "Centered at (400, 300), width 400, height 400.", "box", GEO, expected="norm1000_yxyx"
    )
    assert _box(ans) == pytest.approx((80, 120, 400, 360))


def test_yx_order_stated_in_text() -> None:
    """A y-first layout spelled out in the answer is honoured."""
    ans = parse_spatial("[ymin, xmin, ymax, xmax] = [200, 100, 600, 500]", "box", GEO)
    assert _box(ans) == pytest.approx((80, 120, 400, 360))
    assert ans.convention_seen == "norm1000_yxyx"


def test_list_of_labelled_objects_in_fenced_block() -> None:
    """A list of labelled Gemini-style objects inside a fenced block."""
    text = (
        "```json\n[\n"
        '  {"box_2d": [200, 100, 600, 500], "label": "Polyp", "score": 0.9},\n'
        '  {"box_2d": [0, 0, 100, 100], "label": "ULCER", "confidence": "80%"},\n'
        "]\n```"
    )
    ans = parse_spatial(text, "labelled_boxes", GEO, labels=["polyp", "ulcer"])
    assert ans.status == "ok", ans.notes
    assert ans.boxes[0] == Box(80.0, 120.0, 400.0, 360.0, label="polyp", score=0.9)
    assert ans.boxes[1].label == "ulcer"
    assert ans.boxes[1].score == pytest.approx(0.8)


def test_unknown_labels_are_kept_and_noted() -> None:
    """A label outside the given list is kept as written, with a note."""
    ans = parse_spatial(
        '[{"label": "Tumour", "bbox": [1, 2, 3, 4]}]', "labelled_boxes", GEO, labels=["polyp"]
    )
    assert ans.boxes[0].label == "Tumour"
    assert any("not one of the given labels" in n for n in ans.notes)


def test_labels_as_object_keys() -> None:
    """{"polyp": [...], "ulcer": [[...], [...]]} gives boxes labelled by their keys."""
    text = '{"Polyp": [100, 200, 500, 600], "ulcer": [[0, 0, 10, 10], [20, 20, 30, 30]]}'
    ans = parse_spatial(text, "labelled_boxes", GEO, labels=["polyp", "ulcer"])
    assert [b.label for b in ans.boxes] == ["polyp", "ulcer", "ulcer"]


def test_wrapper_keys_and_lists_of_boxes() -> None:
    """{"boxes": [[...], [...]]} is a list of boxes, not labelled 'boxes'."""
    ans = parse_spatial(
        '{"boxes": [[0, 0, 500, 500], [500, 500, 1000, 1000]]}', "labelled_boxes", GEO
    )
    assert len(ans.boxes) == 2
    assert all(b.label is None for b in ans.boxes)
    assert ans.boxes[1] == Box(400.0, 300.0, 800.0, 600.0)


def test_singular_box_keeps_highest_score_and_is_repaired() -> None:
    """Asked for one box but given several: keep the best-scored one, marked repaired."""
    text = '[{"bbox": [0, 0, 10, 10], "score": 0.2}, {"bbox": [10, 10, 20, 20], "score": 0.7}]'
    ans = parse_spatial(text, "box", GEO)
    assert ans.status == "repaired"
    assert len(ans.boxes) == 1
    assert ans.boxes[0].score == 0.7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[10, 20], [30, 40], [50, 60], [10, 20]]", 3),
        ("[[10, 20], [30, 40], [50, 60]]", 3),
        ("[10, 20, 30, 40, 50, 60, 70, 80]", 4),
        ('{"polygon": [[10, 20], [30, 40], [50, 60]]}', 3),
        ('{"points": [{"x": 10, "y": 20}, {"x": 30, "y": 40}, {"x": 50, "y": 60}]}', 3),
        ('{"segmentation": [[10, 20, 30, 40, 50, 60]]}', 3),
        ("[(10, 20), (30, 40), (50, 60),]", 3),
        ("((10, 20), (30, 40), (50, 60))", 3),
        ("The outline passes through (10, 20), (30, 40), (50, 60) and (70, 80).", 4),
    ],
)
def test_polygon_formats(text: str, expected: int) -> None:
    """Polygons as pairs, flat lists, objects, tuples or prose; closing vertex dropped."""
    ans = parse_spatial(text, "polygon", GEO)
    assert ans.status == "ok", ans.notes
    assert len(ans.polygons[0]) == expected
    assert ans.polygons[0][0] == pytest.approx((8.0, 12.0))


def test_multiple_polygons() -> None:
    """A list of polygons (with labels) gives one polygon each."""
    text = json.dumps(
        [
            {"label": "a", "polygon": [[0, 0], [100, 0], [100, 100]]},
            {"label": "b", "polygon": [[500, 500], [600, 500], [600, 600], [500, 600]]},
        ]
    )
    ans = parse_spatial(text, "polygons", GEO)
    assert [len(p) for p in ans.polygons] == [3, 4]


def test_closing_vertex_drop_is_noted_but_not_a_repair() -> None:
    """A closed ring is a normal way to write a polygon."""
    ans = parse_spatial("[[10, 20], [30, 40], [50, 60], [10, 20]]", "polygon", GEO)
    assert ans.status == "ok"
    assert any("closing vertex" in n for n in ans.notes)


@pytest.mark.parametrize(
    ("text", "point"),
    [
        ("[500, 500]", (400.0, 300.0)),
        ("(500, 500)", (400.0, 300.0)),
        ('{"point": [500, 500]}', (400.0, 300.0)),
        ('{"x": 500, "y": 500}', (400.0, 300.0)),
        ('{"point_2d": [500, 500], "label": "mass"}', (400.0, 300.0)),
        ("The lesion is centered at (0.5, 0.5).", (400.0, 300.0)),
        ("It is at x=500, y=500.", (400.0, 300.0)),
        ("It is at y = 500 and x = 250.", (200.0, 300.0)),
        ("(50%, 50%)", (400.0, 300.0)),
    ],
)
def test_point_formats(text: str, point: tuple[float, float]) -> None:
    """Points as lists, tuples, objects, prose and percentages."""
    ans = parse_spatial(text, "point", GEO)
    assert ans.status == "ok", ans.notes
    assert ans.points[0] == pytest.approx(point)


def test_gemini_point_y_first() -> None:
    """Gemini writes points [y, x]; with norm1000_yx expected they are swapped back."""
    ans = parse_spatial('[{"point": [250, 750], "label": "nodule"}]', "point", GEO, "norm1000_yx")
    assert ans.points[0] == pytest.approx((600.0, 150.0))
    assert ans.convention_seen == "norm1000_yx"


@pytest.mark.parametrize(
    ("kind", "text", "check"),
    [
        ("point", "[100, 200, 500, 600]", lambda a: a.points[0] == pytest.approx((240, 240))),
        ("box", "[[100, 200], [500, 200], [300, 600]]", lambda a: _box(a) == (80, 120, 400, 360)),
        ("polygon", "[100, 200, 500, 600]", lambda a: len(a.polygons[0]) == 4),
    ],
)
def test_other_shape_is_converted_and_marked_repaired(kind: str, text: str, check: object) -> None:
    """A box for a point, a polygon for a box, a box for a polygon: converted, repaired."""
    ans = parse_spatial(text, kind, GEO)  # type: ignore[arg-type]
    assert ans.status == "repaired"
    assert check(ans)  # type: ignore[operator]
    assert any("instead" in n for n in ans.notes)


# ---------------------------------------------------------------- choosing among several blocks


def test_last_fenced_block_wins() -> None:
    """With two code blocks, the last one with geometry is the answer (and it is noted)."""
    text = (
        "For example:\n```json\n[0, 0, 10, 10]\n```\nMy answer:\n```json\n"
        "[100, 200, 500, 600]\n```\nHope this helps."
    )
    ans = parse_spatial(text, "box", GEO)
    assert _box(ans) == pytest.approx((80, 120, 400, 360))
    assert any("used block 2" in n for n in ans.notes)


def test_complete_block_preferred_over_truncated_last_block() -> None:
    """A truncated last block loses to an earlier complete one."""
    text = "```json\n[100, 200, 500, 600]\n```\nRefined:\n```json\n[[1, 2, 3, 4], [5, 6,"
    ans = parse_spatial(text, "boxes", GEO)
    assert ans.status == "ok"
    assert _box(ans) == pytest.approx((80, 120, 400, 360))


def test_two_unfenced_json_values_singular_uses_last() -> None:
    """Two bare JSON values and a singular kind: the last one is the answer."""
    ans = parse_spatial(
        'Example: {"bbox": [0, 0, 1, 1]}. Answer: {"bbox": [100, 200, 500, 600]}', "box", GEO
    )
    assert _box(ans) == pytest.approx((80, 120, 400, 360))
    assert ans.status == "ok"


def test_two_unfenced_json_values_plural_joins_them() -> None:
    """For plural kinds, separate JSON values in prose are all items."""
    ans = parse_spatial("Lesion 1: [0, 0, 100, 100]. Lesion 2: [500, 500, 600, 600].", "boxes", GEO)
    assert len(ans.boxes) == 2


# ---------------------------------------------------------------- malformed answers


@pytest.mark.parametrize("text", ["", "   \n\t  "])
def test_empty_answer_is_unparseable(text: str) -> None:
    """Nothing written: unparseable, noted."""
    ans = parse_spatial(text, "box", GEO)
    assert ans.status == "unparseable"
    assert ans.notes == ("empty answer",)


@pytest.mark.parametrize("kind", KINDS)
def test_prose_only_is_unparseable(kind: str) -> None:
    """A description with no coordinates has no geometry."""
    ans = parse_spatial("The lesion is in the upper left lobe, quite large.", kind, GEO)  # type: ignore[arg-type]
    assert ans.status == "unparseable"
    assert ans.boxes == () and ans.polygons == () and ans.points == ()


def test_swapped_corners_are_repaired() -> None:
    """x_max < x_min: the corners are put in order and the answer marked repaired."""
    ans = parse_spatial("[500, 600, 100, 200]", "box", GEO)
    assert ans.status == "repaired"
    assert _box(ans) == pytest.approx((80, 120, 400, 360))
    assert any("swapped" in n for n in ans.notes)


@pytest.mark.parametrize(
    "text",
    [
        '{"x": 100, "y": 100, "width": -50, "height": 40}',
        '{"cx": 100, "cy": 100, "w": 50, "h": -40}',
    ],
)
def test_negative_size_is_dropped(text: str) -> None:
    """A negative width or height is not a box."""
    ans = parse_spatial(text, "box", GEO)
    assert ans.status == "unparseable"
    assert any("negative width or height" in n for n in ans.notes)


@pytest.mark.parametrize(
    "text",
    [
        "[NaN, 1, 2, 3]",
        "[1, 2, 3, Infinity]",
        "[1, 2, 3, -Infinity]",
        '{"bbox": ["nan", 1, 2, 3]}',
        "[1, 2, inf, 4]",
    ],
)
def test_non_finite_values_drop_the_item(text: str) -> None:
    """NaN or infinite coordinates: the item is dropped, nothing left -> unparseable."""
    ans = parse_spatial(text, "box", GEO)
    assert ans.status == "unparseable"
    assert any("NaN or infinite" in n for n in ans.notes)


def test_integer_beyond_float_range_is_dropped_like_infinity() -> None:
    """A 400-digit integer cannot be a coordinate; it is dropped, not an internal error."""
    ans = parse_spatial("[1, 2, 3, " + "9" * 400 + "]", "box", GEO)
    assert ans.status == "unparseable"
    assert any("NaN or infinite" in n for n in ans.notes)


def test_label_named_key_holding_geometry_is_visited() -> None:
    """{"lesion": {"box": [...]}}: a label-like key whose value is an object is walked into."""
    ans = parse_spatial('{"lesion": {"box": [100, 200, 500, 600]}}', "box", GEO)
    assert ans.status == "ok"
    assert "coordinates read from prose" not in ans.notes
    assert _box(ans) == pytest.approx((80, 120, 400, 360))


def test_one_bad_item_among_good_ones_is_repaired() -> None:
    """A dropped item leaves the others; the answer is repaired."""
    ans = parse_spatial("[[1, 2, 3, 4], [NaN, 2, 3, 4], [5, 6, 7, 8]]", "boxes", GEO)
    assert ans.status == "repaired"
    assert len(ans.boxes) == 2


def test_out_of_image_values_are_clamped_and_counted() -> None:
    """Pixel values beyond the image are clamped to its edges, counted and marked repaired."""
    ans = parse_spatial("[-20, 10, 900, 700]", "box", GEO, expected="pixel_xyxy")
    assert _box(ans) == (0.0, 10.0, 800.0, 600.0)
    assert ans.n_clamped == 3
    assert ans.status == "repaired"  # the numbers were changed


def test_large_polygon_parses_completely() -> None:
    """A 10,000-vertex polygon (JSON and Python-tuple spellings) keeps every vertex."""
    rng = np.random.default_rng(0)
    pts = rng.integers(0, 1001, size=(10_000, 2)).tolist()
    for text in (json.dumps(pts), str([tuple(p) for p in pts])):
        ans = parse_spatial(text, "polygon", GEO)
        assert ans.status == "ok"
        assert len(ans.polygons[0]) == 10_000
        assert ans.polygons[0][123] == pytest.approx((pts[123][0] * 0.8, pts[123][1] * 0.6))


def test_closed_ring_of_two_vertices_is_not_a_polygon() -> None:
    """[[a], [b], [a]] has two distinct vertices once the closing one is dropped."""
    ans = parse_spatial("[[10, 20], [30, 40], [10, 20]]", "polygon", GEO)
    assert ans.status == "unparseable"
    assert any("needs 3" in n for n in ans.notes)


def test_truncated_polygon_with_enough_vertices_is_repaired() -> None:
    """Cut-off JSON is closed after its last complete vertex."""
    ans = parse_spatial("[[10, 20], [30, 40], [50, 60], [70,", "polygon", GEO)
    assert ans.status == "repaired"
    assert len(ans.polygons[0]) == 3
    assert any("truncated" in n for n in ans.notes)


def test_truncated_polygon_too_short_is_unparseable() -> None:
    """``[[10, 20], [30,`` leaves one vertex: not a polygon."""
    ans = parse_spatial("[[10, 20], [30,", "polygon", GEO)
    assert ans.status == "unparseable"
    assert any("needs 3" in n for n in ans.notes)


def test_truncated_box_list_keeps_complete_boxes() -> None:
    """A detection list cut mid-object keeps the complete objects."""
    text = '[{"label": "polyp", "box_2d": [0, 0, 500, 500]}, {"label": "polyp", "box_2d": [5'
    ans = parse_spatial(text, "labelled_boxes", GEO)
    assert ans.status == "repaired"
    assert len(ans.boxes) == 1


def test_wrong_number_of_values_is_not_a_box() -> None:
    """Three numbers are no box."""
    ans = parse_spatial("[1, 2, 3]", "box", GEO)
    assert ans.status == "unparseable"


# ---------------------------------------------------------------- refusals and empty answers


@pytest.mark.parametrize(
    "text",
    [
        "I cannot provide medical diagnoses from images.",
        "I'm unable to analyze medical images.",
        "As an AI, I am not qualified to interpret this scan.",
        "I’m sorry, but I can’t help with that.",
        "Please consult a medical professional.",
    ],
)
@pytest.mark.parametrize("kind", ["box", "boxes", "polygon", "point"])
def test_refusals(text: str, kind: str) -> None:
    """Refusal phrasing with no geometry is 'refused'."""
    ans = parse_spatial(text, kind, GEO)  # type: ignore[arg-type]
    assert ans.status == "refused"


def test_refusal_words_with_geometry_are_an_answer() -> None:
    """Hedging around a real answer is not a refusal."""
    ans = parse_spatial("I cannot be certain, but the box is [100, 200, 500, 600].", "box", GEO)
    assert ans.status == "ok"


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        "```json\n[]\n```",
        '{"boxes": []}',
        "No lesion detected.",
        "None found.",
        "No polyps are visible in this image.",
    ],
)
@pytest.mark.parametrize("kind", ["boxes", "labelled_boxes"])
def test_explicit_empty_answers_for_detection(text: str, kind: str) -> None:
    """Detection with nothing to detect is a valid answer with zero boxes."""
    ans = parse_spatial(text, kind, GEO)  # type: ignore[arg-type]
    assert ans.status == "ok"
    assert ans.boxes == ()


@pytest.mark.parametrize("text", ["[]", "No lesion detected."])
def test_empty_answer_for_singular_box_is_unparseable(text: str) -> None:
    """Asked for one box, an empty answer has none to score."""
    ans = parse_spatial(text, "box", GEO)
    assert ans.status == "unparseable"


# ---------------------------------------------------------------- robustness


def _check_sane(ans: SpatialAnswer, geo: ImageGeometry) -> None:
    """Invariants every answer satisfies, whatever the input."""
    assert ans.status in ("ok", "repaired", "refused", "unparseable")
    assert not any(n.startswith("internal parser error") for n in ans.notes), ans.notes
    for b in ans.boxes:
        assert 0 <= b.x0 <= b.x1 <= geo.width and 0 <= b.y0 <= b.y1 <= geo.height
    for x, y in ans.points + tuple(v for p in ans.polygons for v in p):
        assert 0 <= x <= geo.width and 0 <= y <= geo.height
        assert math.isfinite(x) and math.isfinite(y)
    if ans.status in ("refused", "unparseable"):
        assert not (ans.boxes or ans.polygons or ans.points)


def test_fuzz_random_strings_never_raise() -> None:
    """Random text over a bracket- and digit-heavy alphabet never raises."""
    rng = random.Random(20240705)
    alphabet = string.printable + "()[]{}\"',:%.-+eE " * 6 + "0123456789" * 10 + "’…é中"
    geo = ImageGeometry(640, 480)
    for _ in range(600):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        for kind in KINDS:
            _check_sane(parse_spatial(text, kind, geo), geo)  # type: ignore[arg-type]


def _random_answer(rng: random.Random) -> str:
    """A plausible model answer: random geometry objects in random notations."""

    def num() -> object:
        return rng.choice(
            [
                rng.randint(-50, 1200),
                round(rng.uniform(-0.2, 1.2), 3),
                f"{rng.randint(0, 100)}%",
                float("nan"),
                rng.randint(0, 3000),
                "abc",
                None,
                True,
            ]
        )

    def item() -> object:
        return rng.choice(
            [
                {"box_2d": [num() for _ in range(4)], "label": rng.choice(["a", "B", 3])},
                {"bbox": [num() for _ in range(rng.randint(0, 6))]},
                {"x": num(), "y": num(), "width": num(), "height": num()},
                {"polygon": [[num(), num()] for _ in range(rng.randint(0, 6))]},
                {"points": [num() for _ in range(rng.randint(0, 8))]},
                [num(), num()],
                [],
                {"cx": num(), "cy": num(), "w": num(), "h": num(), "score": num()},
            ]
        )

    value = [item() for _ in range(rng.randint(0, 4))]
    text = json.dumps(value)
    text = rng.choice([text, text.replace('"', "'"), text.replace("[", "(").replace("]", ")")])
    for _ in range(rng.randint(0, 4)):  # mutate: delete, insert or truncate
        pos = rng.randint(0, len(text))
        op = rng.random()
        if op < 0.4:
            text = text[:pos] + text[pos + rng.randint(1, 5) :]
        elif op < 0.8:
            text = (
                text[:pos]
                + rng.choice(["[", "]", "{", "}", ",", '"', "'", ":", "```"])
                + text[pos:]
            )
        else:
            text = text[:pos]
    wrap = rng.choice(["{}", "```json\n{}\n```", "Answer: {} done.", "{}\n```"])
    return wrap.replace("{}", text, 1)


def test_fuzz_generated_json_junk_never_raises() -> None:
    """Generated, mutated and truncated JSON-like answers keep every invariant."""
    rng = random.Random(7)
    geo = ImageGeometry(512, 384)
    seen = set()
    for _ in range(800):
        text = _random_answer(rng)
        for kind in KINDS:
            ans = parse_spatial(text, kind, geo)  # type: ignore[arg-type]
            _check_sane(ans, geo)
            seen.add(ans.status)
    assert {"ok", "repaired", "unparseable"} <= seen


def test_deeply_nested_brackets_do_not_raise() -> None:
    """Pathological nesting returns a status instead of a RecursionError."""
    ans = parse_spatial("[" * 5000 + "]" * 5000, "box", GEO)
    _check_sane(ans, GEO)
    ans = parse_spatial("[" * 50_000, "polygon", GEO)
    _check_sane(ans, GEO)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((b"[1,2,3,4]", "box", GEO), "text must be a str"),
        (("[1,2,3,4]", "circle", GEO), "unknown kind"),
        (("[1,2,3,4]", "box", (800, 600)), "geometry must be an ImageGeometry"),
        (("[1,2,3,4]", "box", GEO, "norm_xyxy"), "unknown expected convention"),
        (("[1,2,3,4]", "labelled_boxes", GEO, "norm1000_xyxy", "polyp"), "labels must be"),
    ],
)
def test_bad_arguments_raise_value_error(args: tuple[object, ...], match: str) -> None:
    """Programming errors (not model answers) raise ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        parse_spatial(*args)  # type: ignore[arg-type]


def test_answers_are_frozen_values() -> None:
    """SpatialAnswer and Box are immutable and comparable."""
    a = parse_spatial("[100, 200, 500, 600]", "box", GEO)
    b = parse_spatial("[100, 200, 500, 600]", "box", GEO)
    assert a == b
    with pytest.raises(AttributeError):
        a.status = "refused"  # type: ignore[misc]
    assert parse_convention(a.convention_seen).scale == "norm1000"


# ---------------------------------------------------------------- stated units and ambiguity


@pytest.mark.parametrize(
    "text",
    [
        "The box is [120, 80, 380, 300]; the lesion is about 260 pixels wide.",
        '{"box": [120, 80, 380, 300], "unit": "px"}',
        '{"box": [120, 80, 380, 300], "units": "pixel"}',
        '{"bbox_px": [120, 80, 380, 300]}',
        '{"x_min_px": 120, "y_min_px": 80, "x_max_px": 380, "y_max_px": 300}',
        "Using absolute coordinates: [120, 80, 380, 300]",
    ],
)
def test_stated_pixels_win_in_prose_keys_and_values(text: str) -> None:
    """Pixels stated anywhere near the box are read as pixels, not flagged ambiguous."""
    ans = parse_spatial(text, "box", GEO)
    assert _box(ans) == (120, 80, 380, 300)
    assert ans.convention_seen == "pixel_xyxy"
    assert not ans.ambiguous


@pytest.mark.parametrize(
    "text",
    [
        "Normalized (0-1000) box: [150, 133, 475, 500]",
        '{"box": [150, 133, 475, 500], "format": "0..1000"}',
        '{"box_1000": [150, 133, 475, 500]}',
    ],
)
def test_stated_normalised_scale_wins_over_pixels_asked(text: str) -> None:
    """0..1000 stated while pixels were asked: the statement wins."""
    ans = parse_spatial(text, "box", GEO, expected="pixel_xyxy")
    assert _box(ans) == pytest.approx((120, 79.8, 380, 300))
    assert not ans.ambiguous


def test_image_size_in_pixels_is_not_a_statement_about_the_box() -> None:
    """ "The image is 800 pixels wide" describes the image; the box stays ambiguous."""
    ans = parse_spatial("The image is 800x600 pixels. Box: [100, 200, 500, 600]", "box", GEO)
    assert _box(ans) == pytest.approx((80, 120, 400, 360))
    assert ans.ambiguous


@pytest.mark.parametrize(
    "text",
    [
        "I can't measure exact pixels, but roughly: [100, 200, 500, 600]",
        "Not accurate in pixel-level detail, but approximately [100, 200, 500, 600]",
        "Given the 800x600 px image, the box is [100, 200, 500, 600]",
    ],
)
def test_pixel_words_that_state_no_unit_leave_the_answer_ambiguous(text: str) -> None:
    """The word "pixels" alone, or the image size in px, does not state the box's unit."""
    ans = parse_spatial(text, "box", GEO)
    assert _box(ans) == pytest.approx((80, 120, 400, 360))
    assert ans.ambiguous


def test_nearest_statement_wins_in_chain_of_thought() -> None:
    """Reasoning in pixels, then converting to 0..1000 right before the answer."""
    text = (
        "In pixels the lesion spans x 120-380 and y 80-300. Converted to the 0-1000 scale: "
        '{"box": [150, 133, 475, 500]}'
    )
    ans = parse_spatial(text, "box", GEO)
    assert _box(ans) == pytest.approx((120, 79.8, 380, 300))


def test_ambiguous_answer_keeps_asked_reading_and_records_the_other() -> None:
    """Numbers that fit 0..1000 and this image's pixels: asked reading, flagged, both kept."""
    ans = parse_spatial("[100, 200, 500, 600]", "box", GEO)
    assert ans.status == "ok"
    assert ans.ambiguous
    assert _box(ans) == pytest.approx((80, 120, 400, 360))
    assert [a.convention for a in ans.alternatives] == ["pixel_xyxy"]
    alt = ans.alternatives[0].boxes[0]
    assert (alt.x0, alt.y0, alt.x1, alt.y1) == (100, 200, 500, 600)
    assert any("ambiguous scale" in n for n in ans.notes)
    assert ans.ambiguity_px == pytest.approx(240)  # y_max: 600 px vs 360 px


@pytest.mark.parametrize(
    ("geo", "ambiguous"),
    [
        (ImageGeometry(4000, 3000), False),  # a pixel answer would sit in the top-left corner
        (ImageGeometry(1920, 1080), True),  # odds 2:1 only
        (ImageGeometry(640, 480), False),  # 500, 600 do not fit 640x480 pixels
        (ImageGeometry(1000, 1000), False),  # both readings are the same
    ],
)
def test_ambiguity_depends_on_the_image(geo: ImageGeometry, ambiguous: bool) -> None:
    """The same 0..1000 numbers are ambiguous or not depending on the image size."""
    assert parse_spatial("[100, 200, 500, 600]", "box", geo).ambiguous is ambiguous


def test_one_value_above_1000_does_not_flip_the_other_boxes() -> None:
    """Three 0..1000 boxes, one value 1040: the boxes stay 0..1000, the answer is flagged."""
    geo = ImageGeometry(2048, 1536)
    text = "[[120, 300, 300, 480], [650, 700, 880, 940], [820, 860, 990, 1040]]"
    ans = parse_spatial(text, "boxes", geo)
    assert _box(ans, 0) == pytest.approx((245.76, 460.8, 614.4, 737.28))
    assert _box(ans, 2)[3] == 1536  # clamped to the image
    assert ans.ambiguous
    assert ans.alternatives[0].convention == "pixel_xyxy"


def test_many_values_far_above_1000_are_pixels() -> None:
    """Several values far beyond 1000 that all fit the image are evidence of pixels."""
    geo = ImageGeometry(2048, 1536)
    ans = parse_spatial("[[240, 460, 610, 740], [1310, 880, 1690, 1302]]", "boxes", geo)
    assert _box(ans, 0) == (240, 460, 610, 740)
    assert not ans.ambiguous


def test_percent_and_fraction_answers_are_never_confused_with_pixels() -> None:
    """Percent asked, percent numbers: no pixel rival (it would be a tiny corner box)."""
    ans = parse_spatial("[12.5, 20, 62.5, 60]", "box", GEO, expected="percent_xyxy")
    assert not ans.ambiguous
    ans = parse_spatial("[0.125, 0.2, 0.625, 0.6]", "box", GEO)
    assert not ans.ambiguous


def test_point_given_for_a_box_says_why() -> None:
    """A point is not a box: unparseable, with the reason."""
    ans = parse_spatial('{"point": [480, 475]}', "box", GEO)
    assert ans.status == "unparseable"
    assert any("a point is not a box" in n for n in ans.notes)


def test_read_spatial_answer_for_medmine_parse() -> None:
    """The Sample-free entry point: task names, answer forms, rows and bad arguments."""
    from medmine.tasks.spatial_common import answer_row, read_spatial_answer

    row = answer_row(read_spatial_answer("[100, 200, 500, 600]", "localization", 800, 600))
    assert row["status"] == "ok" and row["ambiguous"] is True
    assert row["boxes"] == [pytest.approx([80, 120, 400, 360])]
    assert row["alternatives"][0]["boxes"] == [[100, 200, 500, 600]]
    both = read_spatial_answer(
        '{"box": [100, 200, 500, 600], "point": [300, 400]}',
        "localization",
        4000,
        3000,
        answer="both",
    )
    assert both.value["boxes"] and both.value["points"] == [pytest.approx([1200, 1200])]
    det = answer_row(
        read_spatial_answer(
            '[{"label": "Polyps", "box_2d": [200, 100, 600, 500]}]',
            "detection",
            800,
            600,
            "norm1000_yxyx",
            labels=["polyp"],
        )
    )
    assert det["labels"] == ["polyp"]
    seg = read_spatial_answer('{"polygons": []}', "segmentation", 800, 600, "norm1000_xy")
    assert seg.status == "ok" and seg.value["polygons"] == []
    with pytest.raises(ValueError, match="unknown spatial task"):
        read_spatial_answer("[1, 2, 3, 4]", "classification", 800, 600)
    with pytest.raises(ValueError, match="unknown coordinate convention"):
        read_spatial_answer("[1, 2, 3, 4]", "localization", 800, 600, "norm_xyxy")
    with pytest.raises(ValueError, match="must be positive"):
        read_spatial_answer("[1, 2, 3, 4]", "localization", 0, 600)


def test_fractions_stated_as_pixels_are_fractions() -> None:
    """'pixel coordinates' over 0..1 decimals would be a sub-pixel box: read as 0..1."""
    ans = parse_spatial("Normalized pixel coordinates: [0.125, 0.2, 0.625, 0.6]", "box", GEO)
    assert _box(ans) == pytest.approx((100, 120, 500, 360))


def test_percent_asked_with_large_numbers_reads_0_to_1000_and_flags_pixels() -> None:
    """Percent asked, numbers up to 600 on an 800x600 image: 0..1000, pixels kept as rival."""
    ans = parse_spatial("[100, 200, 500, 600]", "box", GEO, expected="percent_xyxy")
    assert _box(ans) == pytest.approx((80, 120, 400, 360))
    assert ans.ambiguous and ans.alternatives[0].convention == "pixel_xyxy"


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("No melanoma or nevus detected.", "ok"),
        ("No suspicious polyp was found in this frame.", "ok"),
        ("There is no doubt the lesion is visible in the centre.", "unparseable"),
    ],
)
def test_nothing_found_statements_name_any_class(text: str, status: str) -> None:
    """'No <class> detected' is an empty detection; 'no doubt ... visible' is not."""
    ans = parse_spatial(text, "labelled_boxes", GEO)
    assert ans.status == status
    assert ans.boxes == ()


def test_per_axis_intervals_are_one_box_not_two_points() -> None:
    """'x ∈ [100, 500], y ∈ [200, 600]' is a box; read as JSON it would be two points."""
    ans = parse_spatial("The lesion lies in x ∈ [100, 500], y ∈ [200, 600].", "box", GEO)
    assert ans.status == "ok"
    assert _box(ans) == pytest.approx((80, 120, 400, 360))
