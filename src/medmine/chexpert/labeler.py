"""Rule-based CheXpert labeler: 14 observations from a radiology report, in pure Python.

It follows the three stages of the CheXpert labeler (Irvin et al., AAAI 2019;
stanfordmlgroup/chexpert-labeler):

1. **Extract**: clean the report the way CheXpert does (lower case, ``and/or`` -> ``or``,
   ``a/b`` -> ``a or b``, ``..`` -> ``.``, a space after every ``.`` and ``,``), split it
   into sentences, and find every substring match of every mention phrase, dropping
   matches that overlap an unmention phrase of the same observation.
2. **Classify** each mention, in CheXpert's order: pre-negation uncertainty, then
   negation, then post-negation uncertainty; otherwise positive. CheXpert runs NegBio
   rules on a dependency parse; here the rules are regular expressions on the mention's
   clause: the sentence cut at scope terminators ("but", "however", "which", "with", ";",
   ...), with cue windows counted in words (:mod:`medmine.chexpert.rules`).
3. **Aggregate** the mention labels of each observation exactly as CheXpert does:
   one label -> that label; {0, -1} -> -1; {0, 1} -> 1; {-1, 1} -> 1; all three -> -1
   (CheXpert checks the {0, -1} case first). "No Finding" is 1 when no mention of any
   observation other than Support Devices (the "No Finding" list of other findings
   included) is positive or uncertain, else not mentioned. An affirmed or uncertain
   "chf" / "heart failure" also adds an uncertain Cardiomegaly.

Speed without changing a result: only the phrases a report can hold are searched
(:class:`medmine.chexpert.fast.PhraseFinder`), scope terminators use an equivalent
literal-first pattern, and the rules run with guards and combined cue searches
(:mod:`medmine.chexpert.classify`); ``tests/chexpert/test_golden.py`` holds the outputs to
those of the plain implementation (``tests/chexpert/reference_labeler.py``).

Known behaviours inherited from CheXpert: "resolved pneumothorax" stays positive (only
"pneumothorax has resolved" and "resolution of pneumothorax" are negations), "likely X"
is positive, "history of X" and "rule out X" are negations, and a report with no
mention at all gets "No Finding" = 1.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from medmine.chexpert import classify, fast, rules, rules_plus
from medmine.chexpert.observations import (
    CARDIOMEGALY,
    NEGATIVE,
    NO_FINDING,
    OBSERVATIONS,
    POSITIVE,
    SUPPORT_DEVICES,
    UNCERTAIN,
)

_SLASH = re.compile(r"(?<=[a-zA-Z])/(?=[a-zA-Z])")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
_WORD = re.compile(r"[\w-]+")

_MENTION_PHRASES: tuple[tuple[str, str], ...] = tuple(
    (observation, phrase)
    for observation, phrases in (*rules.MENTION_PHRASES.items(), *rules_plus.EXTRA_MENTIONS.items())
    for phrase in phrases
)
#: Phrases at this index and after are medmine's additions (not searched with ``compat``).
_FIRST_EXTRA = sum(len(p) for p in rules.MENTION_PHRASES.values())
_UNMENTION_PATTERNS: dict[str, re.Pattern[str]] = {
    observation: re.compile("|".join(re.escape(p) for p in phrases))
    for observation, phrases in rules.UNMENTION_PHRASES.items()
}
#: Mentions per (space-led sentence, compat): report archives repeat sentences. Emptied
#: when full (cheaper than LRU bookkeeping on archives where most sentences are new).
_MENTION_CACHE: dict[tuple[str, bool], tuple[tuple[str, str, int, int], ...]] = {}
_CACHE_SIZE = 1 << 15
_FINDER = fast.PhraseFinder([phrase for _, phrase in _MENTION_PHRASES])
#: Every unmention phrase starts with one of its observation's guard words (its first two
#: words), so a sentence without them needs no unmention search.
_UNMENTION_GUARDS: dict[str, frozenset[str]] = {
    observation: frozenset(" ".join(p.split(" ")[:2]) for p in phrases)
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
    # str.replace is re.sub for these literals; the checks skip the slow paths' set-up.
    cleaned = text.lower()
    if "and/or" in cleaned:
        cleaned = cleaned.replace("and/or", "or")
    if "/" in cleaned:
        cleaned = _SLASH.sub(" or ", cleaned)
    cleaned = cleaned.replace("..", ".").replace(".", ". ").replace(",", ", ")
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
    # Phrases absent from the whole report need no search in any sentence.
    present = _FINDER.present(" ".join(sentences))
    mentions: list[Mention] = []
    for index, sentence in enumerate(sentences):
        lead = 1 if index else 0
        text = " " + sentence if lead else sentence
        found = _MENTION_CACHE.get((text, compat))
        if found is None:
            found = _sentence_mentions(text, compat, present)
            if len(_MENTION_CACHE) >= _CACHE_SIZE:
                _MENTION_CACHE.clear()
            _MENTION_CACHE[text, compat] = found
        for observation, phrase, start, end in found:
            at, start, end = index, start - lead, end - lead
            if start < 0:  # starts on the joining space: CheXpert counts it in the previous one
                at = index - 1
                shift = len(sentences[at]) + 1
                start, end = start + shift, end + shift
            mentions.append(Mention(observation, phrase, at, start, end))
    return mentions


def _sentence_mentions(
    text: str, compat: bool, present: Sequence[int]
) -> tuple[tuple[str, str, int, int], ...]:
    """(observation, phrase, start, end) of every mention in one (space-led) sentence.

    In the phrase lists' order, each phrase's occurrences left to right. Only the phrases
    of ``present`` (indices of the report's phrases, in list order, from
    :class:`medmine.chexpert.fast.PhraseFinder`) can occur, so only they are visited.
    """
    found = []
    for index in present:
        if compat and index >= _FIRST_EXTRA:
            break  # ``present`` is in list order: the rest are medmine's additions
        observation, phrase = _MENTION_PHRASES[index]
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
    for word in _UNMENTION_GUARDS[observation]:
        if word in text:
            break
    else:
        return False
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
    return tuple(m.span() for m in fast.SCOPE_TERMINATOR.finditer(sentence))


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


def classify_mention(sentence: str, mention: Mention, compat: bool = False) -> float | None:
    """Label one mention 0.0 (negated), -1.0 (uncertain) or 1.0 (affirmed) from its sentence.

    ``compat=True`` applies CheXpert's rules only; otherwise medmine's extra rules
    (:mod:`medmine.chexpert.rules_plus`) apply too, and a structure named without a finding
    ("the heart and lungs have not changed") is no mention: None. The rules run in
    CheXpert's order (:func:`medmine.chexpert.classify.classify`).
    """
    left, right = _clause(sentence, mention.start, mention.end)
    return classify.classify(sentence, mention.text, mention.end, left, right, compat)


@functools.lru_cache(maxsize=1 << 16)
def _classify_span(sentence: str, start: int, end: int, text: str, compat: bool) -> float | None:
    """classify_mention for a mention given by value (cached: report archives repeat sentences)."""
    left, right = _clause(sentence, start, end)
    return classify.classify(sentence, text, end, left, right, compat)


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
    _MENTION_CACHE.clear()
    _classify_span.cache_clear()
    _terminators.cache_clear()
    _FINDER.clear()


def label_report(text: str, compat: bool = False) -> dict[str, float | None]:
    """Label one report: for each of the 14 observations 1.0, 0.0, -1.0 or None (not mentioned).

    Pass the section CheXpert was designed for (the impression) or the whole report.
    ``compat=True`` keeps CheXpert's rules exactly (medmine's additions off).
    Raises ValueError if ``text`` is not a string.
    """
    sentences = split_sentences(clean_report(text))
    mentions = extract_mentions(sentences, compat)
    span = _classify_span
    return aggregate(
        [(m, span(sentences[m.sentence], m.start, m.end, m.text, compat)) for m in mentions]
    )


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
