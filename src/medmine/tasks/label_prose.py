"""How a free-text answer becomes one label: the classification reading rules.

The rules, in the order they are applied (cues come from :mod:`medmine.cues`, names are
matched by :mod:`medmine.tasks.label_names`):

1. **JSON first.** The last JSON object with a label key (``label``, ``diagnosis``,
   ``answer``, ``class``, ...) is the answer. A value that is exactly a name is ``ok``; a
   value that needs reading ("not pneumonia", "mel (melanoma)") is read with the prose rules
   below and is ``repaired``; an unreadable value with probabilities takes the most probable
   label (``repaired``); otherwise the answer is ``unparseable``.
2. **The whole answer is a name** ("Melanocytic nevi", "NV") → ``ok``.
3. **A stated final / most-likely answer wins** ("Final answer: X", "Diagnosis: X", "most
   likely X", "I would classify this as X", "favour X", "therefore X"), read from the last
   clause that states one, even after a differential, a disclaimer or a refusal phrase.
   A final statement that itself names two labels is ambiguous.
4. **"Cannot determine"** ("I cannot determine whether this is glaucoma without an OCT") →
   ``unparseable``, unless a label is stated outside that clause ("..., but it looks like X").
5. **A refusal is a refusal** even when it names a label ("I'm not able to diagnose pneumonia
   from an image") → ``refused``.
6. **Otherwise every mention is classified**: *negated* — a negation cue before it in the
   same clause ("no", "without", "negative for", "no evidence of", "unlikely", "rather than",
   "non-", and "not"/"isn't" within three words and no comma) or after it ("is not present",
   "is not evident", "is absent", "ruled out", ": negative"); "cannot be excluded" is doubt,
   not negation; *differential* — named after a differential cue in its clause ("the
   differential includes", "less likely", "cannot rule out"); *weak* — a context word (bare
   "normal", anatomy such as "Z-line"); otherwise *affirmed* (hedges such as "possible",
   "likely", "consistent with" still affirm).
   - one affirmed label → that label (``repaired``); two or more ("X or Y") → ambiguous;
   - else one weak label → that label;
   - else negated labels read through complements: in a two-label set with a complement
     (normal/pneumonia, glaucoma/non-glaucoma) "no X" is the other label, and "no X" for a
     label named "no X" ("no diabetic retinopathy") is that label;
   - else a negated label alone in a larger set is not an answer (``unparseable``), and
     names offered only as a differential are ambiguous.
7. Nothing named → ``unparseable``. Ambiguous readings are ``unparseable`` with a detail
   starting "ambiguous", counted in ``ambiguous_rate``; nothing is ever guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from medmine import cues
from medmine.core import LabelTarget, ParseStatus
from medmine.tasks.answer_text import json_candidates, strip_markup
from medmine.tasks.label_names import LabelNames, Mention, NameInfo, names_for

#: Bumped whenever a rule changes; recorded in the recipe and by ``medmine rescore``.
READER_VERSION = "2"

LABEL_KEYS = (
    "label",
    "final_answer",
    "final_label",
    "final_diagnosis",
    "diagnosis",
    "answer",
    "class",
    "category",
    "prediction",
    "classification",
    "result",
    "grade",
    "most_likely",
    "most_likely_diagnosis",
)
PROB_KEYS = ("probabilities", "probability", "scores", "confidences")

_CLAUSE_END = re.compile(r"(?<!\d)[.!?](?!\d)|\n|;")
_TERMINATOR = re.compile(cues.SCOPE_TERMINATORS, re.I)
_WIDE = re.compile(cues.any_of(cues.NEGATION_BEFORE_WIDE), re.I)
_CLOSE = re.compile(cues.any_of(cues.NEGATION_BEFORE_CLOSE), re.I)
_AFTER = [re.compile(p, re.I) for p in cues.NEGATION_AFTER]
_COLON_VALUE = re.compile(cues.NEGATION_AFTER[-1], re.I)
_NOT_EXCLUDED = re.compile(cues.NOT_EXCLUDED + r"\W+(?:[\w'-]+\W+){0,6}$", re.I)
_DIFFERENTIAL = cues.compile_cues(cues.DIFFERENTIAL)
_FINAL = cues.compile_cues(cues.FINAL_ANSWER)
_WORD = re.compile(r"[\w'-]+")
_VERB_STOP = re.compile(cues.VERB_STOP, re.I)
_ALTERNATIVE = re.compile(cues.ALTERNATIVE, re.I)
_VS_AFTER = re.compile(r"^\W*(?:[\w-]+\W+)?(?:versus|vs)\b|^\s*,?\s*or\b", re.I)
_NORMAL_STATEMENT = re.compile(cues.NORMAL_STATEMENT, re.I)
_WIDE_REACH = 6
_CLOSE_REACH = 3

Reading = tuple[str | None, ParseStatus, str | None]


@dataclass(frozen=True)
class _Seen:
    """A mention with its reading in context."""

    mention: Mention
    clause: int
    negated: bool
    differential: bool
    alternative: bool = False


def _clauses(text: str) -> list[tuple[int, int]]:
    """Spans of the text's clauses (cut at sentence ends, new lines and semicolons)."""
    spans, start = [], 0
    for m in _CLAUSE_END.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def _negated(before: str, after: str) -> bool:
    """Whether a mention is negated, given its clause text before and after it."""
    if _NOT_EXCLUDED.search(before):
        return False
    cut = list(_TERMINATOR.finditer(before))
    if cut:
        before = before[cut[-1].end() :]
    for cue in _WIDE.finditer(before):
        gap = before[cue.end() :]
        if len(_WORD.findall(gap)) <= _WIDE_REACH and not _VERB_STOP.search(gap):
            return True
    for cue in _CLOSE.finditer(before):
        gap = before[cue.end() :]
        if "," not in gap and len(_WORD.findall(gap)) <= _CLOSE_REACH:
            return True
    if _COLON_VALUE.search(after):  # "Pneumonia: absent" (the colon also ends scopes)
        return True
    end = _TERMINATOR.search(after)
    after = after[: end.start()] if end else after
    return any(p.search(after) for p in _AFTER)


