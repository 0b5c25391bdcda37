"""Turn a model's free-text answer into boxes, polygons or points in pixel space.

``parse_spatial`` never raises on a string answer: whatever the model wrote comes back as a
:class:`SpatialAnswer` whose ``status`` says whether geometry was read (``ok``), read after a
repair (``repaired``), refused, or unreadable. What was detected and repaired is written in
``convention_seen`` and ``notes``.

Where geometry is looked for, in this order (the first source that yields geometry wins).
Locale-written numbers are first rewritten plainly (``1,248 px`` -> ``1248``, ``0,312`` ->
``0.312``; see :mod:`medmine.tasks.spatial.numbers`).

00. Model-family tokens whose scale the format fixes (Qwen2-VL ``<|box_start|>``, Florence-2
   ``<loc_N>``, PaliGemma ``<locNNNN>``, Kosmos-2 ``<patch_index_N>``, Molmo ``<point x=".."
   y="..">`` (percent), YOLO lines; see
   :mod:`medmine.tasks.spatial.tokens`): read in that scale whatever was asked, never
   ambiguous. Gemini's JSON key ``box_2d`` (``[ymin, xmin, ymax, xmax]`` on 0..1000) is
   such a format too, unless the answer states another scale. When values of a 0..1000
   format exceed 1000 and every value fits the image in pixels, they are read as pixels and
   flagged ``ambiguous`` with the 0..1000 reading kept in ``alternatives`` (never clamped
   silently). Qwen2.5-VL's ``bbox_2d`` states no scale: its documented absolute pixels are
   those of the model's resized input and Qwen3-VL writes 0..1000 under the same key, so it
   is x-first but read in the asked scale with the ordinary ambiguity rules.
0. For boxes, per-axis intervals in prose (``x ∈ [310, 620], y ∈ [270, 740]``): read as JSON
   they would be two corner points.

1. Fenced code blocks (```` ```json ... ``` ````, any or no language tag; an unclosed last
   fence runs to the end of the text). The **last** block that yields geometry of the
   requested kind is used: models put worked examples or a first try before their final
   answer. A block that only parses after truncation repair is used only when no complete
   block yields geometry.
2. Bracketed JSON-like values ``[...]``/``{...}`` anywhere in the text. For the plural kinds
   (``boxes``, ``polygons``, ``labelled_boxes``) the items of every such value are joined in
   order; for the singular kinds the last value that yields geometry is used.
2b. A markdown table with a header naming coordinates, each row read as a JSON object keyed
   by the header cells (:mod:`medmine.tasks.spatial.tables`). For plural kinds, an answer
   with one box per line ("1. Polyp at [..]") is read line by line when that yields at least
   as many items as the whole text, each labelled by its line's leading words.
3. Prose: ``(x, y)`` tuples, ``x=120, y=80`` (also Molmo's ``x="12.5"``), ``x_min: 120``,
   ``x1=120 ... y2=300``, ``left: 120, top: ...``, a markdown table of those, ``centered at
   (x, y)`` with ``width``/``height``, ``x=120, y=80, w=260, h=220``, ranges ``x: 120-300,
   y: 80-260`` or "120 to 300 pixels horizontally", 4-tuples ``(x0, y0, x1, y1)``,
   ``box: 120, 80, 380, 300``, ``<box>120 80 380 300</box>``, or a bare list of numbers.

Relaxed JSON is accepted: single quotes, Python tuples, ``True/None``, trailing commas,
unquoted keys, missing commas between numbers or brackets, ``NaN``/``Infinity``, numbers
with ``%`` or ``px``. Truncated JSON (an answer cut off by the token limit) is closed after
its last complete element: ``[[10, 20], [30, 40], [50, 60], [70,`` is read as the
three-vertex polygon before the cut, with status ``repaired``. If too little is left, e.g.
``[[10, 20], [30,`` for a polygon (one vertex), the answer is ``unparseable``. A number
right at the cut may itself be cut short, so it is dropped: ``[61, 9, 691, 639`` keeps three
numbers and is no box.

Convention detection (one decision per answer; values with their own ``%``/``px`` unit keep
it; the full rules are in :mod:`medmine.tasks.spatial.scale`). The asked convention is
assumed unless the answer says or shows otherwise:

* **a stated scale always wins**: "in pixels", "pixel coordinates", "260 pixels", ``120px``,
  ``"unit": "px"``, ``bbox_px``, "normalized", "0-1000", "0-1", "percent(ages) of the image";
  mentions of the image's own size ("the image is 800 pixels wide") are not statements. When
  statements disagree, the one nearest to the geometry read wins
  (:mod:`medmine.tasks.spatial.units`);
* all values within 0..1 and one written with a decimal point -> 0..1;
* values that do not fit the asked scale switch it only on evidence: values more than 20%
  beyond its range in two places or in every item, with another scale fitting them all. One
  such value among several items, or values just past the edge, never switch the answer:
  they are clamped and the answer is flagged ambiguous;
* **ambiguous** (the flag is set exactly when the two readings differ by more than 2 px at
  some corner or vertex, and the odds below do not rule the other scale out; a 0..1000 box on
  a 1024 px image differs from the pixel reading by more than 2 px only once a value reaches
  84; values all within 0..100 also fit percent, a further rival): when the numbers also
  fit another scale -- typically pixels of this image -- whose reading differs by more than
  2 px, nothing states the scale and the numbers do not favour the asked scale at least 4:1
  (a 0..1000 answer on a 4000x3000 image is not ambiguous; on an 800x600 image whose pixels
  it fits, it is), the answer is read in the
  asked convention, ``ambiguous`` is True and the other reading is kept in ``alternatives``.
  The status is unchanged (the asked reading is scored); the flag is counted, never silent.

Axis order: named keys (``x_min``, ``x``, ``cx``, ``width``...) are unambiguous. Bare
lists follow the expected order, except under the key ``box_2d`` (Gemini writes
``[y_min, x_min, y_max, x_max]`` there) and when the answer text spells an order
(``[ymin, xmin, ...]``, ``(y, x)``, ``[top, left, bottom, right]`` switch to y-first;
``[x_min, y_min, ...]``, ``(x, y)`` to x-first; the spelling nearest the geometry wins).
``bbox_2d`` (Qwen2.5-VL) is x-first. ``box_2d`` named in prose is a y-first spelling too
(prose naming it does not fix the scale; only the JSON key does).
Prompts that want x-first answers should therefore not ask for a ``box_2d`` key. A bare
4-number list follows a layout the answer names ("COCO", ``[x, y, w, h]``, ``xywh``,
``cxcywh``; the naming nearest the geometry wins); named keys are never changed by it.

Boxes may be written as corners (``[x0, y0, x1, y1]``, two corner points), as a corner and
a size (``x, y, width, height``) or as a centre and a size (``cx, cy, w, h`` or ``center``,
``width``, ``height``). Swapped corners are put in order (``repaired``, noted). Items with
NaN or infinite values, negative sizes or the wrong number of values are dropped with a note; an
answer with some items dropped is ``repaired``, with none left ``unparseable``. Values
outside the image are clamped to its edges, counted in ``n_clamped`` and make the answer
``repaired`` (its numbers were changed). A polygon's
repeated closing vertex is dropped. When the requested shape is missing but another is
present, it is converted and marked ``repaired``: a polygon's bounding box for box kinds, a
box's centre for points, a box's four corners for polygons. A single point where a box or a
polygon was asked is not converted: the answer is ``unparseable``, noting that a point is not
a box (or polygon). Singular kinds keep one item (the highest ``score`` if every item has
one, else the first) and are ``repaired`` when more were given.

Empty answers: for the plural kinds an explicit empty list (``[]``, ``{"boxes": []}``) or a
statement such as "No lesion detected" / "none found" is a valid answer with zero items
(``ok``). For singular kinds it is ``unparseable``. A refusal ("I cannot...", "I'm unable
to...", "as an AI...") with no geometry is ``refused``; it is checked before the
empty-statement rule ("I cannot localize lesions" is a refusal; "I cannot see any lesion",
"Polyps: none" state that nothing was found). An answer that tried but could not find or
place the finding ("I cannot see a clear polyp, so I can't give a box", "I can't determine
its exact location") is *cannot determine*, ``unparseable``, not a refusal -- unless it
also declines on principle or sends the user to a professional ("please consult a
radiologist"), which stays ``refused``.
"""

