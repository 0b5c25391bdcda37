"""Disease diagnosis: the 14 CheXpert observations from a radiology report (or the radiograph).

The model reads the report text (``Sample.text``) — or, for a chest radiograph sample without
text, looks at the image(s) — and states each observation as ``"positive"``,
``"negative"``, ``"uncertain"`` or ``"not mentioned"`` in one JSON object. The parser also
accepts 1 / 0 / -1 / null, true/false and common words (present, absent, possible ...),
markdown tables, bullet lists and "Cardiomegaly: positive" lines, with observation synonyms
("effusion" -> Pleural Effusion). An observation the answer leaves out is "not mentioned".

Scoring (see :mod:`medmine.metrics.multilabel`): the positive class per observation, with the
CheXpert uncertainty policy of the ``uncertain`` option for targets (U-Ones default); "not
mentioned" is negative. The headline is ``macro_f1``: the mean F1 over the observations with
at least one positive target in the scored samples (listed in ``tables["macro_labels"]``).
Failed answers (unparseable, refused, provider error) are scored as all-negative and counted in
the failure rates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medmine.chexpert import OBSERVATIONS
from medmine.core import (
    GenerationSettings,
    ObservationsTarget,
    ParseStatus,
    Prediction,
    Request,
    Response,
    Sample,
    TaskKind,
    TaskScores,
    stable_hash,
    user_request,
)
from medmine.metrics.bootstrap import bootstrap_ci, mean_ci
from medmine.metrics.multilabel import (
    UNCERTAIN_POLICIES,
    multilabel_report,
    observation_matrix,
    per_sample_f1,
)
from medmine.tasks.answer_text import json_candidates, looks_like_refusal
from medmine.tasks.classification import failure_rates
from medmine.tasks.registry import register_task

PARSER_VERSION = "1"

#: The CheXpert "competition" observations many papers also average over.
COMPETITION_5: tuple[str, ...] = (
    "Atelectasis",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Pleural Effusion",
)

PROMPT = """\
You are an expert radiologist. {source}

For each of the 14 CheXpert observations below, give one of these values:
- "positive": the finding is present
- "negative": the finding is explicitly absent
- "uncertain": the finding is possible, questionable or cannot be excluded
- "not mentioned": {not_mentioned}

Observations: {observations}

