"""The rule labeler as it was before its speed work (commit c2d0719), kept as the reference.

tests/chexpert/test_golden.py compares the optimised labeler with this straightforward path
on generated reports, and benchmarks/labeler_speed.py --reference times it. It reads the
same phrase lists and cue patterns (medmine.chexpert.rules, rules_plus). Do not optimise it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from medmine.chexpert import rules, rules_plus
from medmine.chexpert.observations import (
    CARDIOMEGALY,
    NEGATIVE,
    NO_FINDING,
    OBSERVATIONS,
    POSITIVE,
    SUPPORT_DEVICES,
    UNCERTAIN,
)

_AND_OR = re.compile(r"and/or")
_SLASH = re.compile(r"(?<=[a-zA-Z])/(?=[a-zA-Z])")
_PUNCT_SPACE = str.maketrans({".": ". ", ",": ", "})
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
_WORD = re.compile(r"[\w-]+")

_MENTION_PHRASES: tuple[tuple[str, str], ...] = tuple(
    (observation, phrase)
    for observation, phrases in rules.MENTION_PHRASES.items()
    for phrase in phrases
)
_UNMENTION_PATTERNS: dict[str, re.Pattern[str]] = {
    observation: re.compile("|".join(re.escape(p) for p in phrases))
    for observation, phrases in rules.UNMENTION_PHRASES.items()
}
_UNMENTION_REACH = max(len(p) for ps in rules.UNMENTION_PHRASES.values() for p in ps)


@dataclass(frozen=True, slots=True)
class Mention:
    """One phrase match: its observation, the matched text and its span in the sentence."""

    observation: str
    text: str
    sentence: int
    start: int
    end: int


def clean_report(text: str) -> str:
    """Normalise a report the way the CheXpert loader does before matching phrases."""
    if not isinstance(text, str):
        raise ValueError(f"report must be a str, got {type(text).__name__}")
    cleaned = _AND_OR.sub("or", text.lower())
    cleaned = _SLASH.sub(" or ", cleaned)
    cleaned = cleaned.replace("..", ".").translate(_PUNCT_SPACE)
    return " ".join(cleaned.split())


def split_sentences(cleaned: str) -> list[str]:
    """Split a cleaned report into sentences at ``.``, ``?`` and ``!`` followed by a space."""
    return [s for s in _SENTENCE_END.split(cleaned) if s]


def _find_all(text: str, phrase: str) -> list[int]:
    """Start offsets of the non-overlapping occurrences of ``phrase`` (as ``re.finditer``)."""
    found = []
    start = text.find(phrase)
    step = max(len(phrase), 1)
    while start != -1:
        found.append(start)
        start = text.find(phrase, start + step)
    return found


def extract_mentions(sentences: Sequence[str], compat: bool = False) -> list[Mention]:
    """Find every mention phrase in the sentences, skipping overlaps with unmentions.

    Phrases are plain substrings of the sentences joined by spaces (CheXpert matches them
    so). No phrase holds a sentence end, so each sentence is searched on its own (with the
    joining space before it) and the result is cached per sentence; a phrase that starts
    with that joining space belongs, as in CheXpert, to the sentence before. Without
    ``compat``, "noncalcified nodule" is not dropped by the "calcified nodul" unmention
    (:mod:`medmine.chexpert.rules_plus`).
    """
    mentions: list[Mention] = []
    for index, sentence in enumerate(sentences):
        lead = 1 if index else 0
        for observation, phrase, start, end in _sentence_mentions(
            " " + sentence if lead else sentence, compat
        ):
            at, start, end = index, start - lead, end - lead
            if start < 0:  # starts on the joining space: CheXpert counts it in the previous one
                at = index - 1
                shift = len(sentences[at]) + 1
                start, end = start + shift, end + shift
            mentions.append(Mention(observation, phrase, at, start, end))
    return mentions


@functools.lru_cache(maxsize=1 << 15)
def _sentence_mentions(text: str, compat: bool) -> tuple[tuple[str, str, int, int], ...]:
    """(observation, phrase, start, end) of every mention in one (space-led) sentence."""
    found = []
    for observation, phrase in _MENTION_PHRASES:
        if phrase not in text:
            continue
        for start in _find_all(text, phrase):
            end = start + len(phrase)
            if observation in _UNMENTION_PATTERNS and _unmentioned(
                text, observation, start, end, compat
            ):
                continue
            found.append((observation, phrase, start, end))
    return tuple(found)


def _unmentioned(text: str, observation: str, start: int, end: int, compat: bool) -> bool:
    """Whether an unmention phrase of the observation overlaps the mention at [start, end).

    Only a window around the mention is searched (an overlapping phrase lies within one
    phrase length of it), which keeps long reports fast.
    """
    pattern = _UNMENTION_PATTERNS[observation]
    lo, hi = max(0, start - _UNMENTION_REACH), min(len(text), end + _UNMENTION_REACH)
    for match in pattern.finditer(text, lo, hi):
        u_start, u_end = match.span()
        if not (start < u_end and end > u_start):
            continue
        if not compat and any(
            k.start() <= u_start and u_end <= k.end()
            for k in rules_plus.NONCALCIFIED.finditer(text, max(0, u_start - 4), u_end)
        ):
            continue
        return True
    return False


@functools.lru_cache(maxsize=1 << 14)
def _terminators(sentence: str) -> tuple[tuple[int, int], ...]:
    """Spans of the scope terminators of a sentence (cached: sentences repeat)."""
    return tuple(m.span() for m in rules.SCOPE_TERMINATOR.finditer(sentence))


def _clause(sentence: str, start: int, end: int) -> tuple[str, str]:
    """Return the text of the mention's clause before and after it (cut at terminators).

    The mention is first widened to whole words, so a phrase matched inside a word
    ("contour" in "contours") is judged by the words around that word.
    """
    # Cues relate to whole words: "contour" in "contours are normal" ends after the "s".
    while start > 0 and sentence[start - 1].isalnum():
        start -= 1
    while end < len(sentence) and sentence[end].isalnum():
        end += 1
    left_start, right_end = 0, len(sentence)
    for t_start, t_end in _terminators(sentence):
        if t_end <= start:
            left_start = t_end
        elif t_start >= end:
            right_end = t_start
            break
    return sentence[left_start:start], sentence[end:right_end]


def _cue_before(left: str, cues: Iterable[tuple[re.Pattern[str], int]], verb_stop: bool) -> bool:
    """True if a cue occurs in ``left`` within its word window of the mention."""
    for pattern, window in cues:
        last = None
        for last in pattern.finditer(left):  # noqa: B007 - the last match is wanted
            pass
        if last is None:
            continue
        between = left[last.end() :]
        if len(_WORD.findall(between)) > window:
            continue
        if verb_stop and rules.VERB_STOP.search(between):
            continue
        return True
    return False


def _close_cue_before(left: str) -> bool:
    """True if "not" or "normal" sits a few words before the mention, with no comma between."""
    for pattern, window in rules.NEGATION_CLOSE_BEFORE:
        last = None
        for last in pattern.finditer(left):  # noqa: B007 - the last match is wanted
            pass
        if last is None:
            continue
        between = left[last.end() :]
        if "," not in between and len(_WORD.findall(between)) <= window:
            return True
    return False


def classify_mention(sentence: str, mention: Mention, compat: bool = False) -> float | None:
    """Label one mention 0.0 (negated), -1.0 (uncertain) or 1.0 (affirmed) from its sentence.

    ``compat=True`` applies CheXpert's rules only; otherwise medmine's extra rules
    (:mod:`medmine.chexpert.rules_plus`) apply too, and a structure named without a finding
    ("the heart and lungs have not changed") is no mention: None.
    """
    left, right = _clause(sentence, mention.start, mention.end)
    # 1. Pre-negation uncertainty.
    if _cue_before(left, rules.PRE_NEG_UNCERTAINTY_BEFORE, verb_stop=False):
        return UNCERTAIN
    if rules.PRE_NEG_UNCERTAINTY_AFTER.match(right):
        return UNCERTAIN
    # 2. Negation.
    if (
        _cue_before(left, rules.NEGATION_BEFORE, verb_stop=True)
        or _close_cue_before(left)
        or rules.NEGATION_NO_TO_SUGGEST.search(left)
        or rules.NEGATION_AFTER_DIRECT.match(right)
        or rules.NEGATION_AFTER_NORMAL.match(right)
        or rules.NEGATION_AFTER_NORMAL_END.match(right)
        or rules.NEGATION_AFTER_STATE.match(right)
        or rules.NEGATION_AFTER_RESOLUTION.match(sentence[mention.end :])
        or (not compat and rules_plus.negated(mention.text, left, sentence[mention.end :]))
    ):
        return NEGATIVE
    # medmine: a structure named without a size abnormality is no mention of a finding.
    if not compat and rules_plus.structure_only(mention.text, left, right):
        return None
    # 3. Post-negation uncertainty.
    if mention.text in rules.ALWAYS_UNCERTAIN_MENTIONS:
        return UNCERTAIN
    if _cue_before(left, rules.UNCERTAINTY_BEFORE, verb_stop=True):
        return UNCERTAIN
    if any(pattern.match(right) for pattern in rules.UNCERTAINTY_AFTER):
        return UNCERTAIN
    if rules.HEART_WORD.search(mention.text) and (
        rules.HEART_STABLE_BEFORE.search(left) or rules.HEART_STABLE_AFTER.match(right)
    ):
        return UNCERTAIN
    return POSITIVE


@functools.lru_cache(maxsize=1 << 16)
def _classify_span(sentence: str, start: int, end: int, text: str, compat: bool) -> float | None:
    """classify_mention for a mention given by value (cached: report archives repeat sentences)."""
    return classify_mention(sentence, Mention("", text, 0, start, end), compat)


def _classify_cached(sentence: str, mention: Mention, compat: bool) -> float | None:
    """The mention's label through the sentence cache (see :func:`_classify_span`)."""
    return _classify_span(sentence, mention.start, mention.end, mention.text, compat)


