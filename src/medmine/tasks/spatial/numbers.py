"""Numbers written with locale separators, rewritten plainly before any reading.

* Thousands separators: ``1,248`` -> ``1248`` and, before ``px``/``pixels``, ``1.248`` ->
  ``1248`` -- only for a single group of three digits standing alone (not inside ``(..)``,
  ``[..]`` or a comma list written without spaces, so ``(312,198)`` and ``[312,198,645,560]``
  stay lists) and only when the joined value fits the image's longer side (1% slack). Only
  pixel values can reach 1000, so a joined number is a pixel count.
* A space as thousands separator, only before ``,``, ``;``, a closing bracket or a pixel
  unit (``(1 248, 594)``); ``[1 200 300 400]`` stays four numbers.
* Decimal commas: ``0,312`` -> ``0.312`` when it stands alone the same way (``x_min = 0,312;``).

* Markdown emphasis: ``**x_min**: 312`` -> ``x_min: 312`` (``**`` never belongs to geometry).

Anything else is left as written; the rewrite is noted by the caller.
"""

from __future__ import annotations

import re

from medmine.tasks.coords import ImageGeometry

_THOUSANDS = re.compile(r"(?<![\d.,(\[])([1-9]\d{0,2}),(\d{3})(?![\d,)\]]|\.\d)")
_DOT_THOUSANDS = re.compile(r"(?<![\d.,])([1-9]\d{0,2})\.(\d{3})(?=\s*(?:px|pixels?)\b)")
# "(1 248, 594)": a space (or a narrow/no-break space) as the separator, only right before
# a comma, a closing bracket or a pixel unit, so "[1 200 300 400]" stays four numbers
_SPACE_THOUSANDS = re.compile(
    r"(?<![\d.,])([1-9]\d{0,2})[ \u00a0\u202f](\d{3})(?=\s*(?:[,;)\]]|px\b|pixels?\b))"
)
_DECIMAL_COMMA = re.compile(r"(?<![\d.,(\[])0,(\d{1,4})(?![\d,)\]])")


def normalise_numbers(text: str, geometry: ImageGeometry) -> tuple[str, bool]:
    """``text`` with locale numbers plain and emphasis dropped; whether any number changed."""
    limit = 1.01 * max(geometry.width, geometry.height)

    def join(m: re.Match[str]) -> str:
        value = m.group(1) + m.group(2)
        return value if float(value) <= limit else m.group()

    text = text.replace("**", "")
    out = _THOUSANDS.sub(join, text)
    out = _DOT_THOUSANDS.sub(join, out)
    out = _SPACE_THOUSANDS.sub(join, out)
    out = _DECIMAL_COMMA.sub(lambda m: "0." + m.group(1), out)
    return out, out != text
