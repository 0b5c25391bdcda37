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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from medmine.chexpert import OBSERVATIONS
from medmine.core import (
    GenerationSettings,
    MetricSet,
    MetricSpec,
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
from medmine.tasks.classification import failure_rates
from medmine.tasks.diagnosis_truth import observation_kappas, truth_scope
from medmine.tasks.observation_parse import (
    OBSERVATION_SYNONYMS,
    PARSER_VERSION,
    VALUE_SYNONYMS,
    parse_observations,
    read_value,
    resolve_observation,
    values_to_words,
)
from medmine.tasks.registry import register_task

# The answer parser lives in observation_parse; its names stay importable from here.
__all__ = [
    "COMPETITION_5",
    "OBSERVATION_SYNONYMS",
    "PARSER_VERSION",
    "PROMPT",
    "VALUE_WORDS",
    "DiagnosisTask",
    "parse_observations",
    "read_value",
    "resolve_observation",
    "values_to_words",
]

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


#: What this task reports; every view (terminal, Markdown, CSV, HTML, LaTeX, paired
#: tests) reads this declaration.
METRICS = MetricSet(
    headline=MetricSpec("macro_f1", "macro-F1", per_sample="f1"),
    secondary=(
        MetricSpec("micro_f1", "micro-F1"),
        MetricSpec("sample_f1", "sample F1", per_sample="f1"),
    ),
)


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
    metrics: ClassVar[MetricSet] = METRICS
    # answer tokens for cost estimates: 14 CheXpert keys with a value word (~10 each)
    typical_output_tokens: ClassVar[int] = 150
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
        labels, provenance = truth_scope(samples)
        y_true = observation_matrix(targets, labels)
        preds = [_prediction_values(p) for p in predictions]
        y_pred = observation_matrix(preds, labels)
        policy = self.uncertain
        rep = multilabel_report(y_true, y_pred, labels, uncertain=policy)  # type: ignore[arg-type]
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
        comp5 = tuple(o for o in COMPETITION_5 if o in labels)
        five = [labels.index(o) for o in comp5]
        rep5 = multilabel_report(
            y_true[:, five],
            y_pred[:, five],
            comp5,
            uncertain=policy,  # type: ignore[arg-type]
        )
        if rep5.macro_labels:
            metrics["macro_f1_competition5"] = rep5.macro_f1
        groups = [s.patient_id or s.id for s in samples]
        if len(samples) >= 2:

            def stat(idx: np.ndarray) -> float:
                r = multilabel_report(y_true[idx], y_pred[idx], labels, uncertain=policy)  # type: ignore[arg-type]
                return r.macro_f1 if r.macro_labels else float("nan")

            lo, hi = bootstrap_ci(stat, len(samples), groups=groups, n_resamples=200)
            metrics["macro_f1_ci_low"], metrics["macro_f1_ci_high"] = lo, hi
            lo, hi = mean_ci(sample_f1.tolist(), groups=groups)
            metrics["sample_f1_ci_low"], metrics["sample_f1_ci_high"] = lo, hi
        for name, value in observation_kappas(y_true, y_pred, labels, policy).items():
            rep.per_label[name]["kappa"] = value
        tb = np.where(np.isnan(y_true), 0.0, y_true)
        pb = np.where(np.isnan(y_pred), 0.0, y_pred)
        per_sample = {
            s.id: {"f1": float(sample_f1[i]), "exact": float(np.array_equal(tb[i], pb[i]))}
            for i, s in enumerate(samples)
        }
        return TaskScores(
            metrics=metrics,
            per_sample=per_sample,
            headline=METRICS.headline.key,
            tables={
                "per_observation": rep.per_label,
                "macro_labels": rep.macro_labels,
                "uncertain_policy": policy,
                "not_mentioned": "negative",
                "truth": provenance,
                "excluded_observations": [o for o in OBSERVATIONS if o not in labels],
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
                sorted(VALUE_SYNONYMS.items(), key=lambda kv: kv[0]),
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
