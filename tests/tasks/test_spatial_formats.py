"""Model-family formats, layouts and locale numbers the spatial reader knows (see spatial_parse)."""

from __future__ import annotations

import pytest

from medmine.tasks.coords import ImageGeometry
from medmine.tasks.spatial_parse import SpatialAnswer, parse_spatial

BIG = ImageGeometry(4000, 3000)
B = (1248.0, 594.0, 2580.0, 1680.0)  # 0..1000 box (312, 198, 645, 560) on BIG


def _boxes(ans: SpatialAnswer) -> list[tuple[float, ...]]:
    return [tuple(round(v, 1) for v in (b.x0, b.y0, b.x1, b.y1)) for b in ans.boxes]


@pytest.mark.parametrize(
    ("values", "ambiguous"),
    [((100, 100, 150, 200), False), ((100, 100, 150, 201), True), ((100, 100, 150, 300), True)],
)
def test_ambiguous_exactly_when_readings_differ_by_more_than_2px(
    values: tuple[int, ...], ambiguous: bool
) -> None:
    """0..1000 asked on a 1010 px image: both readings fit; flagged only past 2 px apart."""
    ans = parse_spatial(str(list(values)), "box", ImageGeometry(1010, 1010), "norm1000_xyxy")
    assert ans.ambiguous is ambiguous
    assert ans.status == "ok"
    assert _boxes(ans)[0] == tuple(round(v * 1.01, 1) for v in values)  # the asked reading
    if ambiguous:
        assert ans.alternatives[0].convention.startswith("pixel")
        assert ans.ambiguity_px > 2.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "<|object_ref_start|>lesion<|object_ref_end|><|box_start|>(312,198),(645,560)<|box_end|>",
            "pixel_xyxy",
        ),
        ("polyp<loc_312><loc_198><loc_645><loc_560>", "pixel_xyxy"),
        ("<loc0203><loc0320><loc0574><loc0660> polyp", "norm1000_xyxy"),
        ("<ref>lesion</ref><box>[[312, 198, 645, 560]]</box>", "pixel_xyxy"),
    ],
)
def test_location_tokens_fix_their_own_scale(text: str, expected: str) -> None:
    """Qwen2-VL, Florence-2, PaliGemma and InternVL tokens are read in their own scale."""
    ans = parse_spatial(text, "box", ImageGeometry(800, 600), expected)
    assert ans.status == "ok" and not ans.ambiguous
    x0, y0, x1, y1 = _boxes(ans)[0]
    assert 245 <= x0 <= 257 and 117 <= y0 <= 121 and 514 <= x1 <= 518 and 335 <= y1 <= 338


def test_kosmos_patch_tokens_are_patch_centres() -> None:
    """Kosmos-2 ``<patch_index_N>`` pairs on a 32 x 32 grid, read at the patch centres."""
    ans = parse_spatial(
        "<object><patch_index_0137><patch_index_0725></object>", "box", ImageGeometry(2048, 1536)
    )
    assert _boxes(ans) == [(608.0, 216.0, 1376.0, 1080.0)]


def test_yolo_lines_are_labelled_centre_size_fractions() -> None:
    """``class cx cy w h`` lines, two or more (or one with "YOLO" stated)."""
    text = "polyp 0.4785 0.379 0.333 0.362\nulcer 0.796 0.7225 0.188 0.225"
    ans = parse_spatial(text, "labelled_boxes", BIG, labels=["polyp", "ulcer"])
    assert _boxes(ans)[0] == B and [b.label for b in ans.boxes] == ["polyp", "ulcer"]
    # one bare line of five numbers is not taken for YOLO without the word
    assert parse_spatial("0 0.4785 0.379 0.333 0.362", "box", BIG).status == "unparseable"


@pytest.mark.parametrize(
    "text",
    [
        "COCO format [x, y, width, height]: [1248, 594, 1332, 1086]",
        '{"bbox": [1248, 594, 1332, 1086], "bbox_format": "xywh"}',
        '{"top_left": [1248, 594], "width": 1332, "height": 1086}',
        '{"x": [1248, 2580], "y": [594, 1680]}',
        '{"minX": 1248, "minY": 594, "maxX": 2580, "maxY": 1680}',
        "x from 1,248 to 2,580 px; y from 594 to 1,680 px.",
        "from x = 1248 to x = 2580 and from y = 594 to y = 1680 pixels",
    ],
)
def test_layouts_and_key_aliases(text: str) -> None:
    """Corner + size stated in words or keys, per-axis spans, aliases, thousands separators."""
    assert _boxes(parse_spatial(text, "box", BIG, "pixel_xyxy")) == [B]


