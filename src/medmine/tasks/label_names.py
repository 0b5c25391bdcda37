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
- purely numeric names (APTOS "0".."4", also as Roman numerals "II".."IV" but not "I", the
  pronoun) count in prose only after "grade", "stage", "class", "level", "category" or
  "score";
- *complements*: a name of the form "no X" / "non-X" / "not X" makes "X" a phrase whose
  negation reads as that label ("no signs of glaucoma" → non-glaucoma, "no evidence of
  diabetic retinopathy" → no DR); in a two-label set where one label is "normal" or the
  pair is known to deny each other (benign/malignant, :data:`~label_vocab.COMPLEMENTS`),
  each label negated reads as the other;
- spelling and vocabulary (:mod:`medmine.tasks.label_vocab`): names are found in British or
  American spelling, clinicians' synonyms and abbreviations of a label's names join its
  names when they name no other label of the set, and :meth:`LabelNames.correct` repairs
  an unambiguous typo of a name word; a broad label's *hints* are the words of a narrower
  label's names ("lifted", "dyed" for polyps) that make a bare broad name ambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from medmine.core import LabelTarget
from medmine.tasks.label_vocab import (
    ABBREVIATIONS,
    COMPLEMENTS,
    CONTEXT,
    PHRASES,
    SYNONYMS,
    fold,
    fold_word,
    near_word,
)

_NEG_PREFIX = re.compile(r"^(?:no|non|not|without)\s+(.+)$")
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", re.I)
_ROMAN = {"2": "ii", "3": "iii", "4": "iv", "5": "v", "6": "vi"}
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


@lru_cache(maxsize=65_536)
def norm(text: str) -> str:
    """Lower case, British spelling folded, separators as one space, each word singular.
    Memoised: every prompt of a dataset normalises the same label names again."""
    words = _split(fold_word(text.strip().strip(".\"'"))).split()
    return " ".join(_singular(w) for w in words)


def _split(text: str) -> str:
    """Separators as one space, and letters apart from digits ("covid19" = "covid 19")."""
    return _LETTER_DIGIT.sub(" ", re.sub(r"[\s_\-]+", " ", text))


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


def _forms(word: str) -> set[str]:
    """One word of a name in singular and plural."""
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
    return forms


def _word_pattern(word: str) -> str:
    """Regex for one word of a name, in singular and plural."""
    forms = _forms(word)
    return "(?:" + "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)) + ")"


def _name_pattern(name: str) -> str:
    words = _split(name.strip().lower()).split()
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
    vocabulary: Mapping[str, str]
    hints: Mapping[str, Mapping[str, str]]

    def most_specific(self, labels: set[str]) -> set[str]:
        """Drop labels whose name is part of another named label's name (polyp < dyed polyp)."""
        return {a for a in labels if not (self.broader.get(a, frozenset()) & (labels - {a}))}

    def resolve(self, word: str) -> str | None:
        """The label a whole string names exactly (no weak-name or numeric restriction)."""
        info = self.lookup.get(norm(word))
        return info.label if info is not None else None

    def mentions(self, text: str) -> list[Mention]:
        """Every non-overlapping mention in the text, longest name first at each position.

        Names are found in the folded text (British spellings as American) and reported
        with their spans in the text as written.
        """
        folded, index = fold(text)
        out: list[Mention] = []
        for m in self.pattern.finditer(folded):
            info = self.lookup.get(norm(m.group(0)))
            if info is None:
                continue
            start, end = index[m.start()], index[m.end() - 1] + 1
            if info.numeric and not _GRADE_BEFORE.search(text[:start]):
                continue
            out.append(Mention(info, start, end))
        return out

    def correct(self, text: str) -> tuple[str, list[str]]:
        """The text with misspelt name words corrected, and a note per correction.

        A correction is kept only when it completes a name of the set (see
        :mod:`medmine.tasks.label_vocab` for when a word counts as a typo); inside a
        multi-word name the looser rule applies only if the other words are written right.
        """
        covered = [(m.start, m.end) for m in self.mentions(text)]
        edits: list[tuple[int, int, str, bool]] = []
        folded, index = fold(text)
        seen: dict[str, tuple[str | None, str | None]] = {}
        for tok in re.finditer(r"[a-z]{4,}", folded):
            start, end = index[tok.start()], index[tok.end() - 1] + 1
            if any(a <= start < b for a, b in covered) or not text[start:end].isalpha():
                continue
            word = tok.group(0)
            if word not in seen:
                strict = near_word(word, self.vocabulary, anchored=False)
                seen[word] = (strict, strict or near_word(word, self.vocabulary, anchored=True))
            strict, loose = seen[word]
            if loose is not None:
                edits.append((start, end, loose, strict is not None))
        if not edits:
            return text, []
        fixed, spans = _apply(text, edits)
        found = self.mentions(fixed)
        kept = []
        for edit, (a, b) in zip(edits, spans, strict=True):
            home = next((m for m in found if m.start <= a and b <= m.end), None)
            if home is None or home.info.label is None:
                continue
            others = [s for s in spans if home.start <= s[0] < home.end]
            if edit[3] or (len(others) == 1 and home.end - home.start > b - a):
                kept.append(edit)
        if not kept:
            return text, []
        notes = [f"read {text[a:b]!r} as {word!r}" for a, b, word, _ in kept]
        return _apply(text, kept)[0], notes


