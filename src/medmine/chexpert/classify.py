"""Classify one mention from its sentence: CheXpert's three rule groups, run quickly.

The rules are those of :mod:`medmine.chexpert.rules` and :mod:`medmine.chexpert.rules_plus`,
applied in CheXpert's order (pre-negation uncertainty, negation, post-negation
uncertainty). What makes this fast, without changing any result:

- each cue group is first searched as one combined pattern (:func:`fast.any_of`), and the
  group's patterns are walked one by one only when that search finds something;
- each pattern matched after the mention is guarded by words every one of its matches
  must contain (``"normal"`` for "X is within normal limits"), so a clause without them
  skips the regular expression; the words are stated next to each pattern below;
- facts about the mention phrase itself (names a structure, a heart word, always uncertain)
  are computed once per phrase.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Final

from medmine.chexpert import fast, rules, rules_plus
from medmine.chexpert.observations import NEGATIVE, POSITIVE, UNCERTAIN

_WORD: Final = re.compile(r"[\w-]+")


class Guarded:
    """A pattern tried only when the text holds one of the words every match contains."""

    __slots__ = ("pattern", "words")

    def __init__(self, pattern: re.Pattern[str], *words: str) -> None:
        """``words``: literal substrings, at least one of which is inside any match."""
        self.pattern = pattern
        self.words = words

    def match(self, text: str) -> bool:
        """Whether ``pattern.match(text)`` matches."""
        for word in self.words:
            if word in text:
                return self.pattern.match(text) is not None
        return False

    def search(self, text: str) -> bool:
        """Whether ``pattern.search(text)`` finds a match."""
        for word in self.words:
            if word in text:
                return self.pattern.search(text) is not None
        return False


# Words required by each pattern (read from the patterns in rules / rules_plus):
# CANNOT ... EXCLUDE_VERB needs "exclud" or "rul"; _NORMAL needs "normal", "unremarkable"
# or "enlarged" (in "not enlarged"); the state list needs one of its verbs or "no longer" /
# "not "; HEART_STABLE needs "stable", "changed" (in "unchanged", "not changed"), "similar",
# "without change" or "borderline".
PRE_NEG_AFTER: Final = Guarded(rules.PRE_NEG_UNCERTAINTY_AFTER, "exclud", "rul")
NEG_AFTER_DIRECT: Final = Guarded(rules.NEGATION_AFTER_DIRECT, "normal", "unremarkable", "enlarged")
NEG_AFTER_NORMAL: Final = Guarded(rules.NEGATION_AFTER_NORMAL, "normal", "unremarkable", "enlarged")
NEG_AFTER_NORMAL_END: Final = Guarded(rules.NEGATION_AFTER_NORMAL_END, "normal", "unremarkable")
NEG_AFTER_STATE: Final = Guarded(
    rules.NEGATION_AFTER_STATE,
    "resolved", "cleared", "removed", "absent", "no longer", "not ",
)  # fmt: skip
NEG_AFTER_RESOLUTION: Final = Guarded(rules.NEGATION_AFTER_RESOLUTION, "resolution")
NEG_NO_TO_SUGGEST: Final = Guarded(
    rules.NEGATION_NO_TO_SUGGEST, "to suggest", "to explain", "to diagnose", "to indicate"
)
UNC_AFTER: Final[tuple[Guarded, ...]] = (
    Guarded(
        rules.UNCERTAINTY_AFTER[0],
        "suspected", "question", "possible", "obscured", "evaluated", "not ",
    ),
    Guarded(rules.UNCERTAINTY_AFTER[1], "be present", "appear"),
    Guarded(rules.UNCERTAINTY_AFTER[2], "or", "versus", "vs"),
)  # fmt: skip
HEART_STABLE_BEFORE: Final = Guarded(
    rules.HEART_STABLE_BEFORE, "stable", "unchanged", "borderline", "similar"
)
HEART_STABLE_AFTER: Final = Guarded(
    rules.HEART_STABLE_AFTER, "stable", "changed", "similar", "without change", "borderline"
)
RESOLVED_BEFORE: Final = Guarded(rules_plus.RESOLVED_BEFORE, "resolved")
# _NORMAL_PHRASE needs one of these words ("enlarged" in "not enlarged").
LIST_NORMAL_AFTER: Final = Guarded(
    rules_plus.LIST_NORMAL_AFTER,
    "normal", "unremarkable", "clear", "intact", "negative", "preserved", "enlarged",
)  # fmt: skip
LIST_NORMAL_END: Final = Guarded(rules_plus.LIST_NORMAL_END, "normal", "unremarkable")


class CueGroup:
    """Cue patterns with word windows, and one combined pattern that finds any of them."""

    __slots__ = ("any", "cues")

    def __init__(self, cues: Sequence[tuple[re.Pattern[str], int]]) -> None:
        """``cues``: (pattern, most words between the cue's last match and the mention)."""
        self.cues = tuple(cues)
        self.any = fast.any_of([pattern for pattern, _ in self.cues])


PRE_NEG_BEFORE: Final = CueGroup(rules.PRE_NEG_UNCERTAINTY_BEFORE)
NEG_BEFORE: Final = CueGroup(rules.NEGATION_BEFORE)
NEG_CLOSE_BEFORE: Final = CueGroup(rules.NEGATION_CLOSE_BEFORE)
UNC_BEFORE: Final = CueGroup(rules.UNCERTAINTY_BEFORE)


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The last of the non-overlapping matches ``pattern.finditer(text)`` yields."""
    last = None
    for last in pattern.finditer(text):  # noqa: B007 - the last match is wanted
        pass
    return last


def cue_before(left: str, group: CueGroup, verb_stop: bool) -> bool:
    """True if a cue's last match in ``left`` is within its word window of the mention.

    With ``verb_stop``, a verb between cue and mention ("no X is seen. Y") ends its reach.
    """
    if group.any.search(left) is None:
        return False
    for pattern, window in group.cues:
        last = _last(pattern, left)
        if last is None:
            continue
        between = left[last.end() :]
        if len(_WORD.findall(between)) > window:
            continue
        if verb_stop and rules.VERB_STOP.search(between):
            continue
        return True
    return False


def close_cue_before(left: str) -> bool:
    """True if "not" or "normal" sits a few words before the mention, with no comma between."""
    if NEG_CLOSE_BEFORE.any.search(left) is None:
        return False
    for pattern, window in NEG_CLOSE_BEFORE.cues:
        last = _last(pattern, left)
        if last is None:
            continue
        between = left[last.end() :]
        if "," not in between and len(_WORD.findall(between)) <= window:
            return True
    return False


@functools.lru_cache(maxsize=1024)
def phrase_facts(phrase: str) -> tuple[bool, bool, bool, bool]:
    """(names a structure, has a heart word, always uncertain, structure-only candidate)."""
    return (
        rules_plus.STRUCTURE.search(phrase) is not None,
        rules.HEART_WORD.search(phrase) is not None,
        phrase in rules.ALWAYS_UNCERTAIN_MENTIONS,
        phrase in rules_plus.STRUCTURE_MENTIONS,
    )


def _plus_negated(structure: bool, left: str, rest: str) -> bool:
    """rules_plus.negated with the phrase's structure fact precomputed and patterns guarded."""
    if RESOLVED_BEFORE.search(left):
        return True
    if not structure:
        return False
    cut = rules_plus.STRONG_TERMINATOR.search(rest)
    tail = rest[: cut.start()] if cut else rest
    return LIST_NORMAL_AFTER.match(tail) or LIST_NORMAL_END.match(tail)


def classify(
    sentence: str, text: str, end: int, left: str, right: str, compat: bool
) -> float | None:
    """Label the mention ``text`` ending at ``end`` with clause ``left`` / ``right``.

    0.0 negated, -1.0 uncertain, 1.0 affirmed; None (medmine, not ``compat``) for a
    structure named without a finding. Same rules and order as CheXpert (module doc).
    """
    structure, heart_word, always_uncertain, structure_mention = phrase_facts(text)
    # 1. Pre-negation uncertainty.
    if cue_before(left, PRE_NEG_BEFORE, verb_stop=False) or PRE_NEG_AFTER.match(right):
        return UNCERTAIN
    # 2. Negation.
    rest = sentence[end:]
    if (
        cue_before(left, NEG_BEFORE, verb_stop=True)
        or close_cue_before(left)
        or NEG_NO_TO_SUGGEST.search(left)
        or NEG_AFTER_DIRECT.match(right)
        or NEG_AFTER_NORMAL.match(right)
        or NEG_AFTER_NORMAL_END.match(right)
        or NEG_AFTER_STATE.match(right)
        or NEG_AFTER_RESOLUTION.match(rest)
        or (not compat and _plus_negated(structure, left, rest))
    ):
        return NEGATIVE
    # medmine: a structure named without a size abnormality is no mention of a finding.
    if not compat and structure_mention and not rules_plus.SIZE_ABNORMAL.search(f"{left} {right}"):
        return None
    # 3. Post-negation uncertainty.
    if always_uncertain or cue_before(left, UNC_BEFORE, verb_stop=True):
        return UNCERTAIN
    if any(guarded.match(right) for guarded in UNC_AFTER):
        return UNCERTAIN
    if heart_word and (HEART_STABLE_BEFORE.search(left) or HEART_STABLE_AFTER.match(right)):
        return UNCERTAIN
    return POSITIVE
