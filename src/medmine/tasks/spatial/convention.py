"""Which scale and axis order an answer states, resolved against where its geometry was read."""

from __future__ import annotations

from medmine.tasks.coords import ImageGeometry
from medmine.tasks.spatial.units import (
    form_statements,
    nearest,
    order_statements,
    scale_statements,
)


def stated_scale(
    text: str, geometry: ImageGeometry, span: tuple[int, int] | None
) -> tuple[str, str] | None:
    """The scale the answer states nearest to its geometry, and the phrase; else None.

    The scale is ``pixel``, ``norm1000``, ``norm1``, ``percent`` or ``normalized`` (a
    normalised scale whose range the numbers decide).
    """
    chosen = nearest(scale_statements(text, geometry), span)
    return None if chosen is None else (chosen.says, chosen.phrase)


def stated_order(text: str, default: str, span: tuple[int, int] | None = None) -> str:
    """The axis order ('xy' or 'yx') the answer spells nearest to its geometry, else default."""
    chosen = nearest(order_statements(text), span)
    return default if chosen is None else chosen.says


def stated_form(text: str, span: tuple[int, int] | None) -> tuple[str, str] | None:
    """The box layout (xyxy, xywh, cxcywh) the answer names nearest its geometry, and the phrase."""
    chosen = nearest(form_statements(text), span)
    return None if chosen is None else (chosen.says, chosen.phrase)
