"""Read the 14 CheXpert observations from a model's free-text answer.

The answer may be a JSON object (``{"Cardiomegaly": "positive", ...}``), a list of
``{"observation": ..., "value": ...}`` items, a markdown table, a bullet list or
"Cardiomegaly: positive" lines. Values may be the four prompt words ("positive", "negative",
"uncertain", "not mentioned"), 1 / 0 / -1 / null, true/false or common words (present, absent,
possible ...); observation names may be synonyms ("effusion" -> Pleural Effusion). An
observation the answer leaves out is "not mentioned".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from medmine.chexpert import OBSERVATIONS
from medmine.core import ParseStatus
from medmine.tasks.answer_text import json_candidates, looks_like_refusal

PARSER_VERSION = "1"

# Words a model may use for each value (after lower-casing and collapsing spaces).
VALUE_SYNONYMS: dict[str, float | None] = {
    **{w: 1.0 for w in ("positive", "pos", "present", "yes", "true", "affirmed", "1", "1.0",
                        "+1", "found", "seen", "detected", "abnormal")},
    **{w: 0.0 for w in ("negative", "neg", "absent", "no", "false", "negated", "0", "0.0",
                        "not present", "not seen", "none seen", "normal")},
    **{w: -1.0 for w in ("uncertain", "possible", "possibly", "probable", "maybe",
                         "equivocal", "indeterminate", "questionable", "-1", "-1.0", "u",
                         "cannot be excluded", "cannot exclude", "unclear", "suspected")},
    **{w: None for w in ("not mentioned", "not_mentioned", "unmentioned", "null", "none", "n/a",
                         "na", "blank", "unknown", "not assessed", "not assessable",
                         "not applicable", "not stated", "not reported", "", "-", "nan")},
}  # fmt: skip
_VALUE_LEAD = re.compile(
    "^(?:"
    + "|".join(
        re.escape(w)
        for w in sorted((w for w in VALUE_SYNONYMS if w and w not in ("-", "u")), key=len)[::-1]
    )
    + r")(?![\w.])",
    re.I,
)

# Observation names a model may use (lower case, single spaces).
OBSERVATION_SYNONYMS: dict[str, str] = {
    "no finding": "No Finding", "no findings": "No Finding", "normal": "No Finding",
    "normal study": "No Finding",
    "enlarged cardiomediastinum": "Enlarged Cardiomediastinum",
    "widened mediastinum": "Enlarged Cardiomediastinum",
    "mediastinal widening": "Enlarged Cardiomediastinum",
    "enlarged mediastinum": "Enlarged Cardiomediastinum",
    "cardiomegaly": "Cardiomegaly", "enlarged heart": "Cardiomegaly",
    "cardiac enlargement": "Cardiomegaly", "heart enlargement": "Cardiomegaly",
    "lung lesion": "Lung Lesion", "lesion": "Lung Lesion", "nodule": "Lung Lesion",
    "lung nodule": "Lung Lesion", "mass": "Lung Lesion", "lung mass": "Lung Lesion",
    "nodule or mass": "Lung Lesion",
    "lung opacity": "Lung Opacity", "opacity": "Lung Opacity", "airspace opacity": "Lung Opacity",
    "airspace disease": "Lung Opacity", "pulmonary opacity": "Lung Opacity",
    "edema": "Edema", "pulmonary edema": "Edema", "oedema": "Edema",
    "consolidation": "Consolidation",
    "pneumonia": "Pneumonia",
    "atelectasis": "Atelectasis",
    "pneumothorax": "Pneumothorax", "ptx": "Pneumothorax",
    "pleural effusion": "Pleural Effusion", "effusion": "Pleural Effusion",
    "pleural fluid": "Pleural Effusion",
    "pleural other": "Pleural Other", "pleural thickening": "Pleural Other",
    "other pleural": "Pleural Other", "pleural abnormality": "Pleural Other",
    "fracture": "Fracture", "rib fracture": "Fracture", "fractures": "Fracture",
    "support devices": "Support Devices", "support device": "Support Devices",
    "devices": "Support Devices", "lines and tubes": "Support Devices",
    "tubes and lines": "Support Devices", "medical devices": "Support Devices",
}  # fmt: skip

_WRAPPER_KEYS = ("observations", "labels", "findings", "diagnosis", "results", "result", "answer")
_ITEM_NAME_KEYS = ("observation", "name", "finding", "label", "condition", "key")
_ITEM_VALUE_KEYS = ("value", "status", "label_value", "result", "state", "answer", "present")
_LINE = re.compile(
    r"^\s*(?:[-+•*]|\d+[.)])?\s*\**\s*(?P<name>[A-Za-z][A-Za-z /_()-]*?)\s*\**\s*"
    r"(?:[:=]|\s[-–—]\s|\s[-–—]|[-–—]>|→)\s*\**\s*(?P<value>.*?)\s*$"
)


def _norm(s: str) -> str:
    """A name in lower case with markup, quotes, dots, dashes and slashes as single spaces."""
    s = re.sub(r"[*_`\"'.]+", " ", s.lower())
    return " ".join(s.replace("-", " ").replace("/", " ").split())


_OBS_LOOKUP: dict[str, str] = {_norm(o): o for o in OBSERVATIONS}
for _k, _v in OBSERVATION_SYNONYMS.items():
    _OBS_LOOKUP.setdefault(_norm(_k), _v)


def resolve_observation(name: object) -> str | None:
    """The CheXpert observation a name stands for (case, separators, plurals tolerated)."""
    if not isinstance(name, str):
        return None
    key = _norm(re.sub(r"\(.*?\)", " ", name))
    if key in _OBS_LOOKUP:
        return _OBS_LOOKUP[key]
    if key.endswith("s") and key[:-1] in _OBS_LOOKUP:
        return _OBS_LOOKUP[key[:-1]]
    return None


def read_value(raw: object) -> tuple[bool, float | None]:
    """``(readable, value)``: a CheXpert value (1.0/0.0/-1.0/None) from a model's value.

    Accepts the four words of the prompt, 1/0/-1, booleans, null, and common synonyms; a
    longer phrase is read by its leading words ("positive (small left effusion)").
    """
    if raw is None:
        return True, None
    if isinstance(raw, bool):
        return True, 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        f = float(raw)
        if f != f:
            return True, None
        return (True, f) if f in (1.0, 0.0, -1.0) else (False, None)
    if not isinstance(raw, str):
        return False, None
    text = " ".join(raw.strip().strip("*_`\"'").lower().replace("_", " ").split())
    text = text.rstrip(".")
    if text in VALUE_SYNONYMS:
        return True, VALUE_SYNONYMS[text]
    m = _VALUE_LEAD.match(text)
    if m:
        return True, VALUE_SYNONYMS[m.group(0).lower()]
    return False, None


@dataclass
class _Reading:
    """Observation values read so far, and the observations named with an unreadable value."""

    values: dict[str, float | None] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)


def _from_mapping(obj: Mapping[Any, Any]) -> _Reading:
    """Values from an object keyed by observation name (a nested value object is looked into)."""
    reading = _Reading()
    for k, v in obj.items():
        obs = resolve_observation(k)
        if obs is None:
            continue
        if isinstance(v, Mapping):  # {"Cardiomegaly": {"value": "positive", ...}}
            v = next((v[key] for key in _ITEM_VALUE_KEYS if key in v), [])
        readable, val = read_value(v)
        if readable:
            reading.values[obs] = val
        else:
            reading.unreadable.append(obs)
    return reading


def _from_list(items: Sequence[Any]) -> _Reading:
    """Values from a list of ``{"observation": ..., "value": ...}`` items."""
    reading = _Reading()
    for item in items:
        if not isinstance(item, Mapping):
            continue
        lowered = {str(k).lower(): v for k, v in item.items()}
        name = next((lowered[k] for k in _ITEM_NAME_KEYS if k in lowered), None)
        obs = resolve_observation(name)
        if obs is None:
            sub = _from_mapping(item)
            reading.values.update(sub.values)
            reading.unreadable.extend(sub.unreadable)
            continue
        raw = next((lowered[k] for k in _ITEM_VALUE_KEYS if k in lowered), [])
        readable, val = read_value(raw)
        if readable:
            reading.values[obs] = val
        else:
            reading.unreadable.append(obs)
    return reading


def _from_json(value: Any) -> _Reading | None:
    """Values from one JSON value (wrapper keys are looked into first); None if nothing named."""
    if isinstance(value, Mapping):
        lowered = {str(k).lower(): v for k, v in value.items()}
        for key in _WRAPPER_KEYS:
            inner = lowered.get(key)
            if isinstance(inner, Mapping | list):
                got = _from_json(inner)
                if got is not None:
                    return got
        reading = _from_mapping(value)
    elif isinstance(value, list):
        reading = _from_list(value)
    else:
        return None
    return reading if reading.values or reading.unreadable else None


def _from_lines(text: str) -> _Reading | None:
    """Markdown table rows, bullet lists and "Name: value" lines."""
    reading = _Reading()
    for line in text.splitlines():
        if len(line) > 500:
            continue
        if "|" in line:
            cells = [c.strip(" *_`") for c in line.strip().strip("|").split("|")]
            for i, cell in enumerate(cells[:-1]):
                obs = resolve_observation(cell)
                if obs is None:
                    continue
                for other in cells[i + 1 :]:
                    readable, val = read_value(other)
                    if readable and other.strip():
                        reading.values[obs] = val
                        break
                else:
                    reading.unreadable.append(obs)
                break
            continue
        m = _LINE.match(line)
        if not m:
            continue
        obs = resolve_observation(m.group("name"))
        if obs is None:
            continue
        readable, val = read_value(m.group("value").strip(" *_`"))
        if readable:
            reading.values[obs] = val
        else:
            reading.unreadable.append(obs)
    return reading if reading.values else None


def parse_observations(
    text: str,
) -> tuple[dict[str, float | None] | None, ParseStatus, str | None]:
    """Read the 14 observations from an answer; never raises.

    Returns ``(values, status, detail)``: values for all 14 observations (None = not
    mentioned) or None when nothing was readable. OK when a JSON object names every
    observation with a readable value; REPAIRED when values were read from a table or lines,
    or observations were missing (read as not mentioned) or had unreadable values.
    """
    if not isinstance(text, str):
        return None, ParseStatus.UNPARSEABLE, "answer is not text"
    if not text.strip():
        return None, ParseStatus.UNPARSEABLE, "empty answer"
    reading: _Reading | None = None
    how = "json"
    for candidate in reversed(json_candidates(text)):
        reading = _from_json(candidate)
        if reading is not None and reading.values:
            break
        reading = None
    if reading is None:
        how = "lines"
        reading = _from_lines(text)
    if reading is None:
        if looks_like_refusal(text):
            return None, ParseStatus.REFUSED, "the model declined"
        return None, ParseStatus.UNPARSEABLE, "no observation with a readable value"
    values = {obs: reading.values.get(obs) for obs in OBSERVATIONS}
    notes = []
    if how == "lines":
        notes.append("read from a table or lines")
    missing = [o for o in OBSERVATIONS if o not in reading.values and o not in reading.unreadable]
    if missing:
        notes.append(f"{len(missing)} observation(s) missing, read as not mentioned")
    unreadable = sorted(set(reading.unreadable) - set(reading.values))
    if unreadable:
        notes.append(f"unreadable value for {', '.join(unreadable)}, read as not mentioned")
    status = ParseStatus.REPAIRED if notes else ParseStatus.OK
    return values, status, "; ".join(notes) or None


def values_to_words(values: Mapping[str, float | None]) -> dict[str, str]:
    """The prompt's JSON answer for CheXpert values (baselines answer in this form)."""
    word = {1.0: "positive", 0.0: "negative", -1.0: "uncertain"}
    out: dict[str, str] = {}
    for obs in OBSERVATIONS:
        v = values.get(obs)
        out[obs] = "not mentioned" if v is None else word[float(v)]
    return out
