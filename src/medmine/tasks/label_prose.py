"""Reading a label from prose: the prose rules of :mod:`medmine.tasks.label_reader`.

Every mention of a label name (:mod:`medmine.tasks.label_names`, after spelling repair) is
classified in its clause as affirmed, negated, differential (including a label passed over
in a preference: "X over Y", "X rather than Y", "X more likely than Y"), doubtful ("X cannot
be excluded", "cannot rule out X", "X is possible", "glaucoma suspect") or weak (context
words); then the first of these decides: a stated final answer, a ranked probability list,
"cannot determine", a refusal, and the affirmed / weak / negated-through-complement mentions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medmine import cues
from medmine.core import LabelTarget, ParseStatus
from medmine.tasks.answer_text import strip_markup
from medmine.tasks.label_names import (
    LabelNames,
    Mention,
    NameInfo,
    names_for,
    spell_out_initials,
)
from medmine.tasks.label_vocab import fold

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
_DOUBT_AFTER = cues.compile_cues(cues.DOUBT_AFTER)
_DOUBT_BEFORE = re.compile(cues.DOUBT_BEFORE, re.I)
_QUERY = re.compile(r"(?:^|[\s(])\?\s*$")  # "?pneumonia": the radiologists' query
_REPLY = re.compile(r"\?\W*(yes|no)\b", re.I)  # "Pneumonia? No." answers its own question
_OR_AGAIN = re.compile(cues.OR_AGAIN, re.I)
_AND_GAP = re.compile(r"^\W*and\W+(?:[\w'-]+\W+){0,2}$", re.I)
_BETWEEN = re.compile(r"\bbetween\s+(?:[\w'-]+\s+){0,3}$", re.I)
_LEAN = re.compile(cues.LEANING, re.I)
_LEAN_AFTER = re.compile(cues.LEANING_AFTER, re.I)
_POSSIBLE = re.compile(cues.POSSIBILITY, re.I)
_SAYS_NO = re.compile(r"(?:no|non|not|without)\b", re.I)
_RANGE_AFTER = re.compile(r"^\s*(?:-|–|—|/|to|or)\s*\d", re.I)
_PASSED_OVER = re.compile(cues.PASSED_OVER, re.I)
_PREFERENCE = re.compile(cues.PREFERENCE, re.I)
_COMPARATIVE = re.compile(cues.COMPARATIVE, re.I)
_PREFERRED = re.compile(cues.PREFERRED_AFTER, re.I)
_PERCENT = r"(\d{1,3}(?:\.\d+)?)\s*%"
_PROB_AFTER = re.compile(
    rf"^\s*[:=(\-–—]?\s*(?:p\s*=\s*)?{_PERCENT}"
    r"|^\s*(?:[:=(\-–—]\s*)?(0?\.\d+|1\.0+)\b|^\s*[:=(\-–—]\s*([01])\b",
    re.I,
)
_PROB_BEFORE = re.compile(rf"{_PERCENT}\s*(?:for\s+|chance\s+of\s+)?$", re.I)
_CONTRAST = {"but", "however", "although", "though", "yet"}
_ABOUT_THIS = re.compile(
    r"\b(?:this|it|the\s+lesion|the\s+image|the\s+finding)\s+(?:is|appears|looks|seems)"
    r"|\blooks?\s+like|\bappears?\s+to\s+be|\bconsistent\s+with|\bsuggestive\s+of",
    re.I,
)
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
    doubt: bool = False
    hedged: bool = False
    partners: frozenset[int] = frozenset()  # starts of other labels it is joined to by "or"
    leaning: bool = False  # "likely X", "most consistent with X": a hedged stated answer
    possible: bool = False  # "it could be X", "might also be X": an open possibility


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
        diff = not _PREFERRED.search(before) and bool(
            _DIFFERENTIAL.search(before) or _passed_over(before)
        )
        partners = frozenset(
            other.start
            for other in found
            if other.info.label is not None
            and other.info.label != mention.info.label
            and a <= other.start < b
            and _joined(text, mention, other)
        )
        doubt, hedged, answered_no = _doubt(text, mention, before, after, b)
        negated = _negated(before, after) or answered_no
        # "no X or Y" lists what is absent; it offers no alternatives
        listed = negated or _SAYS_NO.match(text, mention.start) is not None
        alt = not listed and _offered_open(text, mention, found, b)
        alt = alt or bool(mention.info.numeric and _RANGE_AFTER.search(after))
        cut = list(_TERMINATOR.finditer(before))
        lean = bool(_LEAN.search(before[cut[-1].end() :] if cut else before))
        lean = lean or bool(_LEAN_AFTER.match(after))
        maybe = bool(_POSSIBLE.search(before[cut[-1].end() :] if cut else before))
        out.append(_Seen(mention, idx, negated, diff, alt, doubt, hedged, partners, lean, maybe))
    return out


def _passed_over(before: str) -> bool:
    """True when the mention is the one passed over in a preference ("favour X over Y")."""
    hit = _PASSED_OVER.search(before)
    if hit is None:
        return False
    cue, earlier = hit.group(0).lower(), before[: hit.start()]
    if cue.startswith("over"):
        return bool(_PREFERENCE.search(earlier))
    if cue.startswith("than"):
        return bool(_COMPARATIVE.search(earlier))
    return True


def _doubt(
    text: str, mention: Mention, before: str, after: str, end: int
) -> tuple[bool, bool, bool]:
    """(doubt, hedge, answered no) for a mention in a clause ending at ``end``.

    Doubt: "X cannot be excluded", "cannot exclude X", "X is possible", "X?" left open.
    Hedge: "possible X", "?X" (the answer only in a stated final answer). "X? No." is a
    negation and "X? Yes." an answer.
    """
    asked = text[end : end + 1] == "?"
    reply = _REPLY.match(text, end) if asked else None
    doubt = bool(_DOUBT_AFTER.search(after) or _NOT_EXCLUDED.search(before))
    doubt = doubt or (asked and reply is None)
    cut = list(_TERMINATOR.finditer(before))
    scope = before[cut[-1].end() :] if cut else before
    hedged = bool(_DOUBT_BEFORE.search(scope) or _QUERY.search(text, 0, mention.start))
    return doubt, hedged, bool(reply and reply.group(1).lower() == "no")


def _offered_open(text: str, mention: Mention, found: list[Mention], end: int) -> bool:
    """True for "X or ..." / "X vs ..." unless what follows is another name of X itself."""
    if not _VS_AFTER.search(text[mention.end : end]):
        return False
    nxt = next((m for m in found if m.start >= mention.end), None)
    near = nxt is not None and nxt.start < end and _joined(text, mention, nxt)
    return not (near and nxt is not None and nxt.info.label == mention.info.label)


def _joined(text: str, x: Mention, y: Mention) -> bool:
    """True when two mentions are offered as alternatives ("X or Y", "X vs Y", "X/Y")."""
    lo, hi = (x, y) if x.start < y.start else (y, x)
    gap, words = text[lo.end : hi.start], len(_WORD.findall(text[lo.end : hi.start]))
    if _ALTERNATIVE.search(gap) and words <= 4:
        return True
    if _OR_AGAIN.match(gap) and words <= 7:  # "could be X or it could be Y"
        return True
    return bool(_AND_GAP.match(gap) and _BETWEEN.search(text, max(0, lo.start - 40), lo.start))


def _affirmed(seen: list[_Seen]) -> bool:
    """True when some mention is stated plainly (no negation, doubt or differential)."""
    return any(
        s.mention.info.label and not (s.negated or s.differential or s.doubt or s.hedged)
        for s in seen
    )


def _decide(seen: list[_Seen], names: LabelNames, stated: bool = False) -> tuple[str | None, str]:
    """(label, how) from classified mentions; how is 'label', 'ambiguous: ...' or a reason.

    ``stated`` is set when reading a stated final answer: there a label kept open with
    doubt beside it ("most likely X, though Y cannot be excluded") does not make it
    ambiguous, and a hedge is the answer ("Final answer: possibly X"); elsewhere the first
    is ambiguous ("could be X, but Y is also possible") and "possible X" is doubt.
    """
    affirmed = [
        s
        for s in seen
        if not s.negated
        and not s.differential
        and not s.doubt
        and not (s.hedged and not stated)
        and s.mention.info.label
    ]
    labels = {str(s.mention.info.label) for s in affirmed}
    here = {s.mention.start for s in seen}
    offered = {str(s.mention.info.label) for s in affirmed if s.alternative or (s.partners & here)}
    doubtful = {
        str(s.mention.info.label)
        for s in seen
        if (s.doubt or (s.hedged and not stated)) and s.mention.info.label
    }
    leaning = {str(s.mention.info.label) for s in affirmed if s.leaning}
    if doubtful and labels and not stated and doubtful - labels and len(leaning) != 1:
        return None, f"ambiguous: {sorted(labels)} with {sorted(doubtful - labels)} kept open"
    possible = {str(s.mention.info.label) for s in affirmed if s.possible}
    if len(possible) > 1 and not stated and len(leaning) != 1:
        return None, f"ambiguous: each only possible {sorted(possible)}"
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
    if doubtful:
        return (
            None,
            f"only offered with doubt {sorted(doubtful)} ('possible', 'cannot be excluded', '?')",
        )
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
    plain, fixes = names.correct(plain)
    label, status, why = _read_prose(plain, names)
    if label is None and not names.mentions(plain):  # "retinal vein occlusion" for "RVO"
        spelt, notes = spell_out_initials(plain, names.labels)
        if notes:
            label, status, why = _read_prose(spelt, names)
            fixes = fixes + notes
    if fixes and label is not None:
        repair = f"name repaired: {', '.join(fixes)}"
        return label, ParseStatus.REPAIRED, f"{why}; {repair}" if why else repair
    return label, status, why


def _read_prose(plain: str, names: LabelNames) -> Reading:
    """The prose rules, in order, over a (spelling-repaired) answer."""
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
            label, how = _decide(group, names, stated=True)
            if label is not None:
                return _narrower(label, "stated final answer", plain, group, names)
            if how.startswith("ambiguous") and (group is mine or _affirmed(group)):
                return None, ParseStatus.UNPARSEABLE, f"{how} in the stated answer"
    ranked = _ranked(plain, seen)
    if ranked is not None:
        return ranked
    undetermined = list(cues.CANNOT_DETERMINE_RE.finditer(plain))
    if undetermined:
        blocked = _blocked_spans(plain, undetermined)
        rest = [s for s in seen if not any(a <= s.mention.start < b for a, b in blocked)]
        label, _ = _decide(rest, names)
        if label is not None:
            return label, ParseStatus.REPAIRED, "label stated beside a 'cannot determine'"
        if cues.DECLINE_TO_TELL_RE.search(plain) and cues.REDIRECT_RE.search(plain):
            return None, ParseStatus.REFUSED, "the model declined and sent the user to a clinician"
        return None, ParseStatus.UNPARSEABLE, "the model says it cannot determine"
    if cues.is_refusal(plain):
        label, _ = _decide(_beside_refusal(plain, seen), names)
        if label is not None:
            return label, ParseStatus.REPAIRED, "label stated after a disclaimer ('..., but X')"
        return None, ParseStatus.REFUSED, "the model declined"
    label, how = _decide(seen, names)
    if label is not None:
        return _narrower(label, "label read from prose", plain, seen, names)
    return None, ParseStatus.UNPARSEABLE, how


def _narrower(label: str, why: str, text: str, seen: list[_Seen], names: LabelNames) -> Reading:
    """The label, unless a clause naming it also has a word of a narrower label's name
    ("the polyp was lifted with a blue injection": polyps or dyed lifted polyps?); words
    inside a name found in the text do not count ("caries (not deep caries)")."""
    hints = names.hints.get(label)
    if hints:
        spans = _clauses(text)
        for s in seen:
            if s.mention.info.label != label:
                continue
            a, b = spans[s.clause]
            bare = list(text[a:b])
            for o in seen:  # words inside a name were read with that name
                if a <= o.mention.start < b:
                    bare[o.mention.start - a : o.mention.end - a] = " " * (
                        o.mention.end - o.mention.start
                    )
            words = set(re.findall(r"[a-z]+", fold("".join(bare))[0]))
            hit = sorted(words & hints.keys())
            if hit:
                other = hints[hit[0]]
                return (
                    None,
                    ParseStatus.UNPARSEABLE,
                    f"ambiguous: {label} named, {hit} point to {other}",
                )
    return label, ParseStatus.REPAIRED, why


def _ranked(text: str, seen: list[_Seen]) -> Reading | None:
    """A probability list over two or more labels ("melanoma 45%, nevus 40%"): its top label
    when strictly highest, ambiguous on a tie; None when the answer is not such a list."""
    probs: dict[str, float] = {}
    for s in seen:
        label = s.mention.info.label
        if label is None or s.negated:
            continue
        after = _PROB_AFTER.search(text[s.mention.end : s.mention.end + 24])
        before = _PROB_BEFORE.search(text[max(0, s.mention.start - 24) : s.mention.start])
        hit = after or before
        if hit is None:
            continue
        pct, *rest = hit.groups()
        value = float(pct) / 100.0 if pct else float(next(g for g in rest if g))
        probs[label] = max(probs.get(label, 0.0), value)
    if len(probs) < 2:
        return None
    order = sorted(probs.items(), key=lambda kv: kv[1], reverse=True)
    if order[0][1] == order[1][1]:
        return None, ParseStatus.UNPARSEABLE, f"ambiguous: tied top probabilities {order[:2]}"
    return order[0][0], ParseStatus.REPAIRED, "highest of the stated probabilities"


def _beside_refusal(text: str, seen: list[_Seen]) -> list[_Seen]:
    """Mentions said of this image after a contrast in a refusal's own sentence ("I can't
    diagnose, but this appears to be X"); a label named otherwise ("but any changing mole
    should be checked") or elsewhere beside a refusal stays refused."""
    spans = _clauses(text)
    out: list[_Seen] = []
    for hit in cues.REFUSAL_RE.finditer(text):
        end = next((b for a, b in spans if a <= hit.start() <= b), len(text))
        turn = _TERMINATOR.search(text, hit.end(), end)
        if turn is None or turn.group(0).strip().lower() not in _CONTRAST:
            continue
        for s in seen:
            if turn.end() <= s.mention.start < end and _ABOUT_THIS.search(
                text, turn.end(), s.mention.start
            ):
                out.append(s)
    return out


def _blocked_spans(text: str, hits: list[re.Match[str]]) -> list[tuple[int, int]]:
    """From each 'cannot determine' cue to the end of its clause or the next 'but'."""
    spans = []
    for hit in hits:
        end = next((b for a, b in _clauses(text) if a <= hit.start() <= b), len(text))
        stop = _TERMINATOR.search(text, hit.end(), end)
        spans.append((hit.start(), stop.start() if stop else end))
    return spans