from __future__ import annotations

from collections.abc import Sequence

from medmine.tasks.coords import CONVENTIONS, ImageGeometry
from medmine.tasks.spatial.answer import (
    FAMILY,
    KINDS,
    PLURAL_KINDS,
    Box,
    Kind,
    Point,
    Polygon,
    Reading,
    SpatialAnswer,
    Status,
)
from medmine.tasks.spatial.assemble import assemble
from medmine.tasks.spatial.numbers import normalise_numbers
from medmine.tasks.spatial.prose import extract_intervals, extract_prose
from medmine.tasks.spatial.raw import Found
from medmine.tasks.spatial.statements import cannot_locate, is_refusal, states_nothing_found
from medmine.tasks.spatial.structured import choose_structured
from medmine.tasks.spatial.tables import extract_lines, extract_table
from medmine.tasks.spatial.tokens import extract_tokens, ref_labels

__all__ = [
    "KINDS",
    "PARSER_VERSION",
    "Box",
    "Kind",
    "Point",
    "Polygon",
    "Reading",
    "SpatialAnswer",
    "Status",
    "parse_spatial",
]

PARSER_VERSION = "4"  # 4: box_2d/token scale fixed, overflow -> pixels, axis spans, cannot-locate
# 3: model-family tokens, tables, layouts, locale numbers, clamp=repaired


