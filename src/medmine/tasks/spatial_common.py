"""What the three spatial tasks (segmentation, localization, detection) share.

Prompt pieces (the image size sentence, the modality words, the convention in words), the
choice between the box and point spellings of one coordinate convention, and the reading of a
response into a :class:`~medmine.core.Prediction` whose value is a JSON-serialisable dict in
pixel space of the original image::

    {"image_size": [w, h], "boxes": [{"box": [x0, y0, x1, y1], "label": .., "score": ..}],
     "polygons": [[[x, y], ...], ...], "points": [[x, y], ...],
     "convention_seen": "norm1000_xyxy", "n_clamped": 0, "notes": [...]}
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
from medmine.tasks.spatial_parse import Kind, SpatialAnswer, parse_spatial

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


def answer_value(answer: SpatialAnswer, geometry: ImageGeometry) -> dict[str, Any]:
    """The pixel-space, JSON-serialisable form of a parsed answer (stored as Prediction.value)."""
    return {
        "image_size": [geometry.width, geometry.height],
        "boxes": [
            {
                "box": [b.x0, b.y0, b.x1, b.y1],
                "label": b.label,
                "score": b.score if b.score is not None and math.isfinite(b.score) else None,
            }
            for b in answer.boxes
        ],
        "polygons": [[[x, y] for x, y in poly] for poly in answer.polygons],
        "points": [[x, y] for x, y in answer.points],
        "convention_seen": answer.convention_seen,
        "n_clamped": answer.n_clamped,
        "notes": list(answer.notes),
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
    answer = parse_spatial(response.text, kind, geometry, convention, labels)
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
