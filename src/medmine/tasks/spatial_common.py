"""What the three spatial tasks (segmentation, localization, detection) share.

Prompt pieces (the image size sentence, the modality words, the convention in words), the
choice between the box and point spellings of one coordinate convention, and the reading of a
response into a :class:`~medmine.core.Prediction` whose value is a JSON-serialisable dict in
pixel space of the original image::

    {"image_size": [w, h], "boxes": [{"box": [x0, y0, x1, y1], "label": .., "score": ..}],
     "polygons": [[[x, y], ...], ...], "points": [[x, y], ...],
     "convention_seen": "norm1000_xyxy", "n_clamped": 0, "notes": [...],
     "ambiguous": false, "ambiguity_px": 0.0,
     "alternatives": [{"convention": "pixel_xyxy", "boxes": [...], "polygons": [...],
                       "points": [...]}]}

``ambiguous`` is True when the answer's scale cannot be known (see
:mod:`medmine.tasks.spatial.scale`): the geometry is the reading in the asked convention and
``alternatives`` holds the other reading(s), in the same pixel-space form; ``ambiguity_px`` is
the largest distance between the readings (a report may treat small ones as immaterial).

:func:`read_spatial_answer` reads one answer text without a Sample (for ``medmine parse``),
and :func:`answer_row` turns its Prediction into the JSON line that command writes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from medmine.core import ParseStatus, Prediction, Response, Sample
from medmine.tasks.coords import (
    BOX_CONVENTIONS,
    CONVENTIONS,
    ImageGeometry,
    convention_name,
    parse_convention,
)
from medmine.tasks.spatial_parse import KINDS, Kind, Reading, SpatialAnswer, parse_spatial

MODALITY = {
    "dermatology": "dermoscopic skin lesion image",
    "radiology": "radiograph",
    "dentistry": "dental radiograph",
    "ophthalmology": "fundus photograph",
    "endoscopy": "endoscopy image",
}

_STATUS = {
    "ok": ParseStatus.OK,
    "repaired": ParseStatus.REPAIRED,
    "refused": ParseStatus.REFUSED,
    "unparseable": ParseStatus.UNPARSEABLE,
}


def check_convention(convention: str) -> str:
    """Validate a task's coordinate-convention option (any box or point spelling)."""
    if convention not in CONVENTIONS:
        raise ValueError(
            f"unknown coordinate convention {convention!r}; "
            f"expected one of {', '.join(CONVENTIONS)}"
        )
    return convention


def box_spelling(convention: str) -> str:
    """The box spelling (``..._xyxy``/``..._yxyx``) of a convention given in either spelling."""
    spec = parse_convention(convention)
    return convention_name(spec.scale, spec.order, "box")


def point_spelling(convention: str) -> str:
    """The point/polygon spelling (``..._xy``/``..._yx``) of a convention in either spelling."""
    spec = parse_convention(convention)
    return convention_name(spec.scale, spec.order, "point")


def image_geometry(sample: Sample) -> ImageGeometry:
    """Size of the sample's first image: the frame every answer is converted into."""
    if not sample.images:
        raise ValueError(f"sample {sample.id!r} has no image")
    w, h = sample.images[0].dimensions()
    return ImageGeometry(int(w), int(h))


def modality(sample: Sample) -> str:
    """Words for the kind of image, from the sample's category."""
    return MODALITY.get(sample.category or "", "medical image")


def size_sentence(geometry: ImageGeometry) -> str:
    """The prompt sentence stating the image size in pixels."""
    return f"The image is {geometry.width} pixels wide and {geometry.height} pixels high."


def number_schema() -> dict[str, Any]:
    """JSON schema of one coordinate value."""
    return {"type": "number"}


def pair_schema() -> dict[str, Any]:
    """JSON schema of a point: two numbers."""
    return {"type": "array", "items": number_schema(), "minItems": 2, "maxItems": 2}


def box_schema() -> dict[str, Any]:
    """JSON schema of a box: four numbers."""
    return {"type": "array", "items": number_schema(), "minItems": 4, "maxItems": 4}


def _geometry_value(read: SpatialAnswer | Reading) -> dict[str, Any]:
    """The boxes, polygons and points of a reading as JSON-serialisable lists."""
    return {
        "boxes": [
            {
                "box": [b.x0, b.y0, b.x1, b.y1],
                "label": b.label,
                "score": b.score if b.score is not None and math.isfinite(b.score) else None,
            }
            for b in read.boxes
        ],
        "polygons": [[[x, y] for x, y in poly] for poly in read.polygons],
        "points": [[x, y] for x, y in read.points],
    }


