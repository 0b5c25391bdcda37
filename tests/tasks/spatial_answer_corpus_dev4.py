# ruff: noqa: E501  (one answer per line reads better than wrapped strings)
"""A fourth development set: the breadth of spatial styles real models produce.

Same rules as :mod:`spatial_answer_corpus`. Written before looking at how the reader handles
each style, covering the model families' own formats (Gemini ``box_2d`` with ``mask``,
Qwen2-VL ``<|box_start|>`` tokens, Qwen2.5-VL absolute ``bbox_2d``, InternVL ``<ref>/<box>``,
Florence-2 ``<loc_N>``, PaliGemma ``<locNNNN>`` (y first, 1024 bins), Kosmos-2 patch indices
(32 x 32 grid, patch centres), CogVLM zero-padded ``[[086,...]]``, LLaVA 0..1 floats, YOLO
lines), COCO ``[x, y, w, h]`` when stated, centre/size prose, percentages, "from ... to ...",
markdown tables, numbered lists, nested JSON, key aliases, text around JSON, truncated JSON,
thousands separators, decimal commas, stated units and grids, stated scales that differ from
the asked one, overshoots, refusals and "nothing found".

Careful readings: a format whose scale is fixed by the model family (location tokens, Qwen2-VL
box tokens) is read in that scale whatever was asked; a value just past the image edge is
clipped and the answer is ``repaired`` (the numbers were changed); the scale is ambiguous
when the numbers fit the asked scale and this image's pixels, nothing states which and the
two readings differ by more than 2 px (see :mod:`medmine.tasks.spatial.scale` for the odds
rule on large images).

First run against the reader as it was (commit f3340fa), before any fix: 84/126 read right
(66.7%), 11 silent wrong readings, every ambiguous answer flagged. (One expectation of mine,
v105, broke the documented rule -- values <= 100 on 0..1000 also fit percent -- and was moved
to a 1010 px image before that count; it does not change the reader.) Misses: location tokens
(Florence-2, PaliGemma, Kosmos-2), YOLO lines, COCO/xywh stated in words or a key, Qwen2-VL
tokens when pixels were asked, ``box_2d`` in prose, x/y ranges as keys, labels of numbered
lists, markdown tables with a label column, thousands separators and decimal commas, "on a
1000x1000 grid", percent prose, clipped overshoots not marked repaired.
"""

from __future__ import annotations

from spatial_answer_corpus import NYX, Case, D, L, N, P, S, fb, nb, npoly, npt, pb

W, H = 4000, 3000  # a large photo: 0..1000 numbers cannot be its pixels (odds 12:1)
F = "norm1_xyxy"
PC = "percent_xyxy"
B = nb(W, H, 312, 198, 645, 560)  # [1248, 594, 2580, 1680]
B2 = nb(W, H, 702, 610, 890, 835)  # [2808, 1830, 3560, 2505]


def cwh(cx: float, cy: float, w: float, h: float) -> list[float]:
    """A centre/size box (any unit already in pixels) as corners."""
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def xywh(x: float, y: float, w: float, h: float) -> list[float]:
    """A corner/size box (pixels) as corners."""
    return [x, y, x + w, y + h]


def kpatch(w: int, h: int, a: int, b: int) -> list[float]:
    """A Kosmos-2 box from two patch indices of a 32 x 32 grid (patch centres)."""
    ra, ca, rb, cbb = a // 32, a % 32, b // 32, b % 32
    return [(ca + 0.5) * w / 32, (ra + 0.5) * h / 32, (cbb + 0.5) * w / 32, (rb + 0.5) * h / 32]


def floc(w: int, h: int, *b: int) -> list[float]:
    """A Florence-2 box from ``<loc_N>`` bins (1000 bins, bin centres)."""
    return [(b[0] + 0.5) * w / 1000, (b[1] + 0.5) * h / 1000, (b[2] + 0.5) * w / 1000, (b[3] + 0.5) * h / 1000]


