"""How a free-text answer becomes one label: the classification reading rules.

The rules, in the order they are applied (cues come from :mod:`medmine.cues`, names are
matched by :mod:`medmine.tasks.label_names`):

1. **JSON first.** The last JSON object with a label key (``label``, ``diagnosis``,
   ``answer``, ``class``, ...) is the answer. A value that is exactly a name is ``ok``; a
   value that needs reading ("not pneumonia", "mel (melanoma)") is read with the prose rules
   below and is ``repaired``; a value beside ``"present": false`` is read as "no <value>";
   an unreadable value with probabilities takes the most probable label (``repaired``);
   otherwise the answer is ``unparseable``. An object keyed by label names (no label key,
   or a label key holding such an object) is a **map**: booleans (or yes/no, present/
   absent) — exactly one true label is the answer, several true are ambiguous, only false
   labels read through the complement of a two-label set (``{"pneumonia": false}`` →
   normal) and are otherwise not an answer; numbers — probabilities, the strictly highest
   wins, a tie is ambiguous. Label keys are read at any depth (``{"result": {"diagnosis":
   X}}``, ``{"prediction": {"class": X}}``), the shallowest level first; two nested objects
   at that level giving different labels are ambiguous, and so are two label keys of one
   object whose values read as different labels (``{"label": X, "diagnosis": Y}``).
2. **The whole answer is a name** ("Melanocytic nevi", "NV") → ``ok``. Names are matched
   in British or American spelling, with clinicians' synonyms and abbreviations, and a
   misspelt name word is repaired when it is unambiguous (:mod:`medmine.tasks.label_vocab`);
   a repaired spelling makes the reading ``repaired`` and the note names it. Accents are
   folded ("neumonía"), letters and digits join ("covid19" = "COVID-19"), common clinical
   abbreviations (TB, COPD, AMD, CNV, ...) apply to any label list both ways, and an
   all-caps label not in that table is read from the initials of contiguous words
   ("posterior vitreous detachment" → "PVD", ``repaired``) when nothing else is named.
3. **A stated final / most-likely answer wins** ("Final answer: X", "Diagnosis: X", "most
   likely X", "I would classify this as X", "favour X", "therefore X"), read from the last
   clause that states one, even after a differential, a disclaimer or a refusal phrase.
   A final statement that itself names two labels is ambiguous; alternatives offered
   before the stated answer ("nevus or melanoma? I'd go with melanoma") are not.
   **A ranked probability list** over two or more labels ("melanoma 45%, nevus 40%, SK
   15%") comes next: its strictly highest label, ambiguous on a tie.
4. **"Cannot determine"** ("I cannot determine whether this is glaucoma without an OCT",
   "DR present, but I cannot grade its severity") → ``unparseable``, unless a label is
   stated outside that clause ("..., but it looks like X"). "Cannot determine" covers
   "equivocal" and "cannot grade it more precisely"; when it is "I can't tell you whether
   ..." and the answer sends the user to a clinician ("please see a dermatologist"), the
   model declines to give an opinion: ``refused``.
5. **A refusal is a refusal** even when it names a label ("I'm not able to diagnose pneumonia
   from an image") → ``refused``, unless the same sentence goes on to say what the image
   shows ("I can't give a diagnosis, but this appears to be X").
6. **Otherwise every mention is classified**: *negated* — a negation cue before it in the
   same clause ("no", "without", "negative for", "no evidence of", "unlikely", "rather than",
   "non-", and "not"/"isn't" within three words and no comma) or after it ("is not present",
   "is not evident", "is absent", "ruled out", ": negative"; "X? No."); *doubtful* — "X
   cannot be excluded", "possible X", "?X", "X?", "X is (also) possible", "glaucoma
   suspect": uncertainty, neither an answer nor a negation (in a stated final answer
   "possibly X" is the answer); *differential* — named after a differential cue in its
   clause ("the differential includes", "less likely", "cannot rule out", "if this were
   X") or passed over in a preference ("favour X over Y", "X rather than Y", "more likely
   X than Y": Y); *weak* — a context word (bare "normal", anatomy such as "Z-line");
   otherwise *affirmed* (hedges that lean, "probably", "likely", "consistent with", still
   affirm).
   - one affirmed label → that label (``repaired``), also beside negated ones ("no
     melanoma — a melanocytic naevus"), unless its clause also has a word of a narrower
     label's name ("the polyp was lifted with a blue injection": polyps or dyed lifted
     polyps?) or another label is left open with doubt; two or more different labels
     offered as alternatives ("X or Y", "either X or Y", "X vs Y", "X/Y", "between X and
     Y", "could be X or it could be Y") → ambiguous, but "no X or Y" is a list of what is
     absent; a hedge that leans ("likely X", "probably X", "consistent with X") states
     the answer even when another label "cannot be excluded"; two labels each offered
     only as a possibility ("It could be X. It could also be Y.") are ambiguous; two
     names of the same label joined by "/" or "or" ("DR grade 2 / moderate NPDR") are one
     answer;
   - else one weak label → that label;
   - else negated labels read through complements: in a two-label set with a complement
     (normal/pneumonia, glaucoma/non-glaucoma, benign/malignant) "no X" is the other
     label, and "no X" for a label named "no X" ("no diabetic retinopathy") is that label;
   - else a negated label alone in a larger set is not an answer (``unparseable``), a
     label offered only with doubt is not an answer, and names offered only as a
     differential are ambiguous.
7. Nothing named → ``unparseable``. Ambiguous readings are ``unparseable`` with a detail
   starting "ambiguous", counted in ``ambiguous_rate``; nothing is ever guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medmine import cues
from medmine.core import LabelTarget, ParseStatus
from medmine.tasks.answer_text import json_candidates
from medmine.tasks.label_names import LabelNames, names_for
from medmine.tasks.label_prose import Reading, read_phrase

#: Bumped whenever a rule changes; recorded in the recipe and by ``medmine rescore``.
READER_VERSION = "4"

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
#: A key ending like this is a label key too ("dr_grade", "predicted_label").
LABEL_KEY_ENDINGS = ("_label", "_diagnosis", "_class", "_grade", "_category", "_prediction")
PROB_KEYS = ("probabilities", "probability", "scores", "confidences")
#: Keys that say whether the named label is present (``{"label": "X", "present": false}``).
PRESENT_KEYS = ("present", "is_present", "detected", "positive", "found")
_TRUE = {"true", "yes", "y", "present", "positive", "detected", "1"}
_FALSE = {"false", "no", "n", "absent", "negative", "not present", "not detected", "0"}
_KEY_AFFIXES = ("has_", "is_", "_present", "_detected", "_positive", "_found")

__all__ = ["LABEL_KEYS", "READER_VERSION", "parse_label", "read_label_map", "read_probs"]


def parse_label(
    text: str, target: LabelTarget
) -> tuple[str | None, ParseStatus, str | None, dict[str, float] | None]:
    """Read one label (and optional probabilities) from an answer, by the rules above."""
    names = names_for(target)
    for value in reversed(json_candidates(text)):
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
            value = value[0]
        if isinstance(value, dict):
            read = _read_object(value, text, target, names)
            if read is not None:
                return read
    label, status, detail = read_phrase(text, target)
    return label, status, detail, None


def _read_object(
    value: dict[Any, Any], text: str, target: LabelTarget, names: LabelNames
) -> tuple[str | None, ParseStatus, str | None, dict[str, float] | None] | None:
    """Read one JSON object; None when it holds neither a label key nor a label map."""
    lowered = {str(k).lower().replace(" ", "_"): v for k, v in value.items()}
    probs = read_probs(next((lowered[k] for k in PROB_KEYS if k in lowered), None), names)
    key = next((k for k in LABEL_KEYS if k in lowered), None) or next(
        (k for k in lowered if k.endswith(LABEL_KEY_ENDINGS)), None
    )
    raw = lowered.get(key) if key else None
    if key is None or isinstance(raw, Mapping):
        mapped = read_label_map(raw if isinstance(raw, Mapping) else value, names)
        if mapped is not None:
            return (*mapped, probs)
        nested = (
            _read_object(dict(raw), text, target, names)
            if isinstance(raw, Mapping)
            else _read_nested(value, text, target, names)
        )
        if nested is not None:
            return (*nested[:3], nested[3] or probs)
        if key is None and not probs:
            return None
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = str(int(raw)) if float(raw).is_integer() else str(raw)
    if isinstance(raw, list) and len(raw) > 1:
        return None, ParseStatus.UNPARSEABLE, f"ambiguous: label list {raw!r}", probs
    if isinstance(raw, str) and raw.strip():
        present = next((lowered[k] for k in PRESENT_KEYS if k in lowered), None)
        if _truth(present) is False:
            label, _, detail = read_phrase(f"no {raw}", target)
            if label is not None:
                return label, ParseStatus.REPAIRED, f"label {raw!r} marked not present", probs
            return None, ParseStatus.UNPARSEABLE, f"label {raw!r} marked not present", probs
        label, status, detail = read_phrase(raw, target)
        others = {_key_reads(lowered[k], target) for k in _label_keys(lowered)} - {None}
        if label is not None and others - {label}:
            seen = sorted(others | {label})
            return None, ParseStatus.UNPARSEABLE, f"ambiguous: label keys disagree {seen}", probs
        if label is not None:
            note = None if status is ParseStatus.OK else f"label text {raw!r}: {detail}"
            return label, status, note, probs
        if probs:
            return (*_best(probs, "label taken from the highest probability"), probs)
        if status is ParseStatus.REFUSED:
            return None, status, detail, probs
        return None, ParseStatus.UNPARSEABLE, f"label {raw!r}: {detail}", probs
    if probs:
        return (*_best(probs, "label taken from the highest probability"), probs)
    if cues.is_refusal(text):
        return None, ParseStatus.REFUSED, "the model declined (empty label)", None
    return None, ParseStatus.UNPARSEABLE, f"label field {key!r} is empty", None


def _label_keys(lowered: Mapping[str, Any]) -> list[str]:
    """Every label key of an object (``label``, ``diagnosis``, ``dr_grade``, ...)."""
    return [k for k in lowered if k in LABEL_KEYS or k.endswith(LABEL_KEY_ENDINGS)]


def _key_reads(raw: object, target: LabelTarget) -> str | None:
    """The label a label key's text value reads as (None when not read or not text)."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    label, status, _ = read_phrase(raw, target)
    return label if status in (ParseStatus.OK, ParseStatus.REPAIRED) else None


