"""Reader v4 rules: formats that state their scale, overflowing values, axis spans in prose,
and "cannot locate" versus a refusal (see ``medmine.tasks.spatial_parse``)."""

from __future__ import annotations

import pytest

from medmine.tasks.coords import ImageGeometry
from medmine.tasks.spatial_parse import PARSER_VERSION, SpatialAnswer, parse_spatial


def _boxes(ans: SpatialAnswer) -> list[tuple[float, ...]]:
    return [tuple(round(v, 1) for v in (b.x0, b.y0, b.x1, b.y1)) for b in ans.boxes]


def test_parser_version_is_4() -> None:
    assert PARSER_VERSION == "4"


# ------------------------------------------------------------------ 1. box_2d states 0..1000


@pytest.mark.parametrize("asked", ["pixel_xyxy", "norm1000_xyxy", "norm1000_yxyx", "norm1_xyxy"])
def test_box_2d_is_read_on_0_1000_y_first_whatever_was_asked(asked: str) -> None:
    """Gemini's box_2d on a 1024 px image (numbers also fit pixels): never ambiguous."""
    text = '```json\n[{"box_2d": [120, 300, 560, 700], "label": "nodule"}]\n```'
    ans = parse_spatial(text, "box", ImageGeometry(1024, 1024), asked)
    assert ans.status == "ok"
    assert not ans.ambiguous and ans.alternatives == ()
    assert _boxes(ans) == [(307.2, 122.9, 716.8, 573.4)]
    assert ans.convention_seen == "norm1000_yxyx"


def test_box_2d_yields_to_a_stated_scale() -> None:
    """A key the prompt asked for does not outvote the answer's own words."""
    text = '{"box_2d": [120, 300, 560, 700]} (pixel coordinates)'
    ans = parse_spatial(text, "box", ImageGeometry(1024, 1024), "norm1000_yxyx")
    assert _boxes(ans) == [(300.0, 120.0, 700.0, 560.0)]
    assert not ans.ambiguous


def test_bbox_2d_states_no_scale() -> None:
    """Qwen2.5-VL pixels and Qwen3-VL 0..1000 share the key: the ordinary rules apply."""
    text = '[{"bbox_2d": [152, 164, 381, 364], "label": "polyp"}]'
    ans = parse_spatial(text, "box", ImageGeometry(1024, 1024), "norm1000_xyxy")
    assert ans.ambiguous  # fits both 0..1000 and this image's pixels, nothing states which
    assert ans.alternatives[0].convention.startswith("pixel")
    px = parse_spatial(text, "box", ImageGeometry(1024, 1024), "pixel_xyxy")
    assert _boxes(px) == [(152.0, 164.0, 381.0, 364.0)]


def test_qwen2_box_tokens_stay_unambiguous_on_a_small_image() -> None:
    text = "<|object_ref_start|>polyp<|object_ref_end|><|box_start|>(312,198),(645,560)<|box_end|>"
    ans = parse_spatial(text, "box", ImageGeometry(1000, 1000), "pixel_xyxy")
    assert _boxes(ans) == [(312.0, 198.0, 645.0, 560.0)]
    assert ans.convention_seen == "norm1000_xyxy" and not ans.ambiguous


@pytest.mark.parametrize("asked", ["pixel_xyxy", "norm1000_xyxy"])
def test_molmo_points_are_percent_of_the_image(asked: str) -> None:
    """Molmo documents ``<point x=".." y="..">`` in percent: never read as pixels."""
    text = '<point x="31.3" y="61.7" alt="polyp">polyp</point>'
    ans = parse_spatial(text, "point", ImageGeometry(1000, 800), asked)
    assert [tuple(round(v, 1) for v in p) for p in ans.points] == [(313.0, 493.6)]
    assert not ans.ambiguous
    poly = '<points x1="10" y1="20" x2="30.5" y2="20" x3="30" y3="40" alt="lesion">lesion</points>'
    ans = parse_spatial(poly, "polygon", ImageGeometry(1000, 800), asked)
    assert ans.polygons == (((100.0, 160.0), (305.0, 160.0), (300.0, 320.0)),)


# ------------------------------------------------- 2. fixed-scale values beyond their scale


def test_internvl_box_beyond_1000_is_read_as_pixels_and_flagged() -> None:
    text = "<ref>mandible</ref><box>[[530, 900, 2420, 1380]]</box>"
    ans = parse_spatial(text, "box", ImageGeometry(2943, 1435), "pixel_xyxy")
    assert _boxes(ans) == [(530.0, 900.0, 2420.0, 1380.0)]
    assert ans.status == "ok" and ans.n_clamped == 0
    assert ans.ambiguous
    alt = ans.alternatives[0]
    assert alt.convention == "norm1000_xyxy"
    assert [round(alt.boxes[0].x0, 1), round(alt.boxes[0].y1, 1)] == [1559.8, 1435.0]
    assert ans.boxes[0].label == "mandible"


def test_box_2d_beyond_1000_is_read_as_pixels_y_first_and_flagged() -> None:
    ans = parse_spatial('{"box_2d": [900, 530, 1380, 2420]}', "box", ImageGeometry(2943, 1435))
    assert _boxes(ans) == [(530.0, 900.0, 2420.0, 1380.0)]
    assert ans.ambiguous and ans.alternatives[0].convention == "norm1000_yxyx"