def test_named_corners_ignore_a_coco_mention() -> None:
    """A layout named in prose changes only bare lists, never named keys."""
    text = 'Not COCO [x, y, w, h]: {"x_min": 1248, "y_min": 594, "x_max": 2580, "y_max": 1680}'
    assert _boxes(parse_spatial(text, "box", BIG, "pixel_xyxy")) == [B]


def test_lists_without_spaces_are_not_thousands() -> None:
    """``(312,198)`` and ``[312,198,645,560]`` stay lists; ``0,312`` alone is a decimal comma."""
    assert _boxes(parse_spatial("[312,198,645,560]", "box", BIG)) == [B]
    ans = parse_spatial(
        "x_min = 0,312; y_min = 0,198; x_max = 0,645; y_max = 0,560", "box", BIG, "norm1_xyxy"
    )
    assert _boxes(ans) == [B]


def test_markdown_table_rows_and_list_lines_carry_labels() -> None:
    """A table with a label column, and a numbered list, give one labelled box per row/line."""
    table = (
        "| # | label | x_min | y_min | x_max | y_max |\n|---|---|---|---|---|---|\n"
        "| 1 | polyp | 312 | 198 | 645 | 560 |\n| 2 | ulcer | 702 | 610 | 890 | 835 |"
    )
    listed = "1. **Polyp** — (312, 198, 645, 560)\n2. **Ulcer** — (702, 610, 890, 835)"
    for text in (table, listed):
        ans = parse_spatial(text, "labelled_boxes", BIG, labels=["polyp", "ulcer"])
        assert [b.label for b in ans.boxes] == ["polyp", "ulcer"] and _boxes(ans)[0] == B


def test_fractions_just_past_one_are_fractions_clamped() -> None:
    """``1.02`` in a 0..1 answer is an overshoot, not a 0..1000 or pixel answer."""
    ans = parse_spatial("[0.312, 0.198, 0.645, 1.02]", "box", BIG, "norm1_xyxy")
    assert _boxes(ans) == [(1248.0, 594.0, 2580.0, 3000.0)]
    assert ans.status == "repaired" and not ans.ambiguous and ans.n_clamped == 1


def test_spatial_refusal_verbs() -> None:
    """ "I cannot localize ..." with no geometry is a refusal."""
    text = "I cannot localize the lesion because the image is too blurry to interpret."
    assert parse_spatial(text, "box", BIG).status == "refused"


def test_x_range_then_y_range_layout_named_in_words() -> None:
    """ "[x_min, x_max, y_min, y_max]" spelled in the answer reorders a bare list."""
    ans = parse_spatial("Box as [x_min, x_max, y_min, y_max]: [312, 645, 198, 560]", "box", BIG)
    assert _boxes(ans) == [B]


def test_yolo_class_index_maps_onto_the_prompts_labels() -> None:
    """A YOLO class index is the position in the label list; one out of range is kept, noted."""
    text = "0 0.4785 0.379 0.333 0.362\n7 0.796 0.7225 0.188 0.225"
    ans = parse_spatial(text, "labelled_boxes", BIG, labels=["polyp", "ulcer"])
    assert [b.label for b in ans.boxes] == ["polyp", "7"]
    assert any("not one of the given labels" in n for n in ans.notes)


def test_space_thousands_only_before_a_comma_bracket_or_unit() -> None:
    """ "(1 248, 594)" is 1248; "[1 200 300 400]" stays four numbers."""
    text = "Top-left (1 248, 594), bottom-right (2 580, 1 680) pixels."
    assert _boxes(parse_spatial(text, "box", BIG, "pixel_xyxy")) == [B]
    assert _boxes(parse_spatial("[1 200 300 400]", "box", BIG, "pixel_xyxy")) == [
        (1.0, 200.0, 300.0, 400.0)
    ]


def test_long_answers_stay_fast() -> None:
    """A 10,000-vertex answer read as every kind takes seconds, not minutes (no quadratic scan)."""
    import time

    text = str([[i % 997, (i * 7) % 991] for i in range(10_000)])
    start = time.perf_counter()
    for kind in ("polygon", "boxes", "box", "point"):
        parse_spatial(text, kind, ImageGeometry(800, 600))  # type: ignore[arg-type]
    assert time.perf_counter() - start < 60


@pytest.mark.parametrize(
    ("text", "status", "n"),
    [
        ("I cannot see any polyp in this image.", "ok", 0),
        ("Polyps: none", "ok", 0),
        ("As a language model, I cannot view images.", "refused", 0),
        ("I cannot detect lesions in medical images.", "refused", 0),
        ("The image shows a normal colon.", "unparseable", 0),
    ],
)
def test_nothing_found_and_refusals_for_detection(text: str, status: str, n: int) -> None:
    """Seeing nothing is an empty detection; declining the task is a refusal."""
    ans = parse_spatial(text, "labelled_boxes", BIG, labels=["polyp"])
    assert ans.status == status and len(ans.boxes) == n