def _read_nested(
    value: Mapping[Any, Any], text: str, target: LabelTarget, names: LabelNames
) -> tuple[str | None, ParseStatus, str | None, dict[str, float] | None] | None:
    """Read label keys nested in an object's values (``{"result": {"diagnosis": X}}``).

    The shallowest level with a readable object wins; two objects at that level giving
    different labels are ambiguous. None when no nested object holds a label.
    """
    level = [v for v in value.values() if isinstance(v, Mapping)]
    for _ in range(4):
        reads = [r for r in (_read_object(dict(v), text, target, names) for v in level) if r]
        labelled = {r[0] for r in reads if r[0] is not None}
        if len(labelled) > 1:
            return (
                None,
                ParseStatus.UNPARSEABLE,
                f"ambiguous: nested labels {sorted(labelled)}",
                None,
            )
        if reads:
            return next((r for r in reads if r[0] is not None), reads[0])
        level = [v for obj in level for v in obj.values() if isinstance(v, Mapping)]
        if not level:
            return None
    return None


def _best(scores: Mapping[str, float], why: str) -> Reading:
    """The strictly highest-scoring label; a tie at the top is ambiguous."""
    order = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    if len(order) > 1 and order[0][1] == order[1][1]:
        return None, ParseStatus.UNPARSEABLE, f"ambiguous: tied top scores {order[:2]}"
    return order[0][0], ParseStatus.REPAIRED, why


