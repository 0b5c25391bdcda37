"""Disease classification: one label out of the dataset's label set, from an image."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from medmine.core import (
    GenerationSettings,
    LabelTarget,
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
from medmine.metrics.classification import classification_report, encode, macro_f1_codes
from medmine.tasks.answer_text import json_candidates, looks_like_refusal, strip_markup
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

_LABEL_KEYS = ("label", "diagnosis", "answer", "class", "category", "prediction", "classification")
_PROB_KEYS = ("probabilities", "probability", "scores", "confidences")
_NEGATION = re.compile(
    r"\b(?:no|not|without|rule[sd]? out|unlikely|exclude[sd]?|negative for)\W+"
    r"(?:\w+\W+){0,2}$",
    re.I,
)
_ANSWER_LINE = re.compile(
    r"(?:final answer|answer|diagnosis|classification|label|category)"
    r"\s*(?:is)?\s*[:=\-]\s*(.+)",
    re.I,
)


@dataclass(frozen=True)
class LabelMatcher:
    """Finds mentions of a label set's names, synonyms and abbreviations in free text."""

    labels: tuple[str, ...]
    pattern: re.Pattern[str]
    lookup: Mapping[str, str]

    def mentions(self, text: str) -> list[tuple[str, int]]:
        """(canonical label, position) of every non-overlapping mention, longest names first."""
        return [(self.lookup[m.group(0).lower()], m.start()) for m in self.pattern.finditer(text)]

    def resolve(self, word: str) -> str | None:
        """The canonical label a single name stands for, if it is one."""
        return self.lookup.get(_norm(word))


def _norm(s: str) -> str:
    return re.sub(r"[\s_\-]+", " ", s.strip().strip(".\"'").lower())


@lru_cache(maxsize=256)
def _matcher(
    labels: tuple[str, ...], names: tuple[tuple[str, tuple[str, ...]], ...]
) -> LabelMatcher:
    lookup: dict[str, str] = {}
    for lab in labels:
        lookup[_norm(lab)] = lab
    for lab, words in names:
        for w in words:
            lookup.setdefault(_norm(w), lab)
    alternatives = sorted(lookup, key=len, reverse=True)
    body = "|".join(re.escape(a).replace(r"\ ", r"[\s_\-]+") for a in alternatives)
    pattern = re.compile(rf"(?<![\w]){'(?:' + body + ')'}(?![\w])", re.I)
    # Mentions are looked up after normalising separators.
    norm_lookup = _NormLookup(lookup)
    return LabelMatcher(labels, pattern, norm_lookup)


class _NormLookup(dict):  # type: ignore[type-arg]
    """A dict that normalises whitespace/underscores/hyphens in keys before looking up."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(_norm(key))

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(_norm(key), default)


def matcher_for(target: LabelTarget) -> LabelMatcher:
    """The (cached) matcher for a dataset's label set and names."""
    names = tuple(sorted((k, tuple(v)) for k, v in target.names.items()))
    return _matcher(tuple(target.labels), names)


def parse_label(
    text: str, target: LabelTarget
) -> tuple[str | None, ParseStatus, str | None, dict[str, float] | None]:
    """Read one label (and optional probabilities) from a free-text answer.

    Order: a JSON object with a label key; an "Answer: X" line; otherwise the label names in the
    prose. Negated mentions ("no melanoma") are ignored when another mention remains. Several
    different labels named → unparseable ("ambiguous: ..."), scored as wrong and counted.
    Nothing found → refused when the text declines, else unparseable.
    """
    matcher = matcher_for(target)
    probs: dict[str, float] | None = None
    for value in reversed(json_candidates(text)):
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
            value = value[0]
        if not isinstance(value, dict):
            continue
        lowered = {str(k).lower(): v for k, v in value.items()}
        probs = _read_probs(next((lowered[k] for k in _PROB_KEYS if k in lowered), None), matcher)
        raw = next((lowered[k] for k in _LABEL_KEYS if k in lowered), None)
        if isinstance(raw, str):
            label = matcher.resolve(raw)
            if label is not None:
                return label, ParseStatus.OK, None, probs
            found = {lab for lab, _ in matcher.mentions(raw)}
            if len(found) == 1:
                return found.pop(), ParseStatus.REPAIRED, f"label text {raw!r}", probs
        if probs:
            best = max(probs, key=lambda k: probs[k])
            return best, ParseStatus.REPAIRED, "label taken from the highest probability", probs

    plain = strip_markup(text)
    if not plain:
        return None, ParseStatus.UNPARSEABLE, "empty answer", None
    whole = matcher.resolve(plain)
    if whole is not None:
        return whole, ParseStatus.OK, None, probs
    for line in reversed(plain.splitlines()):
        m = _ANSWER_LINE.search(line)
        if m:
            found = _affirmed(m.group(1), matcher)
            if len(found) == 1:
                return found.pop(), ParseStatus.REPAIRED, "label read from an answer line", probs
    found = _affirmed(plain, matcher)
    if len(found) == 1:
        return found.pop(), ParseStatus.REPAIRED, "label read from prose", probs
    if len(found) > 1:
        return None, ParseStatus.UNPARSEABLE, f"ambiguous: names {sorted(found)}", probs
    if looks_like_refusal(plain):
        return None, ParseStatus.REFUSED, "the model declined", None
    return None, ParseStatus.UNPARSEABLE, "no label of the label set named", None


def _affirmed(text: str, matcher: LabelMatcher) -> set[str]:
    mentions = matcher.mentions(text)
    affirmed = {lab for lab, pos in mentions if not _NEGATION.search(text[max(0, pos - 40) : pos])}
    return affirmed or {lab for lab, _ in mentions}


def _read_probs(raw: object, matcher: LabelMatcher) -> dict[str, float] | None:
    if not isinstance(raw, dict):
        return None
    out: dict[str, float] = {}
    for k, v in raw.items():
        label = matcher.resolve(str(k))
        try:
            p = float(v)
        except (TypeError, ValueError):
            continue
        if label is not None and 0.0 <= p <= 100.0 and p == p:
            out[label] = p
    if not out:
        return None
    total = sum(out.values())
    if total > 1.0 + 1e-6:  # percentages or unnormalised scores: normalise
        out = {k: v / total for k, v in out.items()}
    return out


@dataclass
class ClassificationTask:
    """Disease classification from one image; metrics as scikit-learn defines them."""

    ask_probabilities: bool = False
    settings: GenerationSettings = field(default_factory=lambda: GenerationSettings(max_tokens=256))
    name: str = "classification"
    kind: TaskKind = TaskKind.CLASSIFICATION
    version: str = "1"

    def applies_to(self, sample: Sample) -> bool:
        """Needs an image and a label target."""
        return bool(sample.images) and isinstance(sample.target(self.kind), LabelTarget)

    def _target(self, sample: Sample) -> LabelTarget:
        target = sample.target(self.kind)
        assert isinstance(target, LabelTarget)
        return target

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

    def request(self, sample: Sample) -> Request:
        """Image first, then the instruction: the order most vision models are tuned on."""
        target = self._target(sample)
        return user_request(
            self.name,
            sample.id,
            sample.images,
            self.prompt(sample),
            self.settings,
            self.json_schema(sample),
            labels=target.labels,
        )

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
            headline="accuracy",
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
                _LABEL_KEYS,
                _NEGATION.pattern,
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