def aggregate(labelled: Iterable[tuple[Mention, float | None]]) -> dict[str, float | None]:
    """Combine mention labels into one value per observation, as CheXpert's aggregator does.

    A None label (medmine: a structure named without a finding) is no mention.
    """
    per_observation: dict[str, set[float]] = {}
    no_finding = True
    for mention, label in labelled:
        if label is None:
            continue
        if mention.observation != SUPPORT_DEVICES and label in (POSITIVE, UNCERTAIN):
            no_finding = False
        if mention.observation == NO_FINDING:
            continue
        if label in (POSITIVE, UNCERTAIN) and mention.text in rules.HEART_FAILURE_MENTIONS:
            per_observation.setdefault(CARDIOMEGALY, set()).add(UNCERTAIN)
        per_observation.setdefault(mention.observation, set()).add(label)
    result: dict[str, float | None] = {}
    for observation in OBSERVATIONS:
        labels = per_observation.get(observation)
        if observation == NO_FINDING:
            result[observation] = POSITIVE if no_finding else None
        elif not labels:
            result[observation] = None
        elif NEGATIVE in labels and UNCERTAIN in labels:
            result[observation] = UNCERTAIN
        elif POSITIVE in labels:
            result[observation] = POSITIVE
        else:
            (result[observation],) = labels
    return result


