"""Finding a label set's names in free text: plural/singular, hyphens, longest name first.

A label set (:class:`~medmine.core.LabelTarget`) has canonical codes and, per code, a display
name and synonyms. :func:`names_for` turns them into one matcher that finds every mention of
any name in a text. Matching rules:

- case, spaces, underscores and hyphens do not matter ("dyed-lifted-polyps" = "dyed lifted
  polyps"), and each word matches in singular and plural ("polyp"/"polyps",
  "nevus"/"nevi", "keratosis"/"keratoses");
- the longest name wins at a position ("normal z-line" is one mention, not "z-line"), and a
  name is never found inside a word or after a hyphen ("non-proliferative" does not name
  "proliferative ..."), except right after "non-", where the mention is found and negated;
- *weak* names are context, not a diagnosis: the bare word "normal", and the anatomy left
  when "normal" is taken off a label ("cecum" of "normal cecum", "z-line" of "normal
  z-line"). They count only when no other label is stated;
- purely numeric names (APTOS "0".."4") count in prose only after "grade", "stage", "class",
  "level", "category" or "score";
- *complements*: a name of the form "no X" / "non-X" / "not X" makes "X" a phrase whose
  negation reads as that label ("no signs of glaucoma" → non-glaucoma, "no evidence of
  diabetic retinopathy" → no DR); in a two-label set where one label is "normal", each label
  negated reads as the other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from medmine.core import LabelTarget

_NEG_PREFIX = re.compile(r"^(?:no|non|not|without)\s+(.+)$")
_GRADE_BEFORE = re.compile(r"\b(?:grade|stage|class|level|category|score)\s*[:=#]?\s*$", re.I)


@dataclass(frozen=True)
class NameInfo:
    """What a matched name stands for: a label (or, for a complement phrase, none)."""

    label: str | None
    weak: bool = False
    numeric: bool = False
    negates_to: str | None = None


@dataclass(frozen=True)
class Mention:
    """One name found in a text, with its span."""

    info: NameInfo
    start: int
    end: int


def norm(text: str) -> str:
    """Lower case, separators as one space, each word singular: the key of a name."""
    words = re.sub(r"[\s_\-]+", " ", text.strip().strip(".\"'").lower()).split()
    return " ".join(_singular(w) for w in words)


def _singular(word: str) -> str:
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("oses"):
        return word[:-4] + "osis"
    if word.endswith("ies") and len(word) > 5:
        return word[:-3] + "y"
    if word.endswith("ous"):
        return word
    if word.endswith("us"):
        return word[:-2] + "i"
    if word.endswith(("ss", "is")):
        return word
    if word.endswith("s"):
        return word[:-1]
    return word


def _word_pattern(word: str) -> str:
    """Regex for one word of a name, in singular and plural."""
    base = _singular(word)
    forms = {word, base}
    if base.isalpha() and len(base) > 3:
        if base.endswith("osis"):
            forms.add(base[:-4] + "oses")
        elif base.endswith("i"):
            forms.add(base[:-1] + "us")
        elif base.endswith("y"):
            forms.add(base[:-1] + "ies")
        elif base.endswith(("s", "x", "ch", "sh")):
            forms.add(base + "es")
        else:
            forms.add(base + "s")
    return "(?:" + "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)) + ")"


def _name_pattern(name: str) -> str:
    words = re.sub(r"[\s_\-]+", " ", name.strip().lower()).split()
    return r"[\s_\-]*".join(_word_pattern(w) for w in words)


@dataclass(frozen=True)
class LabelNames:
    """A label set's names, ready to find in text."""

    labels: tuple[str, ...]
    lookup: Mapping[str, NameInfo]
    pattern: re.Pattern[str]
    complement: Mapping[str, str]
    normal_label: str | None
    broader: Mapping[str, frozenset[str]]

    def most_specific(self, labels: set[str]) -> set[str]:
        """Drop labels whose name is part of another named label's name (polyp < dyed polyp)."""
        return {a for a in labels if not (self.broader.get(a, frozenset()) & (labels - {a}))}

    def resolve(self, word: str) -> str | None:
        """The label a whole string names exactly (no weak-name or numeric restriction)."""
        info = self.lookup.get(norm(word))
        return info.label if info is not None else None

    def mentions(self, text: str) -> list[Mention]:
        """Every non-overlapping mention in the text, longest name first at each position."""
        out: list[Mention] = []
        for m in self.pattern.finditer(text):
            info = self.lookup.get(norm(m.group(0)))
            if info is None:
                continue
            if info.numeric and not _GRADE_BEFORE.search(text[: m.start()]):
                continue
            out.append(Mention(info, m.start(), m.end()))
        return out


def names_for(target: LabelTarget) -> LabelNames:
    """The (cached) names of a target's label set."""
    names = tuple(sorted((k, tuple(v)) for k, v in target.names.items()))
    return _build(tuple(target.labels), names)


@lru_cache(maxsize=256)
def _build(labels: tuple[str, ...], names: tuple[tuple[str, tuple[str, ...]], ...]) -> LabelNames:
    words: dict[str, list[str]] = {lab: [lab] for lab in labels}
    for lab, syn in names:
        if lab in words:
            words[lab].extend(syn)
    lookup: dict[str, NameInfo] = {}
    normal_like = [lab for lab in labels if any(norm(w) == "normal" for w in words[lab])]
    for lab in labels:
        anatomy = {norm(w)[len("normal ") :] for w in words[lab] if norm(w).startswith("normal ")}
        for w in words[lab]:
            key = norm(w)
            if not key:
                continue
            weak = key == "normal" or key in anatomy
            lookup.setdefault(key, NameInfo(lab, weak=weak, numeric=key.isdigit()))
    for lab in labels:
        for w in words[lab]:
            m = _NEG_PREFIX.match(norm(w))
            if m and m.group(1) not in lookup:
                lookup[m.group(1)] = NameInfo(None, negates_to=lab)
    complement: dict[str, str] = {}
    if len(labels) == 2:
        a, b = labels
        names_a_negation = any(
            (m := _NEG_PREFIX.match(norm(w))) and m.group(1) in lookup
            for lab in labels
            for w in words[lab]
        )
        if normal_like or names_a_negation:
            complement = {a: b, b: a}
    keys_of: dict[str, set[str]] = {}
    for key, info in lookup.items():
        if info.label is not None:
            keys_of.setdefault(info.label, set()).add(f" {key} ")
    broader = {
        a: frozenset(
            b
            for b in labels
            if b != a and any(ka in kb and ka != kb for ka in keys_of[a] for kb in keys_of[b])
        )
        for a in labels
    }
    normal = normal_like[0] if len(normal_like) == 1 else None
    keys = sorted(lookup, key=len, reverse=True)
    body = "|".join(_name_pattern(k) for k in keys)
    pattern = re.compile(rf"(?:(?<=\bnon-)|(?<![\w\-]))(?:{body})(?![\w])", re.I)
    return LabelNames(labels, lookup, pattern, complement, normal, broader)