def _read_mentions(text: str, names: LabelNames) -> list[_Seen]:
    """Every label mention with its reading in context (negated, differential, alternative)."""
    spans = _clauses(text)
    found = names.mentions(text)
    if names.normal_label is not None:
        for m in _NORMAL_STATEMENT.finditer(text):
            if not any(f.start < m.end() and m.start() < f.end for f in found):
                found.append(Mention(NameInfo(names.normal_label, weak=True), m.start(), m.end()))
        found.sort(key=lambda f: f.start)
    out: list[_Seen] = []
    for mention in found:
        idx = max(i for i, (a, _) in enumerate(spans) if a <= mention.start)
        a, b = spans[idx]
        before, after = text[a : mention.start], text[mention.end : b]
        diff = bool(_DIFFERENTIAL.search(before))
        alt = bool(_VS_AFTER.search(after)) or any(
            other.info.label != mention.info.label
            and a <= other.start < b
            and _joined(text, mention, other)
            for other in found
        )
        negated = _negated(before, after)
        out.append(_Seen(mention, idx, negated, diff, alt))
    return out


def _joined(text: str, x: Mention, y: Mention) -> bool:
    """True when two mentions are offered as alternatives ("X or Y", "X vs Y", "X/Y")."""
    lo, hi = (x, y) if x.start < y.start else (y, x)
    gap = text[lo.end : hi.start]
    return bool(_ALTERNATIVE.search(gap)) and len(_WORD.findall(gap)) <= 4


def _decide(seen: list[_Seen], names: LabelNames) -> tuple[str | None, str]:
    """(label, how) from classified mentions; how is 'label', 'ambiguous: ...' or a reason."""
    affirmed = [s for s in seen if not s.negated and not s.differential and s.mention.info.label]
    labels = {str(s.mention.info.label) for s in affirmed}
    offered = {str(s.mention.info.label) for s in affirmed if s.alternative}
    if offered and (len(offered) > 1 or len(labels) == 1):
        return None, f"ambiguous: offered as alternatives {sorted(offered)}"
    strong = names.most_specific(
        {str(s.mention.info.label) for s in affirmed if not s.mention.info.weak}
    )
    for group in (strong, labels):
        if len(group) == 1:
            return next(iter(group)), "label"
        if len(group) > 1:
            return None, f"ambiguous: names {sorted(group)}"
    negated = [s for s in seen if s.negated]
    via: set[str] = set()
    for s in negated:
        info = s.mention.info
        if info.negates_to:
            via.add(info.negates_to)
        elif info.label in names.complement:
            via.add(names.complement[info.label])
    if len(via) == 1:
        return via.pop(), "label"
    if len(via) > 1:
        return None, f"ambiguous: negations point to {sorted(via)}"
    differential = {
        str(s.mention.info.label) for s in seen if s.differential and s.mention.info.label
    }
    if differential:
        return None, f"ambiguous: only a differential {sorted(differential)}"
    if any(s.mention.info.label for s in negated):
        return None, "only negated labels, none stated"
    return None, "no label of the label set named"