def answer_value(answer: SpatialAnswer, geometry: ImageGeometry) -> dict[str, Any]:
    """The pixel-space, JSON-serialisable form of a parsed answer (stored as Prediction.value)."""
    return {
        "image_size": [geometry.width, geometry.height],
        **_geometry_value(answer),
        "convention_seen": answer.convention_seen,
        "n_clamped": answer.n_clamped,
        "notes": list(answer.notes),
        "ambiguous": answer.ambiguous,
        "ambiguity_px": answer.ambiguity_px,
        "alternatives": [
            {"convention": alt.convention, **_geometry_value(alt)} for alt in answer.alternatives
        ],
    }


def empty_value(geometry: ImageGeometry | None, note: str) -> dict[str, Any]:
    """The value of a prediction with no geometry (error, refusal): same keys, empty lists."""
    return {
        "image_size": None if geometry is None else [geometry.width, geometry.height],
        "boxes": [],
        "polygons": [],
        "points": [],
        "convention_seen": "none",
        "n_clamped": 0,
        "notes": [note],
        "ambiguous": False,
        "ambiguity_px": 0.0,
        "alternatives": [],
    }


def read_prediction(
    response: Response,
    sample: Sample,
    kind: Kind,
    convention: str,
    labels: Sequence[str] | None = None,
) -> Prediction:
    """Read a response into a Prediction; never raises.

    Provider errors give ``ERROR``, provider refusals ``REFUSED``; otherwise the text goes
    through :func:`~medmine.tasks.spatial_parse.parse_spatial` and its status is kept (answers
    the parser calls ``refused``/``unparseable`` are scored as misses by every task).
    """
    try:
        geometry = image_geometry(sample)
    except (OSError, ValueError) as exc:
        return Prediction(empty_value(None, str(exc)), ParseStatus.ERROR, f"image: {exc}")
    if response.error is not None:
        return Prediction(
            empty_value(geometry, "provider error"), ParseStatus.ERROR, response.error
        )
    if response.refused:
        note = "blocked by the provider"
        return Prediction(empty_value(geometry, note), ParseStatus.REFUSED, note)
    return _prediction(parse_spatial(response.text, kind, geometry, convention, labels), geometry)


def _prediction(answer: SpatialAnswer, geometry: ImageGeometry) -> Prediction:
    """The Prediction of a parsed answer: pixel-space value, status, notes as detail."""
    detail = "; ".join(answer.notes) or None
    return Prediction(answer_value(answer, geometry), _STATUS[answer.status], detail)


def value_of(prediction: Prediction) -> dict[str, Any]:
    """The geometry dict of a usable prediction, or an empty one for failures (misses)."""
    if prediction.usable and isinstance(prediction.value, dict):
        return prediction.value
    return {"boxes": [], "polygons": [], "points": []}


def is_box_convention(convention: str) -> bool:
    """True when the name is a box spelling."""
    return convention in BOX_CONVENTIONS


# Task names (and the parser's own kinds) that read_spatial_answer accepts.
TASK_KINDS: dict[str, Kind | None] = {
    "segmentation": "polygons",
    "detection": "labelled_boxes",
    "localization": None,  # box or point, from the convention's spelling or ``answer``
}


