"""Prompt strategies as a request transformation: zero-shot, few-shot (worked examples), CoT.

:class:`PromptedTask` wraps any task. It keeps the task's reader and scorer and changes only
what is asked:

- ``few_shot`` (K shots): before the question, K worked examples from the support split, each
  a user turn (the example's image(s) as images, then the same instruction) followed by an
  assistant turn with the example's reference answer in the asked JSON form
  (:mod:`medmine.tasks.examples`). The examples are drawn once per dataset, stratified by
  label and seeded; their ids are part of the recipe (:meth:`PromptedTask.recipe`).
- ``cot``: the instruction asks for brief step-by-step reasoning and a last line
  ``Final answer: <answer in the asked form>``. The reader reads that line (the last one when
  several); the whole reply, reasoning included, is what the store keeps. A reply without a
  final-answer line is read whole and marked repaired, never silently.

Each strategy is its own result column: the wrapped task's name is ``<task>@<k>shot`` or
``<task>@cot`` (zero-shot keeps the plain name). ``base_name`` is the wrapped task's name.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from medmine.core import (
    Message,
    MetricSet,
    ParseStatus,
    Prediction,
    Request,
    Response,
    Sample,
    Task,
    TaskKind,
    TaskScores,
    TextPart,
    stable_hash,
)
from medmine.tasks.examples import FEW_SHOT_KINDS, choose_examples, example_answer

STRATEGIES = ("zero_shot", "few_shot", "cot")

COT_SUFFIX = (
    "\n\nThink step by step: first explain your reasoning briefly, then end with one last "
    "line of the form\nFinal answer: <your answer in the form asked above>"
)
EXAMPLES_INTRO = "Here {are} {k} worked example{s} of this task, each followed by its answer."
QUESTION_INTRO = "Now the case to answer."
COT_MIN_TOKENS = 1024
_FINAL = re.compile(r"^\W*final\s+answer\s*[:\-–—]\s*(?P<rest>.*)$", re.I | re.M)


def strategy_task_name(base: str, strategy: str, shots: int) -> str:
    """The result column of a strategy: ``vqa``, ``vqa@2shot``, ``vqa@cot``."""
    if strategy == "zero_shot":
        return base
    if strategy == "few_shot":
        return f"{base}@{shots}shot"
    if strategy == "cot":
        return f"{base}@cot"
    raise ValueError(f"unknown prompt strategy {strategy!r}; known: {', '.join(STRATEGIES)}")


def final_answer(text: str) -> tuple[str, bool]:
    """The text after the last ``Final answer:`` line (and what follows it), and whether
    such a line was found; without one, the whole text."""
    matches = list(_FINAL.finditer(text))
    if not matches:
        return text, False
    last = matches[-1]
    return (last.group("rest") + text[last.end() :]).strip(), True


@dataclass
class PromptedTask:
    """A task asked with a prompt strategy; reading and scoring stay the wrapped task's."""

    inner: Task
    strategy: str
    shots: int = 0
    support: Sequence[Sample] = ()
    seed: int = 0
    draw: bool = True  # False: only to read stored answers (no examples drawn, no asking)
    examples: tuple[Sample, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        """Validate the strategy and draw the worked examples (ValueError: cannot run)."""
        strategy_task_name(self.inner.name, self.strategy, self.shots)
        if self.strategy == "few_shot" and self.draw:
            if self.shots < 1:
                raise ValueError("few_shot needs shots >= 1")
            if self.inner.kind not in FEW_SHOT_KINDS:
                raise ValueError(f"few-shot prompting is not available for {self.inner.name}")
            self.examples = choose_examples(self.support, self.inner, self.shots, self.seed)
            for ex in self.examples:
                example_answer(self.inner, ex)  # every example must be writable

    @property
    def name(self) -> str:  # type: ignore[override]
        """The result column's name."""
        return strategy_task_name(self.inner.name, self.strategy, self.shots)

    @property
    def base_name(self) -> str:
        """The wrapped task's name (what baselines and presets know it by)."""
        return self.inner.name

    @property
    def kind(self) -> TaskKind:  # type: ignore[override]
        """The wrapped task's kind."""
        return self.inner.kind

    @property
    def version(self) -> str:  # type: ignore[override]
        """The wrapped task's version."""
        return self.inner.version

    @property
    def metrics(self) -> MetricSet:  # type: ignore[override]
        """The wrapped task's metric declaration."""
        return self.inner.metrics

    @property
    def settings(self) -> Any:
        """The wrapped task's generation settings."""
        return getattr(self.inner, "settings", None)

    def applies_to(self, sample: Sample) -> bool:
        """As the wrapped task. (Examples come from the support split, which never holds a
        test sample, so no example is asked as a question; baselines fit on the whole
        support split as in zero-shot.)"""
        return self.inner.applies_to(sample)

    def request(self, sample: Sample) -> Request:
        """The wrapped request with worked examples before it, or the CoT instruction."""
        base = self.inner.request(sample)
        if self.strategy == "zero_shot":
            return base
        *head, last = base.messages
        if self.strategy == "cot":
            parts = _append_text(last.parts, COT_SUFFIX)
            settings = base.settings
            if settings.max_tokens < COT_MIN_TOKENS:
                settings = dataclasses.replace(settings, max_tokens=COT_MIN_TOKENS)
            messages = (*head, Message(last.role, parts))
            return dataclasses.replace(base, messages=messages, settings=settings)
        k = len(self.examples)
        intro = EXAMPLES_INTRO.format(are="is" if k == 1 else "are", k=k, s="" if k == 1 else "s")
        turns: list[Message] = []
        for i, ex in enumerate(self.examples):
            ex_msgs = self.inner.request(ex).messages
            first = ex_msgs[-1]
            parts = first.parts
            if i == 0:
                parts = (TextPart(intro), *parts)
            turns += [*ex_msgs[:-1], Message("user", parts)]
            turns.append(Message("assistant", (TextPart(example_answer(self.inner, ex)),)))
        question = Message(last.role, (TextPart(QUESTION_INTRO), *last.parts))
        return dataclasses.replace(base, messages=(*head, *turns, question))

    def parse(self, response: Response, sample: Sample) -> Prediction:
        """CoT: read the final-answer line with the wrapped reader; otherwise as wrapped."""
        if self.strategy != "cot" or response.error is not None or response.refused:
            return self.inner.parse(response, sample)
        answer, found = final_answer(response.text)
        pred = self.inner.parse(dataclasses.replace(response, text=answer), sample)
        note = f"cot: {len(response.text) - len(answer)} characters of reasoning kept in the answer"
        if not found:
            note = "cot: no 'Final answer:' line; the whole reply was read"
            if pred.status == ParseStatus.OK:
                return Prediction(pred.value, ParseStatus.REPAIRED, f"{note}; {pred.detail}")
        return Prediction(pred.value, pred.status, f"{note}; {pred.detail or ''}".rstrip("; "))

    def score(self, predictions: Sequence[Prediction], samples: Sequence[Sample]) -> TaskScores:
        """The wrapped task's scores."""
        return self.inner.score(predictions, samples)

    def recipe(self) -> dict[str, object]:
        """What the run manifest records about the strategy."""
        return {
            "strategy": self.strategy,
            "shots": self.shots if self.strategy == "few_shot" else 0,
            "seed": self.seed,
            "examples": [ex.id for ex in self.examples],
            "cot_min_tokens": COT_MIN_TOKENS if self.strategy == "cot" else None,
        }

    def template_hash(self) -> str:
        """The wrapped task's hash plus the strategy, its texts and the chosen examples."""
        return stable_hash(
            [
                self.inner.template_hash(),
                self.recipe(),
                COT_SUFFIX if self.strategy == "cot" else "",
                EXAMPLES_INTRO if self.strategy == "few_shot" else "",
            ]
        )


_SHOT_TAG = re.compile(r"(?P<k>\d+)shot")


def task_for_column(column: str, **options: Any) -> Task:
    """The task behind a result column (``vqa``, ``vqa@2shot``, ``vqa@cot``), able to read
    and score its stored answers (re-parsing, reports); a few-shot column's examples are not
    drawn again, so it cannot ask."""
    from medmine.tasks.registry import make_task

    base, _, tag = column.partition("@")
    inner = make_task(base, **options)
    if not tag:
        return inner
    if tag == "cot":
        return PromptedTask(inner, "cot")
    m = _SHOT_TAG.fullmatch(tag)
    if m is None:
        raise ValueError(f"unknown prompt strategy column {column!r} (expected @<k>shot or @cot)")
    return PromptedTask(inner, "few_shot", int(m.group("k")), draw=False)


def _append_text(parts: tuple[Any, ...], suffix: str) -> tuple[Any, ...]:
    """Parts with ``suffix`` appended to the last text part."""
    idx = max(i for i, p in enumerate(parts) if isinstance(p, TextPart))
    return (*parts[:idx], TextPart(parts[idx].text + suffix), *parts[idx + 1 :])


def strategy_jobs(
    task: Task,
    strategies: Sequence[str],
    shots: int,
    support: Sequence[Sample],
    seed: int,
) -> tuple[list[Task], list[tuple[str, str]]]:
    """The task once per strategy, and (column, reason) for strategies that cannot run."""
    out: list[Task] = []
    skipped: list[tuple[str, str]] = []
    for strategy in dict.fromkeys(strategies):
        if strategy == "zero_shot":
            out.append(task)
            continue
        try:
            out.append(PromptedTask(task, strategy, shots, tuple(support), seed))
        except ValueError as exc:
            skipped.append((strategy_task_name(task.name, strategy, shots), str(exc)))
    return out, skipped
