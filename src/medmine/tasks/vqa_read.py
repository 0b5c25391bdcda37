"""Reading a model's answer to a visual question: option letters, yes/no, free answers.

The option reader never takes a word for a letter. A letter is read only where it stands as a
letter: alone ("B", "(b)"), led by an answer marker ("Answer: B", "The answer is (B)",
"Final answer: B."), at the head of an option line ("B. Pneumonia", "(B) Pneumonia"), in a JSON
answer, or in parentheses/bold. Even after a marker, "A" and "I" followed by a lower-case word
are the English words ("The answer is a mass", "I think"), and a letter joined to more
characters ("T2-weighted", "The", "B12") is never a letter. When no letter stands, the
option's text is matched ("Pneumonia" -> the option whose text it is). An answer that names
several different options, or none, is not guessed: it is unparseable, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from medmine.core import ParseStatus
from medmine.tasks.answer_text import json_candidates, looks_like_refusal, strip_markup

READER_VERSION = "1"

ANSWER_KEYS = ("answer", "final_answer", "option", "choice", "letter", "label", "response")

Read = tuple[str | None, ParseStatus, str | None]

_NOT_LETTER_AFTER = r"(?![A-Za-z0-9'’\-])"
_MARKER = re.compile(
    r"(?:(?P<final>\bfinal\s+(?:answer|choice))|(?:\b(?:correct|best|right)\s+(?:answer|option|"
    r"choice)|\banswer|\bi\s+(?:would\s+)?(?:choose|select|pick|go\s+with)|\b(?:my|the)\s+"
    r"(?:choice|selection)\s+is))"
    r"\s*(?:is|would\s+be|will\s+be|:|=|-|–|—)?\s*(?:is\s*)?(?:[:\-]\s*)?"
    r"(?:option\s+|choice\s+|letter\s+)?"
    r"(?P<open>\()?(?P<letter>[A-Za-z])(?(open)\))" + _NOT_LETTER_AFTER,
    re.I,
)
_ALONE = re.compile(r"^\W*(?:(?:option|choice|letter)\s+)?\(?([A-Za-z])\)?\W*$", re.I)
_HEAD = re.compile(r"^\s*(?:option\s+|choice\s+)?\(?([A-Z])(?:\)|\.|:|\s+[-–—])(?:\s|$)")
_PAREN = re.compile(r"\(([A-Z])\)")
_IS_CORRECT = re.compile(
    r"(?<![\w'’-])(?:(?i:option|choice)\s+)?\(?([A-Z])\)?\s+(?i:is\s+(?:the\s+)?(?:correct|"
    r"right|best|most\s+likely))\b"
)
_BOLD = re.compile(r"\*\*\(?([A-Z])\)?[.:]?\*\*")
_ARTICLE_AFTER = re.compile(r"\s+[a-z]")


def _letter_at(text: str, m: re.Match[str], letters: Sequence[str]) -> str | None:
    """The marker match's letter if it really is one of the options' letters."""
    raw = m.group("letter")
    letter = raw.upper()
    if letter not in letters:
        return None
    after = text[m.end() :]
    if m.group("open") is None:
        if raw.islower() and not re.match(r"\s*(?:[.)]|$)", after):
            return None  # "the answer is a mass": a lower-case word, not option a
        if letter in ("A", "I") and _ARTICLE_AFTER.match(after):
            return None  # "The answer is A mass ..." / "I think"
    return letter


def _from_value(value: str, options: Sequence[tuple[str, str]]) -> str | None:
    """A JSON/answer-line value as a letter: a bare letter, "B. text", or an option text."""
    letters = [lt for lt, _ in options]
    v = value.strip().strip("\"'").strip()
    m = _ALONE.match(v)
    if m and m.group(1).upper() in letters:
        return m.group(1).upper()
    m = _HEAD.match(v)
    if m and m.group(1) in letters:
        return m.group(1)
    found = _option_texts(v, options)
    return found[0] if len(found) == 1 else None


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s%]", " ", text.lower())).strip()


def _option_texts(text: str, options: Sequence[tuple[str, str]]) -> list[str]:
    """Letters of the options whose text appears in the answer as whole words (an option
    contained in a longer matched option is dropped: "effusion" inside "pleural effusion")."""
    hay = f" {_norm(text)} "
    hits = [(lt, _norm(t)) for lt, t in options if _norm(t) and f" {_norm(t)} " in hay]
    keep = [lt for lt, t in hits if not any(t != o and t in o for _, o in hits)]
    return list(dict.fromkeys(keep))


def read_choice(text: str, options: Sequence[tuple[str, str]]) -> Read:
    """The option letter an answer gives, how it was read, and a note.

    Order: a JSON answer; answer markers (the last "final answer" wins, else the first
    marker); the whole answer as one letter; a leading "B." / "(B)"; bold or parenthesised
    letters; the options' texts. Several different letters or texts: unparseable.
    """
    letters = [lt for lt, _ in options]
    for cand in reversed(json_candidates(text)):
        if isinstance(cand, dict):
            for key in ANSWER_KEYS:
                if key in cand and isinstance(cand[key], str | int):
                    got = _from_value(str(cand[key]), options)
                    if got:
                        return got, ParseStatus.OK, "json"
    raw = text.strip()
    plain = strip_markup(raw)
    marks = [(m, _letter_at(plain, m, letters)) for m in _MARKER.finditer(plain)]
    marks = [(m, lt) for m, lt in marks if lt]
    if marks:
        finals = [lt for m, lt in marks if m.group("final")]
        distinct = list(dict.fromkeys(lt for _, lt in marks))
        if finals:
            return finals[-1], ParseStatus.OK, "final answer marker"
        if len(distinct) == 1:
            return distinct[0], ParseStatus.OK, "answer marker"
        return distinct[0], ParseStatus.REPAIRED, f"ambiguous: letters {distinct}; read first"
    m = _ALONE.match(plain)
    if m and m.group(1).upper() in letters:
        return m.group(1).upper(), ParseStatus.OK, "letter"
    heads = {m.group(1) for ln in plain.splitlines() if (m := _HEAD.match(ln))}
    for line in plain.splitlines() if len(heads) <= 1 else ():  # several: the options echoed
        m = _HEAD.match(line)
        if m and m.group(1) in letters:
            return m.group(1), ParseStatus.OK, "option line"
        if line.strip():
            break
    named = {x for x in _IS_CORRECT.findall(plain) if x in letters}
    if len(named) == 1:
        return named.pop(), ParseStatus.OK, "letter said to be correct"
    marked = {x for x in _BOLD.findall(raw) + _PAREN.findall(raw) if x in letters}
    if len(marked) == 1:
        return marked.pop(), ParseStatus.OK, "marked letter"
    found = _option_texts(plain, options)
    if len(found) == 1:
        return found[0], ParseStatus.OK, "option text"
    if looks_like_refusal(plain):
        return None, ParseStatus.REFUSED, "declined to answer"
    if len(found) > 1 or len(marked) > 1:
        return None, ParseStatus.UNPARSEABLE, f"ambiguous: names options {found or sorted(marked)}"
    return None, ParseStatus.UNPARSEABLE, "no option letter or option text found"


# ----------------------------------------------------------------------------- yes / no

_YES = {"yes", "yeah", "yep", "correct", "true", "affirmative", "present", "是", "有"}
_NO = {"no", "nope", "false", "negative", "incorrect", "absent", "否", "不是", "没有", "无"}
_NON_ANSWER = re.compile(
    r"\b(?:can ?not|can't|unable to|impossible to|not possible to|difficult to|hard to)\s+"
    r"(?:be\s+)?(?:determine|tell|say|assess|confirm|evaluate|conclude)|\bnot (?:sure|certain)\b"
    r"|\bunclear\b|\bindeterminate\b|\binsufficient\b|\bcannot be (?:determined|assessed)\b",
    re.I,
)
_HEDGED = re.compile(
    r"^\W*(?:most\s+|very\s+)?(?:likely|probably|possibly|presumably|apparently)\s*,?\s*"
    r"(yes|no|not)\b",
    re.I,
)
_TRAILING_YN = re.compile(r"[,:;]\s*(yes|no)\W*$", re.I)
_ANSWER_YN = re.compile(r"\banswer\s*(?:is|:)?\s*[:\-]?\s*\W*(yes|no)\b", re.I)
_NEG_CUE = re.compile(
    r"\b(?:there (?:is|are) no|no (?:evidence|sign|signs|indication) of|not (?:seen|visible|"
    r"present|identified|evident|shown|demonstrated|appreciated)|is absent|are absent|"
    r"does not (?:show|demonstrate|appear)|do not (?:show|see)|without (?:evidence|any))\b",
    re.I,
)
_POS_CUE = re.compile(
    r"\b(?:there (?:is|are) (?:a|an|some|multiple|several|two|evidence)|is (?:seen|visible|"
    r"present|identified|evident|noted)|are (?:seen|visible|present|noted)|(?:shows|"
    r"demonstrates|reveals) (?:a|an|evidence))\b",
    re.I,
)


def yes_no_word(value: str) -> str | None:
    """ "yes" or "no" when a short value is one (JSON values, answer lines)."""
    first = re.findall(r"[\w\u4e00-\u9fff]+", value.lower())
    if not first:
        return None
    head = first[0]
    if head in _YES or value.strip()[:1] in ("是", "有"):
        return "yes"
    if head in _NO or value.strip()[:2] in ("不是", "没有") or value.strip()[:1] in ("否", "无"):
        return "no"
    return None


def read_yes_no(text: str) -> Read:
    """ "yes" or "no" from an answer: a JSON answer, a leading yes/no word, a hedged one
    ("Probably not"), an "answer is yes" phrase, then plain statements ("There is no
    effusion" -> no) read as repaired. Non-answers ("cannot be determined") are unparseable.
    """
    for cand in reversed(json_candidates(text)):
        if isinstance(cand, dict):
            for key in ANSWER_KEYS:
                if isinstance(cand.get(key), str | bool):
                    value = cand[key]
                    got = ("yes" if value else "no") if isinstance(value, bool) else None
                    got = got or yes_no_word(str(value))
                    if got:
                        return got, ParseStatus.OK, "json"
    plain = strip_markup(text)
    plain = re.sub(r"^\W*(?:final\s+)?answer\s*[:\-]\s*", "", plain, flags=re.I)
    got = yes_no_word(plain[:12])
    if got:
        return got, ParseStatus.OK, "leading yes/no"
    m = _HEDGED.match(plain)
    if m:
        return ("yes" if m.group(1).lower() == "yes" else "no"), ParseStatus.OK, "hedged"
    answers = {a.lower() for a in _ANSWER_YN.findall(plain) + _TRAILING_YN.findall(plain)}
    if len(answers) == 1:
        return answers.pop(), ParseStatus.OK, "answer phrase"
    if looks_like_refusal(plain):
        return None, ParseStatus.REFUSED, "declined to answer"
    if _NON_ANSWER.search(plain):
        return None, ParseStatus.UNPARSEABLE, "no yes/no answer (says it cannot tell)"
    neg, pos = bool(_NEG_CUE.search(plain)), bool(_POS_CUE.search(plain))
    if neg != pos:
        return ("no" if neg else "yes"), ParseStatus.REPAIRED, "read from a statement"
    return None, ParseStatus.UNPARSEABLE, "no yes/no answer found"


# ----------------------------------------------------------------------------- open answers

_LEAD = re.compile(
    r"^\W*(?:(?:the\s+)?(?:final\s+)?answer\s*(?:is|:)\s*[:\-]?\s*|it\s+is\s+|this\s+is\s+)",
    re.I,
)


def read_open(text: str) -> Read:
    """A free answer: a JSON answer value, else the "Answer:" line, else the first line, with
    a leading "The answer is" and the trailing full stop removed (extra words stay: the
    token metrics judge them)."""
    for cand in reversed(json_candidates(text)):
        if isinstance(cand, dict):
            for key in ANSWER_KEYS:
                if isinstance(cand.get(key), str | int | float) and str(cand[key]).strip():
                    return str(cand[key]).strip(), ParseStatus.OK, "json"
    plain = strip_markup(text)
    if not plain:
        return None, ParseStatus.UNPARSEABLE, "empty answer"
    lines = [ln.strip() for ln in plain.splitlines() if ln.strip()]
    marked = [ln for ln in lines if re.match(r"^\W*(?:final\s+)?answer\s*[:\-]", ln, re.I)]
    line = marked[-1] if marked else lines[0]
    if looks_like_refusal(line) and not marked:
        return None, ParseStatus.REFUSED, "declined to answer"
    value = _LEAD.sub("", line).strip().rstrip(".").strip()
    if not value:
        return None, ParseStatus.UNPARSEABLE, "empty answer"
    return value, ParseStatus.OK, "answer line" if marked else "first line"
