"""Shape conversion: another shape stands in when the requested one is missing."""

from __future__ import annotations

import numpy as np

from medmine.tasks.spatial.pixels import Tally
from medmine.tasks.spatial.raw import RawItem


def convert_shape(raws: list[RawItem], family: str, tally: Tally) -> list[RawItem]:
    """Keep items of the requested family, converting other shapes when none match."""
    wanted = [r for r in raws if r.shape == family]
    if wanted:
        return wanted
    out: list[RawItem] = []
    if family == "box" and len(raws) >= 2 and all(r.shape == "point" for r in raws):
        if len(raws) % 2:
            tally.notes.append("odd number of corner points; the last was ignored")
        for a, b in zip(raws[0::2], raws[1::2], strict=False):
            units = None
            if a.units is not None or b.units is not None:
                units = (*(a.units or (None, None)), *(b.units or (None, None)))
            out.append(
                RawItem(
                    "box",
                    np.concatenate([a.values, b.values]),
                    units,
                    a.has_decimal or b.has_decimal,
                    "xyxy",
                    a.order or b.order,
                    a.label,
                    a.score,
                    fixed=a.fixed if a.fixed == b.fixed else None,
                )
            )
        tally.notes.append("box corners given as separate points; paired in order")
        return out
    for r in raws:
        if family == "box" and r.shape == "polygon" and r.values.size >= 6:
            pts = r.values.reshape(-1, 2)
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            out.append(_copy_raw(r, "box", np.concatenate([lo, hi]), "bounding box of a polygon"))
        elif family == "point" and r.shape == "box" and r.form == "xyxy":
            v = r.values
            centre = np.array([(v[0] + v[2]) / 2, (v[1] + v[3]) / 2])
            out.append(_copy_raw(r, "point", centre, "centre of a box"))
        elif family == "point" and r.shape == "polygon":
            centre = r.values.reshape(-1, 2).mean(axis=0)
            out.append(_copy_raw(r, "point", centre, "mean vertex of a polygon"))
        elif family == "polygon" and r.shape == "box" and r.form == "xyxy":
            a, b, c, d = r.values
            corners = np.array([a, b, c, b, c, d, a, d])
            out.append(_copy_raw(r, "polygon", corners, "corners of a box"))
    if not out and raws and all(r.shape == "point" for r in raws) and family != "point":
        tally.notes.append(
            f"a point was given where a {family} was asked; a point is not a {family}"
        )
    if out:
        tally.repaired = True
        names = sorted({r.converted_from for r in out if r.converted_from})
        tally.notes.append(f"no {family} given; used the {', '.join(names)} instead")
    return out


def _copy_raw(r: RawItem, shape: str, values: np.ndarray, why: str) -> RawItem:
    """A converted item keeping the source's units only when they are uniform."""
    units = None
    if r.units is not None and len(set(r.units)) == 1:
        units = (r.units[0],) * values.size
    return RawItem(
        shape,  # type: ignore[arg-type]
        values,
        units,
        r.has_decimal,
        "xyxy",
        r.order,
        r.label,
        r.score,
        converted_from=why,
        fixed=r.fixed,
    )
