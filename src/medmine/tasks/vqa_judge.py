"""An LLM judge of open visual-question answers: does the candidate answer mean what the
reference answer means?

Token metrics (exact match, token recall, token F1) miss synonyms and paraphrases ("pleural
effusion" for "fluid in the pleural space", "left" for "left side"); published medical-VQA
evaluations (LLaVA-Med, MedEvalKit) therefore also grade open answers with an LLM. The judge
(any preset or local server, text only: it does not see the image) reads the question, the
reference answer and the candidate answer and gives one grade:

=====================  =====  ==================================================
grade                  score  the candidate...
=====================  =====  ==================================================
``correct``            1      gives the reference's meaning (synonyms, abbreviations,
                              other wording and a more specific equivalent count)
``partially correct``  0.5    gives only part of it (one of two findings, the right
                              finding on the wrong side) or adds a contradicting claim
``incorrect``          0      does not give it, contradicts it, or does not answer
=====================  =====  ==================================================

An answer without a ``[Grade]`` line, or with two different grades, is unparseable (a judge
failure, counted, never a score). The prompt (:data:`VQA_JUDGE_PROMPT`) and
:data:`VQA_JUDGE_VERSION` are part of the recipe (their hash is stored with every judgement).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

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
from medmine.datasets.readers.vqa_common import OPEN, VqaTarget
from medmine.tasks.report_judge import (
    candidate_sample,
    judge_failure,
    judge_request,
    judge_scores,
)

VQA_JUDGE_VERSION = "1"
GRADES: dict[str, float] = {"correct": 1.0, "partially correct": 0.5, "incorrect": 0.0}

VQA_JUDGE_PROMPT = """\
You are grading an answer to an open question about a medical image. You do not see the \
image: judge only whether the candidate answer means the same as the reference answer, \
which an expert gave. Accept synonyms, abbreviations and different wording; ignore extra \
words that do not change the meaning.

QUESTION:
{question}

REFERENCE ANSWER:
{reference}

CANDIDATE ANSWER:
{candidate}

Grades:
- correct: the candidate gives the reference answer's meaning (a synonym or a more specific \
equivalent counts)
- partially correct: the candidate gives only part of that meaning (for example one of two \
findings, or the right finding on the wrong side), or adds a claim that contradicts it
- incorrect: the candidate does not give that meaning, contradicts it, or does not answer

Answer in exactly this format:
[Explanation]: <one sentence>
[Grade]: <correct | partially correct | incorrect>"""

VQA_JUDGE_METRICS = MetricSet(
    MetricSpec("judge_score", "judge score (open answers)", per_sample="judge_score")
)
_GRADE = re.compile(
    r"\[?\s*grade\s*\]?\s*:?\s*[\"'`]?\s*(partially\s+correct|partly\s+correct|incorrect|correct)\b",
    re.I,
)


def parse_grade(text: str) -> tuple[str | None, str]:
    """The grade in a judge's answer, or (None, why). Markdown emphasis is tolerated; two
    different grades make the answer unparseable (the judge did not decide)."""
    if not isinstance(text, str) or not text.strip():
        return None, "empty answer"
    clean = text.replace("**", "").replace("__", "")
    found = {" ".join(m.group(1).lower().split()) for m in _GRADE.finditer(clean)}
    found = {"partially correct" if g == "partly correct" else g for g in found}
    if not found:
        return None, "no [Grade] line with correct, partially correct or incorrect"
    if len(found) > 1:
        return None, f"two different grades: {', '.join(sorted(found))}"
    return found.pop(), "ok"


def vqa_judge_sample(candidate_model: str, sample: Sample, answer: str) -> Sample:
    """The text-only sample the judge is asked about: one model's answer to one question."""
    target = sample.target(TaskKind.VQA)
    if not isinstance(target, VqaTarget) or target.rule != OPEN:
        raise ValueError(f"sample {sample.id}: only open questions are judged")
    return candidate_sample(candidate_model, sample, answer, {TaskKind.VQA: target})


@dataclass
class VqaJudgeTask:
    """Asks a judge model to grade an open answer against the reference answer."""

    settings: GenerationSettings = field(
        default_factory=lambda: GenerationSettings(temperature=0.7, max_tokens=256)
    )
    name: str = "vqa_judge"
    kind: TaskKind = TaskKind.VQA
    version: str = VQA_JUDGE_VERSION
    metrics: MetricSet = VQA_JUDGE_METRICS

    def applies_to(self, sample: Sample) -> bool:
        """A judge sample has the candidate answer and an open question with its reference."""
        t = sample.target(self.kind)
        return bool(sample.text) and isinstance(t, VqaTarget) and t.rule == OPEN

    def prompt(self, sample: Sample) -> str:
        """The judge prompt for one candidate answer."""
        t = sample.target(self.kind)
        assert isinstance(t, VqaTarget)
        return VQA_JUDGE_PROMPT.format(
            question=t.question.strip(), reference=t.answer.strip(), candidate=sample.text or ""
        )

    def request(self, sample: Sample) -> Request:
        """A text-only request (the judge sees no image)."""
        return judge_request(self, sample, "no candidate answer or not open")

    def parse(self, response: Response, sample: Sample) -> Prediction:
        """The grade as {grade, score}."""
        failed = judge_failure(response)
        if failed is not None:
            return failed
        grade, why = parse_grade(response.text)
        if grade is None:
            return Prediction(None, ParseStatus.UNPARSEABLE, why)
        return Prediction({"grade": grade, "score": GRADES[grade]}, ParseStatus.OK)

    def score(self, predictions: Sequence[Prediction], samples: Sequence[Sample]) -> TaskScores:
        """Mean judge score over the grades that could be read (the rest counted)."""
        return judge_scores(predictions, samples)

    def template_hash(self) -> str:
        """Hash of the prompt, grades, parser pattern and version."""
        return stable_hash([VQA_JUDGE_PROMPT, GRADES, _GRADE.pattern, self.version])