def pali(w: int, h: int, y0: int, x0: int, y1: int, x1: int) -> list[float]:
    """A PaliGemma box from ``<locNNNN>`` tokens (y first, 1024 bins)."""
    return [x0 * w / 1024, y0 * h / 1024, x1 * w / 1024, y1 * h / 1024]


DEV4: list[Case] = [
    # ------------------------------------------------------------- Gemini / MedGemma box_2d
    Case("v001", L, W, H, N, '```json\n[\n  {"box_2d": [198, 312, 560, 645], "label": "polyp"}\n]\n```', [B]),
    Case("v002", D, W, H, NYX, '```json\n[\n  {"box_2d": [198, 312, 560, 645], "mask": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAQAAAAEACAAAAAB5Gfe6AAAA2", "label": "polyp"}\n]\n```', [B], labels=["polyp"], box_labels=["polyp"]),
    Case("v003", D, W, H, NYX, '```json\n[\n  {"box_2d": [198, 312, 560, 645], "label": "polyp"},\n  {"box_2d": [610, 702, 835, 890], "label": "ulcer"}\n]\n```', [B, B2], labels=["polyp", "ulcer"], box_labels=["polyp", "ulcer"]),
    Case("v004", L, W, H, N, 'Here is the bounding box for the lesion:\n```json\n[{"box_2d": [198, 312, 560, 645], "label": "lesion"}]\n```\nThe coordinates are normalized to 0-1000.', [B]),
    Case("v005", L, W, H, N, "The nodule is located in the right upper lobe.\n\n```json\n{\n  \"label\": \"nodule\",\n  \"box_2d\": [198, 312, 560, 645]\n}\n```", [B]),
    Case("v006", D, W, H, NYX, "```json\n[]\n```\nNo polyps are visible in this frame.", boxes=[], labels=["polyp"]),
    Case("v007", L, W, H, N, 'MedGemma: The opacity is at box_2d: [198, 312, 560, 645].', [B]),
    # ------------------------------------------------------------- Qwen2-VL tokens (0..1000)
    Case("v008", L, W, H, N, "<|object_ref_start|>the polyp<|object_ref_end|><|box_start|>(312,198),(645,560)<|box_end|>", [B]),
    Case("v009", D, W, H, N, "<|object_ref_start|>polyp<|object_ref_end|><|box_start|>(312,198),(645,560)<|box_end|><|object_ref_start|>polyp<|object_ref_end|><|box_start|>(702,610),(890,835)<|box_end|>", [B, B2], labels=["polyp"], box_labels=["polyp", "polyp"]),
    Case("v010", L, 800, 600, P, "<|object_ref_start|>lesion<|object_ref_end|><|box_start|>(312,198),(645,560)<|box_end|>", [nb(800, 600, 312, 198, 645, 560)]),
    Case("v011", L, W, H, N, "<|box_start|>(312,198),(645,560)<|box_end|>", [B]),
    # ------------------------------------------------------------- Qwen2.5-VL bbox_2d pixels
    Case("v012", L, W, H, P, '```json\n[\n\t{"bbox_2d": [1248, 594, 2580, 1680], "label": "polyp"}\n]\n```', [B]),
    Case("v013", L, W, H, N, '```json\n[\n\t{"bbox_2d": [1248, 594, 2580, 1680], "label": "polyp"}\n]\n```', [B]),
    Case("v014", D, W, H, P, '```json\n[\n\t{"bbox_2d": [1248, 594, 2580, 1680], "label": "polyp"},\n\t{"bbox_2d": [2808, 1830, 3560, 2505], "label": "polyp"}\n]\n```', [B, B2], labels=["polyp"], box_labels=["polyp", "polyp"]),
    Case("v015", L, 1280, 960, P, '```json\n[{"bbox_2d": [402, 188, 815, 611], "label": "lesion"}]\n```', [[402, 188, 815, 611]], ambiguous=True),
    Case("v016", D, W, H, P, '```json\n[\n\t{"bbox_2d": [1248, 594, 2580, 1680], "label": "Polyps"}\n]\n```', [B], labels=["polyp"], box_labels=["polyp"]),
    # ------------------------------------------------------------- InternVL <ref><box>
    Case("v017", L, W, H, N, "<ref>polyp</ref><box>[[312, 198, 645, 560]]</box>", [B]),
    Case("v018", D, W, H, N, "<ref>polyp</ref><box>[[312, 198, 645, 560], [702, 610, 890, 835]]</box>", [B, B2], labels=["polyp"], box_labels=["polyp", "polyp"]),
    Case("v019", L, W, H, N, "The lesion is at <ref>lesion</ref><box>[[312,198,645,560]]</box>.", [B]),
    # ------------------------------------------------------------- Florence-2 / PaliGemma / Kosmos-2
    Case("v020", L, 2000, 1500, N, "polyp<loc_312><loc_198><loc_645><loc_560>", [floc(2000, 1500, 312, 198, 645, 560)]),
    Case("v021", L, 2000, 1500, P, "polyp<loc_312><loc_198><loc_645><loc_560>", [floc(2000, 1500, 312, 198, 645, 560)]),
    Case("v022", L, 2048, 1536, N, "<loc0203><loc0320><loc0574><loc0660> polyp", [pali(2048, 1536, 203, 320, 574, 660)]),
    Case("v023", L, 2048, 1536, N, "<phrase>a polyp</phrase><object><patch_index_0137><patch_index_0725></object>", [kpatch(2048, 1536, 137, 725)]),
    Case("v024", D, 2000, 1500, N, "polyp<loc_312><loc_198><loc_645><loc_560>polyp<loc_702><loc_610><loc_890><loc_835>", [floc(2000, 1500, 312, 198, 645, 560), floc(2000, 1500, 702, 610, 890, 835)], labels=["polyp"], box_labels=["polyp", "polyp"]),
    # ------------------------------------------------------------- CogVLM / Shikra / LLaVA
    Case("v025", L, W, H, N, "The polyp is located at [[312,198,645,560]].", [B]),
    Case("v026", L, W, H, N, "The lesion [[086,123,456,789]] is visible in the lower left.", [nb(W, H, 86, 123, 456, 789)]),
    Case("v027", L, W, H, N, "Answer: [[056,098,245,310]]", [nb(W, H, 56, 98, 245, 310)]),
    Case("v028", L, W, H, N, "The polyp is at [0.31, 0.20, 0.65, 0.56].", [fb(W, H, 0.31, 0.20, 0.65, 0.56)]),
    Case("v029", L, 800, 600, N, "[0.31, 0.2, 0.65, 0.56]", [fb(800, 600, 0.31, 0.2, 0.65, 0.56)]),
    Case("v030", L, W, H, F, "There is a polyp in the image [0.312, 0.198, 0.645, 0.560]", [B]),
    Case("v031", L, W, H, N, "Shikra: a polyp [0.312,0.198,0.645,0.560].", [B]),
    # ------------------------------------------------------------- YOLO lines
    Case("v032", L, W, H, N, "YOLO format (class x_center y_center width height, normalized):\n0 0.4785 0.379 0.333 0.362", [cwh(0.4785 * W, 0.379 * H, 0.333 * W, 0.362 * H)]),
    Case("v033", D, W, H, N, "```\npolyp 0.4785 0.379 0.333 0.362\npolyp 0.796 0.7225 0.188 0.225\n```", [cwh(0.4785 * W, 0.379 * H, 0.333 * W, 0.362 * H), cwh(0.796 * W, 0.7225 * H, 0.188 * W, 0.225 * H)], labels=["polyp"], box_labels=["polyp", "polyp"]),
    Case("v034", L, W, H, N, "In YOLO format: `0 0.4785 0.379 0.333 0.362`", [cwh(0.4785 * W, 0.379 * H, 0.333 * W, 0.362 * H)]),
    # ------------------------------------------------------------- COCO xywh when stated
    Case("v035", L, W, H, P, "COCO format [x, y, width, height]: [1248, 594, 1332, 1086]", [B]),
    Case("v036", L, W, H, P, '{"bbox": [1248, 594, 1332, 1086], "bbox_format": "xywh"}', [B]),
    Case("v037", L, W, H, N, "Bounding box as [x, y, w, h] on the 0-1000 scale: [312, 198, 333, 362]", [B]),
    Case("v038", D, W, H, P, '```json\n{"annotations": [{"category": "polyp", "bbox": [1248, 594, 1332, 1086]}], "format": "COCO (x, y, width, height)"}\n```', [B], labels=["polyp"], box_labels=["polyp"]),
    Case("v039", L, W, H, N, '{"x": 312, "y": 198, "width": 333, "height": 362}', [B]),
    Case("v040", L, W, H, N, '{"top_left": [312, 198], "width": 333, "height": 362}', [B]),
    # ------------------------------------------------------------- centre and size
    Case("v041", L, W, H, N, "Center (478.5, 379), width 333, height 362.", [B]),
    Case("v042", L, W, H, P, "The lesion is centred at (1914, 1137) px with a width of 1332 px and a height of 1086 px.", [B]),
    Case("v043", L, W, H, N, '{"center": [478.5, 379], "size": [333, 362]}', [B]),
    Case("v044", L, W, H, N, '{"cx": 478.5, "cy": 379, "w": 333, "h": 362}', [B]),
    Case("v045", L, W, H, N, "- Center: x=478.5, y=379\n- Size: 333 x 362", [B]),
    # ------------------------------------------------------------- percentages
    Case("v046", L, W, H, N, "The polyp spans from 31.2% to 64.5% of the image width and from 19.8% to 56% of its height.", [B]),
    Case("v047", L, W, H, PC, "[31.2, 19.8, 64.5, 56.0]", [B]),
    Case("v048", L, W, H, N, '{"x_min": "31.2%", "y_min": "19.8%", "x_max": "64.5%", "y_max": "56%"}', [B]),
    Case("v049", L, W, H, N, "Bounding box in percentages: left 31.2, top 19.8, right 64.5, bottom 56.", [B]),
    Case("v050", L, W, H, N, "x: 31.2%–64.5%, y: 19.8%–56%", [B]),
    # ------------------------------------------------------------- prose from/to
    Case("v051", L, W, H, N, "The lesion extends from (312, 198) to (645, 560).", [B]),
    Case("v052", L, W, H, N, "Horizontally it runs from 312 to 645, and vertically from 198 to 560 (0–1000 scale).", [B]),
    Case("v053", L, W, H, P, "The polyp occupies the region from x = 1248 to x = 2580 and from y = 594 to y = 1680 pixels.", [B]),
    Case("v054", L, W, H, N, "Top-left corner at (312, 198) and bottom-right corner at (645, 560).", [B]),
    Case("v055", L, W, H, N, "Upper-left: (312, 198)\nLower-right: (645, 560)", [B]),
    Case("v056", L, W, H, N, "The bounding box starts at x=312, y=198 and ends at x=645, y=560.", [B]),
    Case("v057", L, W, H, N, "Let me think step by step. The polyp appears in the centre-left of the frame, slightly above the middle. Its left edge is around 312 and its right edge around 645; the top is near 198 and the bottom near 560.\n\nFinal answer: [312, 198, 645, 560]", [B]),
    # ------------------------------------------------------------- markdown tables and lists
    Case("v058", D, W, H, N, "| # | label | x_min | y_min | x_max | y_max |\n|---|---|---|---|---|---|\n| 1 | polyp | 312 | 198 | 645 | 560 |\n| 2 | polyp | 702 | 610 | 890 | 835 |", [B, B2], labels=["polyp"], box_labels=["polyp", "polyp"]),
    Case("v059", L, W, H, N, "| Coordinate | Value |\n|---|---|\n| x_min | 312 |\n| y_min | 198 |\n| x_max | 645 |\n| y_max | 560 |", [B]),
    Case("v060", D, W, H, N, "I found two polyps:\n\n1. Polyp at [312, 198, 645, 560]\n2. Polyp at [702, 610, 890, 835]", [B, B2], labels=["polyp"], box_labels=["polyp", "polyp"]),
    Case("v061", D, W, H, N, "1. **Polyp** — (312, 198, 645, 560), confidence 0.91\n2. **Ulcer** — (702, 610, 890, 835), confidence 0.64", [B, B2], labels=["polyp", "ulcer"], box_labels=["polyp", "ulcer"]),
    Case("v062", D, W, H, N, "- polyp: x1=312, y1=198, x2=645, y2=560\n- polyp: x1=702, y1=610, x2=890, y2=835", [B, B2], labels=["polyp"], box_labels=["polyp", "polyp"]),
    Case("v063", D, W, H, N, "| Finding | Bounding box (x1, y1, x2, y2) |\n|---|---|\n| Polyp | 312, 198, 645, 560 |\n| Polyp | 702, 610, 890, 835 |", [B, B2], labels=["polyp"], box_labels=["polyp", "polyp"]),
    # ------------------------------------------------------------- nested JSON and key aliases
    Case("v064", D, W, H, N, '{"detections": [{"bbox": {"x1": 312, "y1": 198, "x2": 645, "y2": 560}, "class": "polyp", "confidence": 0.87}]}', [B], labels=["polyp"], box_labels=["polyp"]),
    Case("v065", D, W, H, N, '{"detections": [{"bbox": {"xmin": 312, "ymin": 198, "xmax": 645, "ymax": 560}, "label": "polyp"}, {"bbox": {"xmin": 702, "ymin": 610, "xmax": 890, "ymax": 835}, "label": "polyp"}]}', [B, B2], labels=["polyp"], box_labels=["polyp", "polyp"]),
    Case("v066", L, W, H, N, '{"bounding_box": {"left": 312, "top": 198, "right": 645, "bottom": 560}}', [B]),
    Case("v067", L, W, H, N, '{"box": {"x_min": 312, "y_min": 198, "x_max": 645, "y_max": 560}}', [B]),
    Case("v068", L, W, H, N, '{"box": {"x": 312, "y": 198, "w": 333, "h": 362}}', [B]),
    Case("v069", L, W, H, N, '{"region": {"top_left": {"x": 312, "y": 198}, "bottom_right": {"x": 645, "y": 560}}}', [B]),
    Case("v070", L, W, H, N, '{"x": [312, 645], "y": [198, 560]}', [B]),
    Case("v071", L, W, H, N, '{"x_range": [312, 645], "y_range": [198, 560]}', [B]),
    Case("v072", L, W, H, N, '{"x0": 312, "x1": 645, "y0": 198, "y1": 560}', [B]),
    Case("v073", L, W, H, N, '{"xMin": 312, "yMin": 198, "xMax": 645, "yMax": 560}', [B]),
    Case("v074", L, W, H, N, '{"minX": 312, "minY": 198, "maxX": 645, "maxY": 560}', [B]),
    Case("v075", L, W, H, N, '{"lesion": {"bbox": [312, 198, 645, 560], "description": "sessile polyp"}}', [B]),
    Case("v076", D, W, H, N, '{"findings": [{"finding": "polyp", "location": {"bbox": [312, 198, 645, 560]}}]}', [B], labels=["polyp"], box_labels=["polyp"]),
    Case("v077", L, W, H, N, '{"top": 198, "left": 312, "bottom": 560, "right": 645}', [B]),
    Case("v078", L, W, H, N, '{"ymin": 198, "xmin": 312, "ymax": 560, "xmax": 645}', [B]),
    Case("v079", L, W, H, N, '{"upper_left": [312, 198], "lower_right": [645, 560]}', [B]),
    Case("v080", L, W, H, N, '{"p1": [312, 198], "p2": [645, 560]}', [B]),
    # ------------------------------------------------------------- text around JSON, truncation
    Case("v081", L, W, H, N, '{"box": [312, 198, 645, 560]}\n\nNote: coordinates are approximate; the polyp margins are poorly defined.', [B]),
    Case("v082", L, W, H, N, 'Sure! {"bbox": [312, 198, 645, 560], "label": "polyp", "confidence": 0.8} Let me know if you need anything else.', [B]),
    Case("v083", D, W, H, N, '```json\n{"boxes": [{"box": [312, 198, 645, 560], "label": "polyp"}, {"box": [702, 610', [B], status="repaired", labels=["polyp"], box_labels=["polyp"]),
    Case("v084", D, W, H, N, '```json\n[\n  {"bbox": [312, 198, 645, 560], "label": "polyp"},\n  {"bbox": [702, 610, 890', [B], status="repaired", labels=["polyp"], box_labels=["polyp"]),
    Case("v085", L, W, H, N, '{"box": [312, 198, 645', status="unparseable"),
    # ------------------------------------------------------------- thousands separators, decimal commas
    Case("v086", L, W, H, P, "x from 1,248 to 2,580 px; y from 594 to 1,680 px.", [B]),
    Case("v087", L, W, H, P, "Bounding box (pixels): x_min = 1,248; y_min = 594; x_max = 2,580; y_max = 1,680", [B]),
    Case("v088", L, W, H, F, "x_min = 0,312; y_min = 0,198; x_max = 0,645; y_max = 0,560", [B]),
    Case("v089", L, W, H, P, "Die Läsion liegt bei x_min: 1.248 px, y_min: 594 px, x_max: 2.580 px, y_max: 1.680 px.", [B]),
    Case("v090", L, W, H, P, "Top-left (1 248, 594), bottom-right (2 580, 1 680) pixels.", [B]),
    # ------------------------------------------------------------- stated units and grids
    Case("v091", L, W, H, P, "On a 1000x1000 grid the lesion is at [312, 198, 645, 560].", [B]),
    Case("v092", L, W, H, P, "[0.312, 0.198, 0.645, 0.560] (normalized 0-1)", [B]),
    Case("v093", L, 800, 600, N, "[250, 119, 516, 336] (in pixels)", [[250, 119, 516, 336]]),
    Case("v094", L, 800, 600, N, '{"box": [250, 119, 516, 336], "units": "pixels"}', [[250, 119, 516, 336]]),
    Case("v095", L, 800, 600, N, "Pixel coordinates: x1=250, y1=119, x2=516, y2=336", [[250, 119, 516, 336]]),
    Case("v096", L, 800, 600, N, "Bounding box: [312, 198, 645, 560] (coordinates normalized to 1000).", [nb(800, 600, 312, 198, 645, 560)]),
    Case("v097", L, 800, 600, P, "Box (0-1000 normalized): [312, 198, 645, 560]", [nb(800, 600, 312, 198, 645, 560)]),
    Case("v098", L, 800, 600, P, "The box in relative coordinates is [0.312, 0.198, 0.645, 0.56].", [fb(800, 600, 0.312, 0.198, 0.645, 0.56)]),
    Case("v099", L, W, H, N, "Bounding box (as a fraction of image size): x 0.312–0.645, y 0.198–0.560.", [B]),
    Case("v100", L, 800, 600, N, "x_min: 250px, y_min: 119px, x_max: 516px, y_max: 336px", [[250, 119, 516, 336]]),
    Case("v101", L, W, H, N, "[312, 198, 645, 560] on a scale of 0 to 1000", [B]),
    # ------------------------------------------------------------- the ambiguous scale
    Case("v102", L, 800, 600, N, "[250, 119, 516, 336]", [nb(800, 600, 250, 119, 516, 336)], ambiguous=True),
    Case("v103", L, 1024, 1024, N, '{"bbox": [312, 198, 645, 560]}', [nb(1024, 1024, 312, 198, 645, 560)], ambiguous=True),
    Case("v104", L, 1002, 1002, N, '{"bbox": [312, 198, 645, 560]}', [nb(1002, 1002, 312, 198, 645, 560)]),
    Case("v105", L, 1010, 1010, N, '{"bbox": [120, 150, 180, 200]}', [nb(1010, 1010, 120, 150, 180, 200)]),
    Case("v106", L, 1010, 1010, N, '{"bbox": [120, 150, 180, 260]}', [nb(1010, 1010, 120, 150, 180, 260)], ambiguous=True),
    Case("v107", L, 640, 480, P, '{"bbox": [120, 96, 410, 330]}', [[120, 96, 410, 330]], ambiguous=True),
    # ------------------------------------------------------------- overshoot, negatives, swapped
    Case("v108", L, W, H, N, "[312, 198, 1004, 560]", [[1248, 594, 4000, 1680]], status="repaired"),
    Case("v109", L, W, H, N, "[-3, 198, 645, 560]", [[0, 594, 2580, 1680]], status="repaired"),
    Case("v110", L, W, H, N, "[645, 560, 312, 198]", [B], status="repaired"),
    Case("v111", L, W, H, N, '{"x_min": 645, "y_min": 198, "x_max": 312, "y_max": 560}', [B], status="repaired"),
    Case("v112", L, 800, 600, P, "[250, 119, 805, 336]", [[250, 119, 800, 336]], status="repaired", ambiguous=True),
    Case("v113", L, W, H, F, "[0.312, 0.198, 0.645, 1.02]", [[1248, 594, 2580, 3000]], status="repaired"),
    # ------------------------------------------------------------- points and polygons
    Case("v114", L, W, H, "norm1000_xy", "<|object_ref_start|>polyp<|object_ref_end|><|box_start|>(478,379)<|box_end|>", points=[npt(W, H, 478, 379)]),
    Case("v115", L, W, H, "norm1000_xy", '```json\n[{"point": [379, 478], "label": "polyp"}]\n```\nThe point is given as [y, x] normalized to 0-1000.', points=[npt(W, H, 478, 379)]),
    Case("v116", L, W, H, "norm1000_xy", "The centre of the lesion is at x = 47.8%, y = 37.9%.", points=[npt(W, H, 478, 379)]),
    Case("v117", L, W, H, N, "The polyp centre is at (478, 379).", status="unparseable"),
    Case("v118", S, W, H, "norm1000_xy", '```json\n{"polygon": [[312, 198], [645, 198], [645, 560], [312, 560]]}\n```', polygons=[npoly(W, H, (312, 198), (645, 198), (645, 560), (312, 560))]),
    Case("v119", S, W, H, "norm1000_xy", "Polygon vertices (x, y): (312, 198), (645, 198), (645, 560), (312, 560).", polygons=[npoly(W, H, (312, 198), (645, 198), (645, 560), (312, 560))]),
    Case("v120", S, W, H, "norm1000_xy", '{"segmentation": [[312, 198, 645, 198, 645, 560, 312, 560]]}', polygons=[npoly(W, H, (312, 198), (645, 198), (645, 560), (312, 560))]),
    # ------------------------------------------------------------- refusals, nothing found
    Case("v121", D, W, H, N, "No polyp visible.", boxes=[], labels=["polyp"]),
    Case("v122", D, W, H, N, "I don't see any polyps in this image, so there are no bounding boxes to report.", boxes=[], labels=["polyp"]),
    Case("v123", D, W, H, N, '{"detections": [], "comment": "no abnormality detected"}', boxes=[], labels=["polyp"]),
    Case("v124", L, W, H, N, "I'm not able to provide precise coordinates for medical findings. Please consult a radiologist.", status="refused"),
    Case("v125", L, W, H, N, "I cannot localize the lesion because the image is too blurry to interpret.", status="refused"),
    Case("v126", D, W, H, N, "The image quality is too poor to identify polyps.", status="unparseable", labels=["polyp"]),
]