def read_phrase(text: str, target: LabelTarget) -> Reading:
    """Read free text (a whole answer or a JSON value) into a label with the prose rules."""
    names = names_for(target)
    plain = strip_markup(text)
    if not plain:
        return None, ParseStatus.UNPARSEABLE, "empty answer"
    whole = names.resolve(plain)
    if whole is not None:
        return whole, ParseStatus.OK, None
    seen = _read_mentions(plain, names)
    for idx, (a, b) in reversed(list(enumerate(_clauses(plain)))):
        finals = list(_FINAL.finditer(plain, a, b))
        if not finals:
            continue
        mine = [s for s in seen if s.clause == idx]
        after = [s for s in mine if s.mention.start >= finals[-1].start()]
        for group in (after, mine):
            label, how = _decide(group, names)
            if label is not None:
                return label, ParseStatus.REPAIRED, "stated final answer"
            if how.startswith("ambiguous"):
                return None, ParseStatus.UNPARSEABLE, f"{how} in the stated answer"
    undetermined = list(cues.CANNOT_DETERMINE_RE.finditer(plain))
    if undetermined:
        blocked = _blocked_spans(plain, undetermined)
        rest = [s for s in seen if not any(a <= s.mention.start < b for a, b in blocked)]
        label, _ = _decide(rest, names)
        if label is not None:
            return label, ParseStatus.REPAIRED, "label stated beside a 'cannot determine'"
        return None, ParseStatus.UNPARSEABLE, "the model says it cannot determine"
    if cues.is_refusal(plain):
        return None, ParseStatus.REFUSED, "the model declined"
    label, how = _decide(seen, names)
    if label is not None:
        return label, ParseStatus.REPAIRED, "label read from prose"
    return None, ParseStatus.UNPARSEABLE, how


def _blocked_spans(text: str, hits: list[re.Match[str]]) -> list[tuple[int, int]]:
    """From each 'cannot determine' cue to the end of its clause or the next 'but'."""
    spans = []
    for hit in hits:
        end = next((b for a, b in _clauses(text) if a <= hit.start() <= b), len(text))
        stop = _TERMINATOR.search(text, hit.end(), end)
        spans.append((hit.start(), stop.start() if stop else end))
    return spans


def parse_label(
    text: str, target: LabelTarget
) -> tuple[str | None, ParseStatus, str | None, dict[str, float] | None]:
    """Read one label (and optional probabilities) from an answer, by the rules above."""
    names = names_for(target)
    for value in reversed(json_candidates(text)):
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
            value = value[0]
        if not isinstance(value, dict):
            continue
        lowered = {str(k).lower().replace(" ", "_"): v for k, v in value.items()}
        probs = read_probs(next((lowered[k] for k in PROB_KEYS if k in lowered), None), names)
        key = next((k for k in LABEL_KEYS if k in lowered), None)
        if key is None and not probs:
            continue
        raw = lowered.get(key) if key else None
        if isinstance(raw, list) and len(raw) == 1:
            raw = raw[0]
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            raw = str(int(raw)) if float(raw).is_integer() else str(raw)
        if isinstance(raw, list) and len(raw) > 1:
            return None, ParseStatus.UNPARSEABLE, f"ambiguous: label list {raw!r}", probs
        if isinstance(raw, str) and raw.strip():
            label, status, detail = read_phrase(raw, target)
            if label is not None:
                note = None if status is ParseStatus.OK else f"label text {raw!r}"
                return label, status, note, probs
            if probs:
                best = max(probs, key=lambda k: probs[k])
                return best, ParseStatus.REPAIRED, "label taken from the highest probability", probs
            if status is ParseStatus.REFUSED:
                return None, status, detail, probs
            return None, ParseStatus.UNPARSEABLE, f"label {raw!r}: {detail}", probs
        if probs:
            best = max(probs, key=lambda k: probs[k])
            return best, ParseStatus.REPAIRED, "label taken from the highest probability", probs
        if cues.is_refusal(text):
            return None, ParseStatus.REFUSED, "the model declined (empty label)", None
        return None, ParseStatus.UNPARSEABLE, f"label field {key!r} is empty", None
    label, status, detail = read_phrase(text, target)
    return label, status, detail, None


def read_probs(raw: object, names: LabelNames) -> dict[str, float] | None:
    """Probabilities keyed by label names, normalised when they are percentages or scores."""
    if not isinstance(raw, Mapping):
        return None
    out: dict[str, float] = {}
    for k, v in raw.items():
        label = names.resolve(str(k))
        try:
            p = float(v)
        except (TypeError, ValueError):
            continue
        if label is not None and 0.0 <= p <= 100.0 and p == p:
            out[label] = p
    if not out:
        return None
    total = sum(out.values())
    if total > 1.0 + 1e-6:
        out = {k: v / total for k, v in out.items()}
    return out
