"""Medical visual question answering: closed (yes/no, named alternatives), multiple-choice and
open questions about one image or several.

The prompt shows the image(s), the question and, for multiple choice, the lettered options,
and asks for ``{"answer": ...}``. The answer is read by :mod:`medmine.tasks.vqa_read` (which
never takes a word for an option letter) and scored by :mod:`medmine.tasks.vqa_score` with the
published protocols documented there: closed accuracy after yes/no normalisation,
multiple-choice accuracy, and open exact match, token recall and token F1, broken down by
answer type, modality and question type.

The request's intent carries what a non-LLM baseline needs without reading the prompt:
``labels`` are the option letters (or yes/no), ``text`` the question and ``structure`` the
prior key ``"<rule>|<question type>"`` (see :func:`prior_key`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from medmine.core import (
    GenerationSettings,
    MetricSet,
    MetricSpec,
    ParseStatus,
    Prediction,
    Request,
    Response,
    Sample,
    TaskKind,
    TaskScores,
    stable_hash,
)
from medmine.datasets.readers.vqa_common import ANSWER_TYPES, CHOICE, CLOSED, VqaTarget
from medmine.tasks.classification import failure_rates
from medmine.tasks.image_task import ImageTask
from medmine.tasks.registry import register_task
from medmine.tasks.vqa_read import READER_VERSION, read_choice, read_open, read_yes_no
from medmine.tasks.vqa_score import aggregate

PROMPT_HEAD = "You are an expert in medical image interpretation. {look}\n\nQuestion: {question}"
LOOK_ONE = "Look at the image and answer the question about it."
LOOK_MANY = "Look at the {n} images and answer the question about them."
OPTIONS_BLOCK = "\n\nOptions:\n{options}"
INSTRUCTIONS = {
    "choice": "Answer with the letter of the one correct option, as a JSON object and nothing "
    'else: {{"answer": "<{letters}>"}}',
    "yes_no": 'Answer yes or no, as a JSON object and nothing else: {{"answer": "yes"}} or '
    '{{"answer": "no"}}',
    "closed": "Answer with the one alternative the question names, as a JSON object and "
    'nothing else: {{"answer": "<alternative>"}}',
    "open": "Answer in a few words (no sentence), as a JSON object and nothing else: "
    '{{"answer": "<short answer>"}}',
}

TRUNCATED_REASONS = frozenset({"length", "max_tokens", "MAX_TOKENS"})

METRICS = MetricSet(
    headline=MetricSpec("accuracy", "Accuracy", per_sample="score"),
    secondary=(
        MetricSpec("closed_accuracy", "Closed acc.", per_sample="correct"),
        MetricSpec("choice_accuracy", "MC acc.", per_sample="correct"),
        MetricSpec("open_recall", "Open recall", per_sample="recall"),
        MetricSpec("open_f1", "Open F1", per_sample="f1"),
        MetricSpec("open_exact", "Open EM", per_sample="exact"),
        # only when an LLM judge graded the open answers (medmine run --judge PRESET)
        MetricSpec("judge_score", "Open judge", per_sample="judge_score"),
    ),
)


def vqa_target(sample: Sample) -> VqaTarget:
    """The sample's VQA target; ValueError when it has none."""
    t = sample.target(TaskKind.VQA)
    if not isinstance(t, VqaTarget):
        raise ValueError(f"sample {sample.id} has no vqa target")
    return t


def prior_key(target: VqaTarget) -> str:
    """The key a prior baseline groups answers by: scoring rule and question type."""
    return f"{target.rule}|{target.question_type}"