def test_fixed_format_beyond_both_scales_is_clamped_with_a_note() -> None:
    """Values that fit neither 0..1000 nor the image: kept on 0..1000, clamped, repaired."""
    text = "<ref>lesion</ref><box>[[100, 100, 1500, 900]]</box>"
    ans = parse_spatial(text, "box", ImageGeometry(1200, 1200), "pixel_xyxy")
    assert ans.status == "repaired" and ans.n_clamped == 1
    assert not ans.ambiguous
    assert any("do not fit the image in pixels" in n for n in ans.notes)


# ------------------------------------------------------------------ 3. axis spans in prose


@pytest.mark.parametrize(
    ("text", "size", "asked", "box", "ambiguous"),
    [
        (
            "The polyp occupies the region from x=101 to x=256 and y=80 to y=211.",
            (384, 288),
            "pixel_xyxy",
            (101.0, 80.0, 256.0, 211.0),
            False,
        ),
        (
            "The nodule lies between x = 230 and 520 pixels and y = 310 to 640 pixels.",
            (1024, 1024),
            "norm1000_xyxy",
            (230.0, 310.0, 520.0, 640.0),
            False,
        ),
        (
            "Horizontally the lesion extends between 230 and 520, vertically from 310 to 640 px.",
            (1024, 1024),
            "pixel_xyxy",
            (230.0, 310.0, 520.0, 640.0),
            False,
        ),
        (
            "Left-right 230 to 520 pixels, top-bottom 310 to 640 pixels.",
            (1024, 1024),
            "norm1000_xyxy",
            (230.0, 310.0, 520.0, 640.0),
            False,
        ),
        (
            "The x coordinate ranges from 230 to 520 and the y coordinate from 310 to 640.",
            (1024, 1024),
            "pixel_xyxy",
            (230.0, 310.0, 520.0, 640.0),
            True,  # nothing states the scale and 0..1000 fits too
        ),
        (
            "It spans 230–520 on the x-axis and 310–640 on the y-axis (pixels).",
            (1024, 1024),
            "norm1000_xyxy",
            (230.0, 310.0, 520.0, 640.0),
            False,
        ),
    ],
)
def test_axis_spans_in_prose(
    text: str, size: tuple[int, int], asked: str, box: tuple[float, ...], ambiguous: bool
) -> None:
    ans = parse_spatial(text, "box", ImageGeometry(*size), asked)
    assert ans.status == "ok", ans.notes
    assert _boxes(ans) == [box]
    assert ans.ambiguous is ambiguous


@pytest.mark.parametrize(
    ("text", "box"),
    [
        (
            "The lesion spans 163 to 382 pixels horizontally and 176 to 328 pixels vertically.",
            (163.0, 176.0, 382.0, 328.0),
        ),
        (
            "The lesion extends from 35% to 61% horizontally and from 40% to 79% vertically.",
            (268.8, 230.4, 468.5, 455.0),
        ),
    ],
)
def test_axis_named_after_its_numbers_is_not_taken_for_the_next_interval(
    text: str, box: tuple[float, ...]
) -> None:
    """ "horizontally and 176 to 328" is not the x interval: the axis word ends its clause."""
    ans = parse_spatial(text, "box", ImageGeometry(768, 576), "norm1000_xyxy")
    assert _boxes(ans) == [box]


@pytest.mark.parametrize(
    "text",
    [
        "The box goes from x=120,y=80 to x=300,y=260 (pixels).",  # corners, not "y=80 to x=300"
        "Chest x-ray: a mass between 3 and 5 cm; box (120, 80, 300, 260) in pixels.",
    ],
)
def test_corner_pairs_and_x_ray_are_no_axis_spans(text: str) -> None:
    ans = parse_spatial(text, "box", ImageGeometry(1024, 1024), "norm1000_xyxy")
    assert _boxes(ans) == [(120.0, 80.0, 300.0, 260.0)]


def test_a_size_written_with_x_is_no_axis_span() -> None:
    """ "3 x 4 cm" has no axis: the spans regex needs "x =", "x:", "x from" or "x between"."""
    ans = parse_spatial("A 3 x 4 cm mass, no coordinates given.", "box", ImageGeometry(512, 512))
    assert ans.status == "unparseable"


# ------------------------------------------------------ 4. cannot locate is not a refusal


@pytest.mark.parametrize(
    ("text", "kind", "status", "n_boxes"),
    [
        (
            "I cannot see a clear polyp in this frame, so I can't give a bounding box.",
            "box",
            "unparseable",
            0,
        ),
        (
            "There appears to be a polyp, but I can't determine its exact location.",
            "boxes",
            "unparseable",
            0,
        ),
        ("I cannot see any polyp.", "boxes", "ok", 0),
        ("No polyp visible.", "boxes", "ok", 0),
        (
            "I'm not able to provide medical localizations; please consult a radiologist.",
            "box",
            "refused",
            0,
        ),
        (
            "I'm not able to provide medical localizations; please consult a radiologist.",
            "boxes",
            "refused",
            0,
        ),
        ("I cannot localize lesions in medical images.", "box", "refused", 0),
        ("I can't see the image you attached, so I can't give a box.", "box", "refused", 0),
        (
            "As an AI, I cannot determine the location of lesions; please consult a doctor.",
            "box",
            "refused",
            0,
        ),
    ],
)
def test_cannot_locate_versus_refusal(text: str, kind: str, status: str, n_boxes: int) -> None:
    ans = parse_spatial(text, kind, ImageGeometry(384, 288), "pixel_xyxy")  # type: ignore[arg-type]
    assert ans.status == status, ans.notes
    assert len(ans.boxes) == n_boxes