def parse_spatial(
    text: str,
    kind: Kind,
    geometry: ImageGeometry,
    expected: str = "norm1000_xyxy",
    labels: Sequence[str] | None = None,
) -> SpatialAnswer:
    """Read boxes, polygons or points of ``kind`` from a model answer, in pixel space.

    ``expected`` is the convention the prompt asked for (see ``medmine.tasks.coords``);
    the answer's statements or numbers may override it, or leave its scale ambiguous, as
    described in this module's docstring. Bad
    arguments (unknown kind or convention, wrong geometry type, non-string text) raise
    ``ValueError``; any string ``text`` returns a ``SpatialAnswer``.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not isinstance(geometry, ImageGeometry):
        raise ValueError(f"geometry must be an ImageGeometry, got {type(geometry).__name__}")
    if expected not in CONVENTIONS:
        raise ValueError(
            f"unknown expected convention {expected!r}; expected one of {', '.join(CONVENTIONS)}"
        )
    if labels is not None:
        if isinstance(labels, str) or not all(isinstance(lb, str) for lb in labels):
            raise ValueError("labels must be a sequence of strings")
        labels = tuple(labels)
    try:
        return _parse(text, kind, geometry, expected, labels)
    except Exception as exc:  # safety net for the never-raise contract; tests assert unused
        return SpatialAnswer(
            status="unparseable",
            notes=(f"internal parser error: {type(exc).__name__}: {exc}",),
        )


def _parse(
    text: str, kind: str, geometry: ImageGeometry, expected: str, labels: tuple[str, ...] | None
) -> SpatialAnswer:
    """The parsing pipeline behind ``parse_spatial`` (arguments already validated)."""
    if not text.strip():
        return SpatialAnswer(status="unparseable", notes=("empty answer",))
    family = FAMILY[kind]
    text, rewritten = normalise_numbers(text, geometry)
    found = extract_tokens(text, family)
    if found is None and family == "box":
        found = extract_intervals(text)
    if found is None:
        found = choose_structured(text, family, kind)
        _label_from_refs(found, text)
    if found is None or not found.raws:
        found = extract_table(text, family, kind) or found
    from_prose = False
    if found is None or not found.raws:
        prose = extract_prose(text, family)
        if prose.raws:
            prose.notes.insert(0, "coordinates read from prose")
            found, from_prose = prose, True
    if kind in PLURAL_KINDS:
        found = _one_item_per_line(found, text, family, from_prose)
    notes: list[str] = []
    if rewritten:
        notes.append("thousands separators or decimal commas read as plain numbers")
    if found is not None:
        notes += found.notes
    if found is None or not found.raws:
        plural = kind in PLURAL_KINDS
        if found is not None and found.explicit_empty:
            if plural:
                return SpatialAnswer(status="ok", notes=("explicit empty list: no items",))
            return SpatialAnswer(
                status="unparseable",
                notes=(*notes, f"empty list given, but kind {kind!r} needs one item"),
            )
        if is_refusal(text):
            return SpatialAnswer(status="refused", notes=("refusal, no geometry given",))
        if plural and states_nothing_found(text):
            return SpatialAnswer(status="ok", notes=("answer states that nothing was found",))
        if cannot_locate(text):
            return SpatialAnswer(
                status="unparseable",
                notes=(*notes, "the answer says it cannot locate the finding (not a refusal)"),
            )
        return SpatialAnswer(status="unparseable", notes=(*notes, "no geometry found"))
    return assemble(found, kind, family, geometry, expected, labels, text, notes)


def _label_from_refs(found: Found | None, text: str) -> None:
    """Give unlabelled items the ``<ref>label</ref>`` labels InternVL writes before its boxes.

    One ref labels every item; as many refs as items label them in order; otherwise none.
    """
    if found is None or not found.raws or any(r.label for r in found.raws):
        return
    refs = ref_labels(text)
    if len(set(refs)) == 1:
        refs = refs[:1] * len(found.raws)
    if len(refs) == len(found.raws):
        for raw, label in zip(found.raws, refs, strict=True):
            raw.label = label


def _one_item_per_line(
    found: Found | None, text: str, family: str, from_prose: bool
) -> Found | None:
    """Use a list's lines (one labelled box each) for unlabelled items.

    Items read from JSON keep their geometry and take the lines' labels when the counts
    agree; prose, which reads one box per answer, gives way to two or more lines.
    """
    if found is not None and any(r.label for r in found.raws):
        return found
    lines = extract_lines(text, family)
    if lines is None:
        return found
    if found is None or not found.raws or (from_prose and len(lines.raws) > len(found.raws)):
        return lines
    if len(lines.raws) == len(found.raws):
        for raw, line in zip(found.raws, lines.raws, strict=True):
            raw.label = line.label
    return found