Answer with a JSON object with exactly these 14 keys and nothing else:
{example}"""

_SOURCE_TEXT = "Read the chest radiograph report below."
_SOURCE_IMAGE = "Look at the chest radiograph image(s)."
_NM_TEXT = "the report does not mention it"
_NM_IMAGE = "it cannot be assessed on the image(s)"
_REPORT_BLOCK = '\n\nReport:\n"""\n{text}\n"""'

VALUE_WORDS: tuple[str, ...] = ("positive", "negative", "uncertain", "not mentioned")
_VALUE_OF = {"positive": 1.0, "negative": 0.0, "uncertain": -1.0, "not mentioned": None}

# Words a model may use for each value (after lower-casing and collapsing spaces).
_VALUE_SYNONYMS: dict[str, float | None] = {
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
        for w in sorted((w for w in _VALUE_SYNONYMS if w and w not in ("-", "u")), key=len)[::-1]
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
    if text in _VALUE_SYNONYMS:
        return True, _VALUE_SYNONYMS[text]
    m = _VALUE_LEAD.match(text)
    if m:
        return True, _VALUE_SYNONYMS[m.group(0).lower()]
    return False, None


@dataclass
class _Reading:
    values: dict[str, float | None] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)


def _from_mapping(obj: Mapping[Any, Any]) -> _Reading:
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


@dataclass
class DiagnosisTask:
    """Diagnosis: the 14 CheXpert observations from a report (or image); macro F1 headline.

    Options: ``uncertain`` — the CheXpert policy for uncertain targets ("ones", "zeros",
    "ignore"); ``source`` — "auto" (report text when the sample has it, else its images),
    "text" or "image"; ``max_report_chars`` — longer reports are refused as bad input.
    """

    uncertain: str = "ones"
    source: str = "auto"
    max_report_chars: int = 20000
    settings: GenerationSettings = field(default_factory=lambda: GenerationSettings(max_tokens=512))
    name: str = "diagnosis"
    kind: TaskKind = TaskKind.DIAGNOSIS
    version: str = "1"

    def __post_init__(self) -> None:
        """Validate the options (a typo must not silently change the metric)."""
        if self.uncertain not in UNCERTAIN_POLICIES:
            raise ValueError(
                f"diagnosis option uncertain={self.uncertain!r}: expected one of "
                f"{', '.join(UNCERTAIN_POLICIES)}"
            )
        if self.source not in ("auto", "text", "image"):
            raise ValueError(
                f"diagnosis option source={self.source!r}: expected auto, text or image"
            )
        if not isinstance(self.max_report_chars, int) or self.max_report_chars <= 0:
            raise ValueError(
                f"diagnosis option max_report_chars={self.max_report_chars!r}: expected a "
                "positive integer"
            )

    def _uses_text(self, sample: Sample) -> bool:
        if self.source == "text":
            return True
        if self.source == "image":
            return False
        return sample.text is not None and (bool(sample.text.strip()) or not sample.images)

    def applies_to(self, sample: Sample) -> bool:
        """Needs an observations target and report text or images (per ``source``)."""
        if not isinstance(sample.target(self.kind), ObservationsTarget):
            return False
        if self.source == "text":
            return sample.text is not None
        if self.source == "image":
            return bool(sample.images)
        return sample.text is not None or bool(sample.images)

    def prompt(self, sample: Sample) -> str:
        """The instruction (with the report appended when the input is text).

        Raises ValueError for an empty or over-long report (recorded as a bad sample).
        """
        example = "{" + ", ".join(f'"{o}": "<value>"' for o in OBSERVATIONS) + "}"
        if self._uses_text(sample):
            text = sample.text or ""
            if not text.strip():
                raise ValueError(f"sample {sample.id}: empty report text")
            if len(text) > self.max_report_chars:
                raise ValueError(
                    f"sample {sample.id}: report has {len(text)} characters, over "
                    f"max_report_chars={self.max_report_chars}"
                )
            head = PROMPT.format(
                source=_SOURCE_TEXT,
                not_mentioned=_NM_TEXT,
                observations=", ".join(OBSERVATIONS),
                example=example,
            )
            return head + _REPORT_BLOCK.format(text=text.strip())
        return PROMPT.format(
            source=_SOURCE_IMAGE,
            not_mentioned=_NM_IMAGE,
            observations=", ".join(OBSERVATIONS),
            example=example,
        )

    def json_schema(self) -> dict[str, object]:
        """The JSON schema of the expected answer."""
        prop = {"type": "string", "enum": list(VALUE_WORDS)}
        return {
            "type": "object",
            "properties": {o: prop for o in OBSERVATIONS},
            "required": list(OBSERVATIONS),
        }

    def request(self, sample: Sample) -> Request:
        """Report text in the prompt, or image(s) first then the instruction."""
        text_input = self._uses_text(sample)
        prompt = self.prompt(sample)
        images = () if text_input else sample.images
        if not text_input and not images:
            raise ValueError(f"sample {sample.id}: no report text and no image")
        return user_request(
            self.name,
            sample.id,
            images,
            prompt,
            self.settings,
            self.json_schema(),
            labels=OBSERVATIONS,
            structure="report" if text_input else "image",
            text=sample.text if text_input else None,
        )

    def parse(self, response: Response, sample: Sample) -> Prediction:
        """Read the 14 values; provider errors and refusals keep their own status."""
        if response.error is not None:
            return Prediction({"observations": None}, ParseStatus.ERROR, response.error)
        if response.refused:
            return Prediction({"observations": None}, ParseStatus.REFUSED, "blocked by provider")
        values, status, detail = parse_observations(response.text)
        return Prediction({"observations": values}, status, detail)

    def score(self, predictions: Sequence[Prediction], samples: Sequence[Sample]) -> TaskScores:
        """Per-observation P/R/F1, micro/macro F1 (headline: macro over present), CIs, failures."""
        if len(predictions) != len(samples):
            raise ValueError(f"{len(predictions)} predictions for {len(samples)} samples")
        if not samples:
            raise ValueError("no samples to score")
        targets = []
        for s in samples:
            t = s.target(self.kind)
            if not isinstance(t, ObservationsTarget):
                raise ValueError(f"sample {s.id} has no diagnosis (observations) target")
            targets.append(t.values)
        y_true = observation_matrix(targets, OBSERVATIONS)
        preds = [_prediction_values(p) for p in predictions]
        y_pred = observation_matrix(preds, OBSERVATIONS)
        policy = self.uncertain
        rep = multilabel_report(y_true, y_pred, OBSERVATIONS, uncertain=policy)  # type: ignore[arg-type]
        sample_f1 = per_sample_f1(y_true, y_pred, uncertain=policy)  # type: ignore[arg-type]
        metrics: dict[str, float] = {
            "macro_f1": rep.macro_f1,
            "micro_f1": rep.micro_f1,
            "macro_precision": rep.macro_precision,
            "macro_recall": rep.macro_recall,
            "micro_precision": rep.micro_precision,
            "micro_recall": rep.micro_recall,
            "n_macro_observations": float(len(rep.macro_labels)),
            "sample_f1": float(sample_f1.mean()),
            **failure_rates(predictions),
        }
        five = [OBSERVATIONS.index(o) for o in COMPETITION_5]
        rep5 = multilabel_report(
            y_true[:, five],
            y_pred[:, five],
            COMPETITION_5,
            uncertain=policy,  # type: ignore[arg-type]
        )
        if rep5.macro_labels:
            metrics["macro_f1_competition5"] = rep5.macro_f1
        groups = [s.patient_id or s.id for s in samples]
        if len(samples) >= 2:

            def stat(idx: np.ndarray) -> float:
                r = multilabel_report(y_true[idx], y_pred[idx], OBSERVATIONS, uncertain=policy)  # type: ignore[arg-type]
                return r.macro_f1 if r.macro_labels else float("nan")

            lo, hi = bootstrap_ci(stat, len(samples), groups=groups, n_resamples=200)
            metrics["macro_f1_ci_low"], metrics["macro_f1_ci_high"] = lo, hi
            lo, hi = mean_ci(sample_f1.tolist(), groups=groups)
            metrics["sample_f1_ci_low"], metrics["sample_f1_ci_high"] = lo, hi
        tb = np.where(np.isnan(y_true), 0.0, y_true)
        pb = np.where(np.isnan(y_pred), 0.0, y_pred)
        per_sample = {
            s.id: {"f1": float(sample_f1[i]), "exact": float(np.array_equal(tb[i], pb[i]))}
            for i, s in enumerate(samples)
        }
        return TaskScores(
            metrics=metrics,
            per_sample=per_sample,
            headline="macro_f1",
            tables={
                "per_observation": rep.per_label,
                "macro_labels": rep.macro_labels,
                "uncertain_policy": policy,
                "not_mentioned": "negative",
            },
        )

    def template_hash(self) -> str:
        """Hash of the prompt, parser version and the options that change the scores."""
        return stable_hash(
            [
                PROMPT,
                _SOURCE_TEXT,
                _SOURCE_IMAGE,
                _NM_TEXT,
                _NM_IMAGE,
                _REPORT_BLOCK,
                PARSER_VERSION,
                self.version,
                self.uncertain,
                self.source,
                self.max_report_chars,
                sorted(_VALUE_SYNONYMS.items(), key=lambda kv: kv[0]),
                sorted(OBSERVATION_SYNONYMS.items()),
            ]
        )


def _prediction_values(p: Prediction) -> dict[str, float | None]:
    """The predicted values of a usable prediction; a failure is all negative (0.0)."""
    values = (p.value or {}).get("observations") if isinstance(p.value, dict) else None
    if not p.usable or not isinstance(values, dict):
        return dict.fromkeys(OBSERVATIONS, 0.0)
    return {o: values.get(o) for o in OBSERVATIONS}


register_task("diagnosis", DiagnosisTask)