@dataclass
class VqaTask(ImageTask[VqaTarget]):
    """Medical VQA: yes/no, multiple choice and open questions; accuracy headline."""

    target_type: ClassVar[type] = VqaTarget

    settings: GenerationSettings = field(default_factory=lambda: GenerationSettings(max_tokens=256))
    name: str = "vqa"
    kind: TaskKind = TaskKind.VQA
    version: str = "1"
    metrics: MetricSet = METRICS

    def prompt(self, sample: Sample) -> str:
        """The instruction: question, options (multiple choice) and the answer format."""
        t = vqa_target(sample)
        n = len(sample.images)
        look = LOOK_ONE if n <= 1 else LOOK_MANY.format(n=n)
        text = PROMPT_HEAD.format(look=look, question=t.question.strip())
        if t.rule == CHOICE:
            if not t.options:
                raise ValueError(f"sample {sample.id}: multiple-choice question without options")
            text += OPTIONS_BLOCK.format(options="\n".join(f"{lt}. {o}" for lt, o in t.options))
            letters = "|".join(lt for lt, _ in t.options)
            return text + "\n\n" + INSTRUCTIONS["choice"].format(letters=letters)
        return text + "\n\n" + INSTRUCTIONS[t.rule].format()

    def request(self, sample: Sample) -> Request:
        """Image(s) first, then the instruction; the intent carries options and prior key."""
        if not sample.images:
            raise ValueError(f"sample {sample.id}: a visual question without an image")
        return super().request(sample)

    def intent(self, sample: Sample) -> dict[str, Any]:
        """The option letters (or yes/no), the prior baseline's key and the question."""
        t = vqa_target(sample)
        labels: tuple[str, ...] = tuple(lt for lt, _ in t.options)
        if t.rule == "yes_no":
            labels = ("yes", "no")
        return {"labels": labels, "structure": prior_key(t), "text": t.question}

    def example_answer(self, sample: Sample) -> str:
        """The reference answer in the asked format (few-shot worked examples)."""
        t = vqa_target(sample)
        value = t.letter if t.rule == CHOICE else t.answer
        return json.dumps({"answer": value}, ensure_ascii=False)

    def example_label(self, sample: Sample) -> str:
        """What few-shot examples are stratified by: rule and (closed/choice) answer."""
        t = vqa_target(sample)
        return f"{t.rule}:{t.letter if t.rule == CHOICE else t.answer.lower()}"

    @staticmethod
    def sample_from_fields(fields: Mapping[str, Any], sample_id: str = "answer") -> Sample:
        """A sample to read an answer against, from a line's fields (``medmine parse vqa``):
        ``question``; ``options`` as {"A": text, ...} or [[letter, text], ...] (multiple
        choice); else ``answer_type`` "closed" (yes/no) or "open" (the default without
        options). No image is needed to read an answer."""
        raw = fields.get("options") or {}
        pairs = raw.items() if isinstance(raw, Mapping) else (tuple(p) for p in raw)
        options = tuple((str(k).strip().upper(), str(v)) for k, v in pairs)
        kind = str(fields.get("answer_type") or ("choice" if options else "open")).lower()
        if kind not in ANSWER_TYPES:
            raise ValueError(f"{sample_id}: answer_type {kind!r}; expected {ANSWER_TYPES}")
        reference = str(fields.get("reference") or ("yes" if kind == CLOSED else ""))
        target = VqaTarget(
            question=str(fields.get("question") or ""),
            answer=reference,
            answer_type=kind,
            options=options,
            letter=None,
        )
        return Sample(id=sample_id, dataset="parse", targets={TaskKind.VQA: target})

    def parse(self, response: Response, sample: Sample) -> Prediction:
        """Read the answer per the question's rule; errors, refusals, cut answers keep theirs."""
        if response.error is not None:
            return Prediction(None, ParseStatus.ERROR, response.error)
        if response.refused:
            return Prediction(None, ParseStatus.REFUSED, "blocked by provider")
        t = vqa_target(sample)
        if t.rule == CHOICE:
            value, status, detail = read_choice(response.text, t.options)
        elif t.rule == "yes_no":
            value, status, detail = read_yes_no(response.text)
        else:
            value, status, detail = read_open(response.text)
        if response.finish_reason in TRUNCATED_REASONS and value is None:
            return Prediction(None, ParseStatus.TRUNCATED, "cut by the token limit")
        return Prediction({"answer": value} if value is not None else None, status, detail)

    def score(self, predictions: Sequence[Prediction], samples: Sequence[Sample]) -> TaskScores:
        """Accuracy (headline), per-rule figures, breakdowns, intervals and failure rates."""
        if len(predictions) != len(samples):
            raise ValueError(f"{len(predictions)} predictions for {len(samples)} samples")
        if not samples:
            raise ValueError("no samples to score")
        metrics, per_sample, tables = aggregate(predictions, samples)
        metrics.update(failure_rates(predictions))
        n = max(len(predictions), 1)
        metrics["truncated_rate"] = sum(p.status == ParseStatus.TRUNCATED for p in predictions) / n
        return TaskScores(metrics, per_sample, "accuracy", tables)

    def template_hash(self) -> str:
        """Hash of the prompt texts and the reader version."""
        return stable_hash(
            [
                PROMPT_HEAD,
                LOOK_ONE,
                LOOK_MANY,
                OPTIONS_BLOCK,
                INSTRUCTIONS,
                READER_VERSION,
                self.version,
            ]
        )


register_task("vqa", VqaTask)