def spell_out_initials(text: str, labels: tuple[str, ...]) -> tuple[str, list[str]]:
    """The text with a phrase whose initials spell an all-caps label written as that label.

    For labels such as "CNV" or "RVO" (2-5 capitals, as given in the label set): a run of
    exactly that many contiguous words (letters only, a hyphenated word counts once, each
    of 3 letters or more) whose first letters spell the label, case-insensitively
    ("posterior vitreous detachment" → "PVD"). A phrase that spells two labels is left
    alone, and an acronym of :data:`~label_vocab.ABBREVIATIONS` is read only by its table
    ("pleural effusion" spells PE but is not a pulmonary embolism).
    Used only when no name of the set is found, and the reading is then ``repaired``.
    """
    acronyms = {
        lab for lab in labels if re.fullmatch(r"[A-Z]{2,5}", lab) and lab not in ABBREVIATIONS
    }
    edits: list[tuple[int, int, str, bool]] = []
    words = list(re.finditer(r"[A-Za-z]{3,}(?:-[A-Za-z]+)*", text))
    i = 0
    while i < len(words):
        hits = []
        for lab in acronyms:
            run = words[i : i + len(lab)]
            joined = all(not text[a.end() : b.start()].strip() for a, b in pairwise(run))
            spelt = "".join(w.group(0)[0] for w in run).upper()
            if len(run) == len(lab) and joined and spelt == lab:
                hits.append((lab, run))
        if len(hits) == 1:
            lab, run = hits[0]
            edits.append((run[0].start(), run[-1].end(), lab, True))
            i += len(lab)
        else:
            i += 1
    if not edits:
        return text, []
    notes = [f"read {text[a:b]!r} as {lab!r} (its initials)" for a, b, lab, _ in edits]
    return _apply(text, edits)[0], notes


def _apply(text: str, edits: list[tuple[int, int, str, bool]]) -> tuple[str, list[tuple[int, int]]]:
    """The text with each (start, end) replaced, and the replacements' new spans."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    last = size = 0
    for a, b, word, _ in edits:
        parts.append(text[last:a])
        size += a - last
        parts.append(word)
        spans.append((size, size + len(word)))
        size += len(word)
        last = b
    parts.append(text[last:])
    return "".join(parts), spans


def names_for(target: LabelTarget) -> LabelNames:
    """The (cached) names of a target's label set."""
    names = tuple(sorted((k, tuple(v)) for k, v in target.names.items()))
    return _build(tuple(target.labels), names)


def _clinical_names(
    labels: tuple[str, ...], words: Mapping[str, list[str]]
) -> dict[str, list[tuple[str, bool]]]:
    """Extra (name, weak) pairs per label from the clinical vocabulary; a name claimed by
    two labels of the set, or already a name of another label, is dropped."""
    abbreviations: dict[str, list[str]] = {}
    for abbr, full in ABBREVIATIONS.items():
        abbreviations.setdefault(abbr, []).extend(full)
        for name in full:
            abbreviations.setdefault(name, []).append(abbr)
    tables = [(SYNONYMS, False), (CONTEXT, True), (abbreviations, False)]
    claims: dict[str, set[str]] = {}
    extra: dict[str, list[tuple[str, bool]]] = {lab: [] for lab in labels}
    own = {norm(w): lab for lab in labels for w in words[lab]}
    for lab in labels:
        keys = {norm(w) for w in words[lab]}
        for table, weak in tables:
            for name, syns in table.items():
                if norm(name) in keys:
                    extra[lab].extend((syn, weak) for syn in syns)
        for key in keys:
            for phrase, repl in PHRASES.items():
                p = norm(phrase)
                if p in key and key != p:
                    extra[lab].extend((key.replace(p, norm(r)), False) for r in repl)
        for syn, _ in extra[lab]:
            claims.setdefault(norm(syn), set()).add(lab)
    return {
        lab: [
            (syn, weak)
            for syn, weak in pairs
            if len(claims[norm(syn)]) == 1 and own.get(norm(syn), lab) == lab
        ]
        for lab, pairs in extra.items()
    }


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
    for key, info in list(lookup.items()):
        if info.numeric and key in _ROMAN:  # "grade II" is grade 2
            lookup.setdefault(_ROMAN[key], NameInfo(info.label, numeric=True))
    for lab, pairs in _clinical_names(labels, words).items():
        for syn, weak in pairs:
            lookup.setdefault(norm(syn), NameInfo(lab, weak=weak))
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
        if normal_like or names_a_negation or frozenset((norm(a), norm(b))) in COMPLEMENTS:
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
    vocabulary = {
        form: word
        for key, info in lookup.items()
        if info.label is not None and not info.numeric
        for word in key.split()
        if word.isalpha() and len(word) >= 4
        for form in _forms(word)
    }
    normal = normal_like[0] if len(normal_like) == 1 else None
    hints = _hints(labels, lookup, broader)
    keys = sorted(lookup, key=len, reverse=True)
    body = "|".join(_name_pattern(k) for k in keys)
    pattern = re.compile(rf"(?:(?<=\bnon-)|(?<![\w\-]))(?:{body})(?![\w])", re.I)
    return LabelNames(labels, lookup, pattern, complement, normal, broader, vocabulary, hints)


def _hints(
    labels: tuple[str, ...], lookup: Mapping[str, NameInfo], broader: Mapping[str, frozenset[str]]
) -> dict[str, dict[str, str]]:
    """Per broad label, the words that point to a narrower one ("lifted", "dyed" → dyed
    lifted polyps for "polyp"): words of the narrower label's names that contain the broad
    name, that are not the broad label's own words and not a name by themselves."""
    out: dict[str, dict[str, str]] = {}
    for broad in labels:
        own = {k for k, i in lookup.items() if i.label == broad and not i.weak}
        mine = {w for k in own for w in k.split()}
        for narrow in broader.get(broad, frozenset()):
            for key, info in lookup.items():
                if info.label != narrow or not any(f" {k} " in f" {key} " for k in own):
                    continue
                for word in key.split():
                    if len(word) >= 4 and word.isalpha() and word not in mine | set(lookup):
                        out.setdefault(broad, {})[word] = narrow
    return out
