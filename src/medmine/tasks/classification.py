"""Disease classification: one label out of the dataset's label set, from an image.

How an answer becomes a prediction is written down, rule by rule, in
:mod:`medmine.tasks.label_reader` (negation both ways, complements in two-label sets, a stated
final answer over a differential, refusals, "cannot determine", ambiguity) and
:mod:`medmine.tasks.label_names` (singular/plural, hyphens, the longest specific name, anatomy
words); the cue words are the shared vocabulary in :mod:`medmine.cues`. The metrics are
declared in :data:`METRICS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from medmine.core import (
    GenerationSettings,
    LabelTarget,
    MetricSet,
    MetricSpec,
    ParseStatus,
    Prediction,
    Response,
    Sample,
    TaskKind,
    TaskScores,
    stable_hash,
)
from medmine.metrics.bootstrap import bootstrap_ci, mean_ci
from medmine.metrics.classification import classification_report, encode, macro_f1_codes
from medmine.tasks.image_task import ImageTask
from medmine.tasks.label_names import norm as _norm
from medmine.tasks.label_reader import LABEL_KEYS, READER_VERSION, parse_label
from medmine.tasks.registry import register_task

PROMPT = """\
You are an expert in {category} image interpretation.
Classify the {modality} image into exactly one of these categories:
{options}

Answer with a JSON object and nothing else:
{{"label": "<one of: {codes}>"{prob_field}}}"""

PROB_FIELD = ', "probabilities": {{"<label>": <probability 0..1>, ...}}'

_MODALITY = {
    "dermatology": "dermoscopic skin lesion",
    "radiology": "radiograph",
    "dentistry": "dental radiograph",
    "ophthalmology": "fundus photograph",
    "endoscopy": "endoscopy",
}


#: What this task reports; every view (terminal, Markdown, CSV, HTML, LaTeX, paired
#: tests) reads this declaration.
METRICS = MetricSet(
    headline=MetricSpec("accuracy", "accuracy", per_sample="correct"),
    secondary=(
        MetricSpec("balanced_accuracy", "balanced acc."),
        MetricSpec("macro_f1", "macro-F1"),
        MetricSpec("cohen_kappa", "kappa"),
        MetricSpec("auroc", "AUROC"),
    ),
)


@dataclass
class ClassificationTask(ImageTask[LabelTarget]):
    """Disease classification from one image; metrics as scikit-learn defines them."""

    target_type: ClassVar[type] = LabelTarget

    ask_probabilities: bool = False
    settings: GenerationSettings = field(default_factory=lambda: GenerationSettings(max_tokens=256))
    metrics: ClassVar[MetricSet] = METRICS
    # answer tokens for cost estimates: a label object (~8) plus a code fence or sentence
    typical_output_tokens: ClassVar[int] = 20
    name: str = "classification"
    kind: TaskKind = TaskKind.CLASSIFICATION
    version: str = "2"

    def prompt(self, sample: Sample) -> str:
        """The prompt text for a sample (the label set with each label's display name)."""
        target = self._target(sample)
        options = "\n".join(
            f"- {lab}: {target.names[lab][0]}"
            if target.names.get(lab) and _norm(target.names[lab][0]) != _norm(lab)
            else f"- {lab}"
            for lab in target.labels
        )
        category = sample.category or "medical"
        return PROMPT.format(
            category=category,
            modality=_MODALITY.get(category, "medical"),
            options=options,
            codes=", ".join(target.labels),
            prob_field=PROB_FIELD.format() if self.ask_probabilities else "",
        )

    def json_schema(self, sample: Sample) -> dict[str, object]:
        """The JSON schema of the expected answer (for providers' structured-output modes)."""
        target = self._target(sample)
        props: dict[str, object] = {"label": {"type": "string", "enum": list(target.labels)}}
        if self.ask_probabilities:
            props["probabilities"] = {
                "type": "object",
                "properties": {lab: {"type": "number"} for lab in target.labels},
            }
        return {"type": "object", "properties": props, "required": ["label"]}

    def intent(self, sample: Sample) -> dict[str, Any]:
        """The intent carries the label set."""
        return {"labels": self._target(sample).labels}

    def parse(self, response: Response, sample: Sample) -> Prediction:
        """Read the label; provider errors and refusals keep their own status."""
        if response.error is not None:
            return Prediction({"label": None}, ParseStatus.ERROR, response.error)
        if response.refused:
            return Prediction({"label": None}, ParseStatus.REFUSED, "blocked by the provider")
        label, status, detail, probs = parse_label(response.text, self._target(sample))
        if probs is None and response.probabilities:
            probs = dict(response.probabilities)
        return Prediction({"label": label, "probabilities": probs}, status, detail)

    def score(self, predictions: Sequence[Prediction], samples: Sequence[Sample]) -> TaskScores:
        """Accuracy (headline), balanced accuracy, macro-F1, kappa, AUROC, failure rates."""
        targets = [self._target(s) for s in samples]
        labels = list(targets[0].labels)
        y_true = [t.label for t in targets]
        y_pred = [(p.value or {}).get("label") if p.usable else None for p in predictions]
        probs = [(p.value or {}).get("probabilities") for p in predictions]
        rep = classification_report(y_true, y_pred, labels, probs if all(probs) else None)
        correct = [float(t == p) for t, p in zip(y_true, y_pred, strict=True)]
        groups = [s.patient_id or s.id for s in samples]
        metrics: dict[str, float] = {
            "accuracy": rep.accuracy,
            "balanced_accuracy": rep.balanced_accuracy,
            "macro_f1": rep.macro_f1,
            "cohen_kappa": rep.cohen_kappa,
            **failure_rates(predictions),
        }
        metrics["accuracy_ci_low"], metrics["accuracy_ci_high"] = mean_ci(correct, groups=groups)
        if rep.auroc is not None:
            metrics["auroc"] = rep.auroc
        if len(samples) >= 2:
            t, p = encode(y_true, y_pred, labels)
            lo, hi = bootstrap_ci(
                lambda i: macro_f1_codes(t[i], p[i], len(labels)), len(samples), groups=groups
            )
            metrics["macro_f1_ci_low"], metrics["macro_f1_ci_high"] = lo, hi
        return TaskScores(
            metrics=metrics,
            per_sample={s.id: {"correct": c} for s, c in zip(samples, correct, strict=True)},
            headline=METRICS.headline.key,
            tables={
                "confusion": {"labels": labels, "matrix": rep.confusion},
                "per_class": rep.per_class,
            },
        )

    def template_hash(self) -> str:
        """Hash of the prompt template, the parser version and the options."""
        return stable_hash(
            [
                PROMPT,
                PROB_FIELD,
                self.version,
                self.ask_probabilities,
                LABEL_KEYS,
                READER_VERSION,
            ]
        )


def failure_rates(predictions: Sequence[Prediction]) -> dict[str, float]:
    """Shares of answers that were unparseable, refused, or provider errors (never hidden)."""
    n = max(len(predictions), 1)
    count = {s: 0 for s in ParseStatus}
    ambiguous = 0
    for p in predictions:
        count[p.status] += 1
        if p.detail and p.detail.startswith("ambiguous"):
            ambiguous += 1
    return {
        "n": float(len(predictions)),
        "parse_failure_rate": count[ParseStatus.UNPARSEABLE] / n,
        "ambiguous_rate": ambiguous / n,
        "refusal_rate": count[ParseStatus.REFUSED] / n,
        "error_rate": count[ParseStatus.ERROR] / n,
        "repaired_rate": count[ParseStatus.REPAIRED] / n,
    }


register_task("classification", ClassificationTask)
