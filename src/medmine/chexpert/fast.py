"""Faster equivalents of the labeler's slow steps, each with the exact result of the plain form.

The labeler spends its time, on reports whose sentences it has not seen before, in three
places; each has a faster form here whose output is the same by construction (and is
checked against the plain form by ``tests/chexpert``):

- **Which mention phrases occur in a sentence.** Testing all ~150 phrases with ``in`` on
  every sentence costs more than everything else. Every phrase holds a run of letters
  (its *anchor*, the longest one) that must lie inside one word of the sentence, so the
  phrases worth testing are those whose anchor is inside a word the sentence has; words
  repeat across reports, so their candidate phrases are cached per word. Only
  those candidates are then tested with ``in`` (the exact check).
- **Scope terminators.** :data:`medmine.chexpert.rules.SCOPE_TERMINATOR` starts with
  ``\\b``, so the regex engine tries every position of the sentence. The same alternation
  written to start with a literal character (``b(?<!\\wb)ut`` for ``\\bbut``) lets the engine
  skip to the characters that can start a terminator.
- **Cue groups.** A group of cue patterns is matched one by one; one combined search tells
  whether any of them occurs at all, so a clause with no cue skips the group.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

_LETTER_RUN: Final = re.compile(r"[a-z]+")

#: The same matches as rules.SCOPE_TERMINATOR, written to start with a literal character:
#: ``\b`` before a word's first letter x is ``x(?<!\wx)`` (no word character before x).
SCOPE_TERMINATOR: Final = re.compile(
    r"a(?<!\wa)(?:lthough\b|side from\b|part from\b"
    r"|nd(?= (?:the|there|a|an|is|are|has|have|this|these|that)\b))"
    r"|b(?<!\wb)ut\b|h(?<!\wh)owever\b|t(?<!\wt)hough\b|e(?<!\we)xcept\b|o(?<!\wo)ther than\b"
    r"|w(?<!\ww)(?:hich|hereas|hile|(?<!compatible w)(?<!consistent w)ith)\b|;|:|,(?= there\b)"
)


class PhraseFinder:
    """Tell which of a fixed list of phrases occur in a text, testing only likely ones.

    ``present(text)`` returns the indices (in list order) of the phrases that are
    substrings of ``text``: the same as ``[i for i, p in enumerate(phrases) if p in text]``.
    """

    def __init__(self, phrases: Sequence[str], cache_limit: int = 1 << 16) -> None:
        """Index the phrases by their anchor (longest run of ``a-z``; all must have one).

        ``cache_limit``: most words remembered; the memory is emptied when it is reached.
        """
        self.phrases: tuple[str, ...] = tuple(phrases)
        self.cache_limit = cache_limit
        anchors = []
        for phrase in self.phrases:
            runs = _LETTER_RUN.findall(phrase)
            if not runs:
                raise ValueError(f"phrase {phrase!r} has no letters to anchor it")
            anchors.append(max(runs, key=len))
        self._anchors: tuple[str, ...] = tuple(anchors)
        self._seen: set[str] = set()  # words already indexed
        self._by_word: dict[str, tuple[int, ...]] = {}  # the seen words that hold an anchor

    def _index(self, words: set[str], seen: set[str], by_word: dict[str, tuple[int, ...]]) -> None:
        """Index new words into ``by_word`` (which phrases' anchors each holds), then ``seen``."""
        anchors = self._anchors
        for word in words:
            if _LETTER_RUN.search(word) is None:  # "12)." holds no anchor
                continue
            found = tuple(i for i, anchor in enumerate(anchors) if anchor in word)
            if found:
                by_word[word] = found
        seen |= words

    def present(self, text: str) -> list[int]:
        """Indices, in list order, of the phrases that occur in ``text`` as substrings.

        Safe from several threads: the index is only added to, or replaced as a whole when
        full, and each call reads the one it started with.
        """
        # An anchor (letters only) that occurs lies inside one whitespace-separated word.
        words = set(text.split())
        seen, by_word = self._seen, self._by_word
        new = words - seen
        if new:
            if len(seen) + len(new) > self.cache_limit:
                seen, by_word = self.clear()
                new = words  # every word of this text is new to the fresh index
            self._index(new, seen, by_word)
        hits = words & by_word.keys()
        if not hits:
            return []
        candidates: set[int] = set()
        for word in hits:
            candidates.update(by_word[word])
        phrases = self.phrases
        return [i for i in sorted(candidates) if phrases[i] in text]

    def clear(self) -> tuple[set[str], dict[str, tuple[int, ...]]]:
        """Start a fresh, empty per-word index and return it (seen words, words' phrases)."""
        self._seen, self._by_word = set(), {}
        return self._seen, self._by_word


def any_of(patterns: Sequence[re.Pattern[str]]) -> re.Pattern[str]:
    """One pattern that finds a match wherever any of ``patterns`` finds one.

    ``any_of(ps).search(s)`` is truthy exactly when some ``p.search(s)`` is: each pattern
    is an alternative of its own group, and none uses backreferences or inline flags.
    """
    for pattern in patterns:
        if pattern.groups or pattern.flags & ~(re.UNICODE):
            raise ValueError(f"cannot combine {pattern.pattern!r}: groups or flags")
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns))