def read_spatial_answer(
    text: str,
    task_kind: str,
    width: int,
    height: int,
    convention: str = "norm1000_xyxy",
    labels: Sequence[str] | None = None,
    answer: str | None = None,
) -> Prediction:
    """Read one spatial answer text into a Prediction without a Sample (``medmine parse``).

    ``task_kind`` is ``segmentation`` (polygons), ``detection`` (labelled boxes, mapped onto
    ``labels`` when given), ``localization`` or one of the parser kinds (``box``, ``boxes``,
    ``polygon``, ``polygons``, ``point``, ``labelled_boxes``). ``convention`` is the one the
    prompt asked for, in either spelling. For localization, ``answer`` is the answer form the
    prompt asked for (``box``, ``point`` or ``both``); by default the convention's spelling
    decides (``..._xyxy`` a box, ``..._xy`` a point). The value is the same dict the tasks
    store (pixel space of a ``width`` x ``height`` image, ``ambiguous``, ``alternatives``).
    Bad arguments raise ValueError naming the argument; any answer text returns a Prediction.
    """
    check_convention(convention)
    geometry = ImageGeometry(int(width), int(height))
    if task_kind in KINDS:
        kinds: list[Kind] = [task_kind]  # type: ignore[list-item]
    elif task_kind in ("segmentation", "detection"):
        kinds = [TASK_KINDS[task_kind]]  # type: ignore[list-item]
    elif task_kind == "localization":
        form = answer or ("box" if is_box_convention(convention) else "point")
        if form not in ("box", "point", "both"):
            raise ValueError(f"localization answer must be box, point or both, got {form!r}")
        kinds = ["box", "point"] if form == "both" else [form]  # type: ignore[list-item]
    else:
        raise ValueError(
            f"unknown spatial task {task_kind!r}; expected segmentation, localization, "
            f"detection or one of {', '.join(KINDS)}"
        )
    preds = []
    for kind in kinds:
        spelled = box_spelling(convention) if kind in _BOX_KINDS else point_spelling(convention)
        preds.append(_prediction(parse_spatial(text, kind, geometry, spelled, labels), geometry))
    return preds[0] if len(preds) == 1 else combine_box_point(preds[0], preds[1])


_BOX_KINDS = frozenset({"box", "boxes", "labelled_boxes"})


def combine_box_point(box: Prediction, point: Prediction) -> Prediction:
    """One prediction from the box reading and the point reading of the same answer.

    Usable when either is; ``ok`` only when both are ``ok``. The value is ambiguous when
    either reading is, and keeps both readings' alternatives and notes.
    """
    if not box.usable and not point.usable:
        return box
    value = dict(box.value if box.usable else point.value)
    value["boxes"] = box.value["boxes"] if box.usable else []
    value["points"] = point.value["points"] if point.usable else []
    value["notes"] = [*box.value.get("notes", []), *point.value.get("notes", [])]
    value["ambiguous"] = any(p.usable and p.value.get("ambiguous") for p in (box, point))
    value["ambiguity_px"] = max(
        (float(p.value.get("ambiguity_px") or 0.0) for p in (box, point) if p.usable), default=0.0
    )
    value["alternatives"] = [
        alt for p in (box, point) if p.usable for alt in p.value.get("alternatives", [])
    ]
    both_ok = box.status == point.status == ParseStatus.OK
    missing = [] if both_ok else [n for n, p in (("box", box), ("point", point)) if not p.usable]
    detail = "; ".join(
        [*(f"no usable {m}" for m in missing), *(d for d in (box.detail, point.detail) if d)]
    )
    return Prediction(value, ParseStatus.OK if both_ok else ParseStatus.REPAIRED, detail or None)


def answer_row(prediction: Prediction) -> dict[str, Any]:
    """The JSON line ``medmine parse`` writes for a spatial prediction (without ``id``).

    ``boxes`` are pixel ``[x0, y0, x1, y1]`` lists (``labels`` alongside, for detection),
    ``points`` ``[x, y]``, ``polygons`` lists of ``[x, y]``; ``ambiguous`` and
    ``alternatives`` (the other reading's boxes/points/polygons) as in the stored value;
    ``why`` the parser's notes.
    """
    value = prediction.value if isinstance(prediction.value, dict) else {}
    boxes = value.get("boxes") or []
    return {
        "status": str(prediction.status),
        "boxes": [b["box"] for b in boxes],
        "labels": [b.get("label") for b in boxes],
        "points": value.get("points") or [],
        "polygons": value.get("polygons") or [],
        "ambiguous": bool(value.get("ambiguous")),
        "ambiguity_px": float(value.get("ambiguity_px") or 0.0),
        "alternatives": [
            {
                "convention": alt["convention"],
                "boxes": [b["box"] for b in alt.get("boxes", [])],
                "points": alt.get("points", []),
                "polygons": alt.get("polygons", []),
            }
            for alt in value.get("alternatives") or []
        ],
        "convention_seen": value.get("convention_seen", "none"),
        "why": prediction.detail or "",
    }


def ambiguous_rate(predictions: Sequence[Prediction]) -> float:
    """Share of predictions whose scale could not be known (for a task's metrics)."""
    if not predictions:
        return float("nan")
    flagged = sum(1 for p in predictions if isinstance(p.value, dict) and p.value.get("ambiguous"))
    return flagged / len(predictions)