def clear_caches() -> None:
    """Forget the per-sentence caches (benchmarks time cold passes with this)."""
    _sentence_mentions.cache_clear()
    _classify_span.cache_clear()
    _terminators.cache_clear()


def label_report(text: str, compat: bool = False) -> dict[str, float | None]:
    """Label one report: for each of the 14 observations 1.0, 0.0, -1.0 or None (not mentioned).

    Pass the section CheXpert was designed for (the impression) or the whole report.
    ``compat=True`` keeps CheXpert's rules exactly (medmine's additions off).
    Raises ValueError if ``text`` is not a string.
    """
    sentences = split_sentences(clean_report(text))
    mentions = extract_mentions(sentences, compat)
    return aggregate((m, _classify_cached(sentences[m.sentence], m, compat)) for m in mentions)


def label_reports(
    texts: Iterable[str], compat: bool = False, workers: int = 1
) -> list[dict[str, float | None]]:
    """Label many reports; the result is in input order. Raises ValueError naming a bad item.

    ``workers > 1`` labels chunks in that many processes (worth it from a few thousand
    reports on; each process keeps its own sentence cache).
    """
    items = list(texts)
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise ValueError(f"report {index} must be a str, got {type(text).__name__}")
    if workers <= 1 or len(items) < 2 * workers:
        return [label_report(text, compat) for text in items]
    from concurrent.futures import ProcessPoolExecutor

    size = max(1, len(items) // (workers * 4))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = pool.map(_label_chunk, chunks, [compat] * len(chunks))
        return [labels for part in parts for labels in part]


def _label_chunk(texts: list[str], compat: bool) -> list[dict[str, float | None]]:
    """Label one chunk (runs in a worker process)."""
    return [label_report(text, compat) for text in texts]