def _truth(value: object) -> bool | None:
    """True/False for a JSON boolean or a yes/no word; None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        return True if word in _TRUE else False if word in _FALSE else None
    return None


def _key_label(key: str, names: LabelNames) -> str | None:
    """The label a JSON key names ("pneumonia", "has_glaucoma", "glaucoma_present")."""
    label = names.resolve(key)
    if label is not None:
        return label
    low = key.strip().lower()
    for affix in _KEY_AFFIXES:
        if low.startswith(affix) or low.endswith(affix):
            bare = low[len(affix) :] if low.startswith(affix) else low[: -len(affix)]
            return names.resolve(bare)
    return None


def read_label_map(obj: Mapping[Any, Any], names: LabelNames) -> Reading | None:
    """Read an object keyed by label names (booleans or scores); None when no key is a label.

    One label true → that label; several true → ambiguous; only false labels → the other
    label of a complementary pair, else not an answer. Scores: the strictly highest; a
    single score above one half (50 when percentages) is that label, below it the other
    label of a complementary pair.
    """
    truth: dict[str, bool] = {}
    scores: dict[str, float] = {}
    for k, v in obj.items():
        label = _key_label(str(k), names)
        if label is None:
            continue
        said = _truth(v)
        if said is not None:
            if truth.get(label, said) != said:
                return None, ParseStatus.UNPARSEABLE, f"ambiguous: {label!r} both true and false"
            truth[label] = said
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and v == v:
            scores[label] = float(v)
    if truth:
        yes = sorted(lab for lab, said in truth.items() if said)
        if len(yes) == 1:
            return yes[0], ParseStatus.REPAIRED, f"the one label marked true ({yes[0]!r})"
        if yes:
            return None, ParseStatus.UNPARSEABLE, f"ambiguous: several labels marked true {yes}"
        return _complement(sorted(truth), names, "marked false")
    if len(scores) > 1:
        return _best(scores, "the highest score of a label map")
    if len(scores) == 1:
        (label, score), half = next(iter(scores.items())), 0.5
        if score > 1.0:
            half = 50.0
        if score > half:
            return label, ParseStatus.REPAIRED, f"the one label scored, {score} > {half}"
        if score < half:
            return _complement([label], names, f"scored {score} < {half}")
        return None, ParseStatus.UNPARSEABLE, f"ambiguous: {label!r} scored exactly {half}"
    return None


def _complement(denied: list[str], names: LabelNames, how: str) -> Reading:
    """The other label of a complementary pair when every denied label points to it."""
    via = {names.complement.get(lab) for lab in denied}
    if len(via) == 1 and None not in via and not (via & set(denied)):
        label = str(via.pop())
        return label, ParseStatus.REPAIRED, f"{denied} {how}: the other label of the pair"
    return None, ParseStatus.UNPARSEABLE, f"{denied} {how}; no label stated"


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
