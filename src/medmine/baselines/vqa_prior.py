"""``vqa-prior``: the floor of every VQA table — the most frequent answer for the question type.

Fitted on the support (training) split: for each prior key (scoring rule and the dataset's
question type, :func:`medmine.tasks.vqa.prior_key`) it counts the reference answers — the
option letter for multiple choice, the answer text otherwise — and answers every test
question with the most frequent one for its key (ties: alphabetical), falling back to the
most frequent answer of its scoring rule when the question type was not seen. It never looks
at the image. With no support answer for a rule it says so as an error instead of guessing.
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from medmine.baselines.base import Baseline
from medmine.baselines.registry import register_baseline
from medmine.core import Model, Request, Response, Sample, Task, TaskKind, stable_hash
from medmine.datasets.readers.vqa_common import CHOICE, VqaTarget
from medmine.tasks.vqa import prior_key


def _most_frequent(counts: Counter[str]) -> str:
    """The most frequent answer; ties broken alphabetically so fits are reproducible."""
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


class VqaPrior(Baseline):
    """Most frequent support answer per (rule, question type); rule-level fallback."""

    name = "vqa-prior"
    tasks = frozenset({"vqa"})
    modality = "vision"

    def __init__(self, name: str | None = None, **options: Any) -> None:
        super().__init__(name, **options)
        self.by_key: dict[str, str] = {}
        self.by_rule: dict[str, str] = {}

    def fit(self, support: Sequence[Sample], task: Task) -> Model:
        """A copy that knows the support split's answer frequencies."""
        if task.kind != TaskKind.VQA:
            return self
        keyed: dict[str, Counter[str]] = defaultdict(Counter)
        ruled: dict[str, Counter[str]] = defaultdict(Counter)
        for s in support:
            t = s.target(TaskKind.VQA)
            if not isinstance(t, VqaTarget):
                continue
            answer = (t.letter or "") if t.rule == CHOICE else t.answer.strip().lower()
            if not answer:
                continue
            keyed[prior_key(t)][answer] += 1
            ruled[t.rule][answer] += 1
        if not ruled:
            raise ValueError("no support question with an answer: the prior cannot be fitted")
        fitted = copy.copy(self)
        fitted.by_key = {k: _most_frequent(c) for k, c in keyed.items()}
        fitted.by_rule = {k: _most_frequent(c) for k, c in ruled.items()}
        fitted.state_id = stable_hash([sorted(fitted.by_key.items()), len(support)])
        return fitted

    def _prior(self, request: Request) -> tuple[str | None, str | None]:
        """The prior answer for the request's key, or None and why there is none."""
        key = request.intent.structure or ""
        rule = key.split("|", 1)[0]
        answer = self.by_key.get(key) or self.by_rule.get(rule)
        if answer is None:
            return None, f"no support answer for {rule!r} questions: nothing to answer with"
        if rule == CHOICE and answer not in request.intent.labels:
            return None, f"prior letter {answer} is not among this question's options"
        return answer, None

    async def generate(self, request: Request) -> Response:
        """The prior's answer; a question it has no prior for is an error, not a guess."""
        if request.intent.task in self.tasks:
            _, why = self._prior(request)
            if why is not None:
                return Response(text="", model=self.cache_id, error=why, error_kind="unsupported")
        return await super().generate(request)

    def answer(self, request: Request) -> dict[str, Any]:
        """The prior answer for the request's key (the test question's rule and type)."""
        answer, why = self._prior(request)
        if answer is None:
            raise RuntimeError(why)
        return {"answer": answer}


register_baseline("vqa-prior", lambda: VqaPrior(), default=True)
