"""An LLM judge of generated radiology reports, in the style of GREEN (Ostmeier et al., 2024).

The judge (any preset or local server) reads a reference and a candidate report and counts
the candidate's errors, separately for clinically **significant** and **insignificant** ones,
in six categories, plus the findings both reports share:

====  ======================  =================================================
key   category                the candidate...
====  ======================  =================================================
a     ``false_finding``       reports a finding the reference does not have
b     ``missed_finding``      misses a finding the reference has
c     ``wrong_location``      puts a finding in the wrong anatomic location
d     ``wrong_severity``      misjudges a finding's severity
e     ``extra_comparison``    mentions a comparison (with a prior) not in the reference
f     ``missed_comparison``   omits a comparison the reference makes
====  ======================  =================================================

Per-report score (GREEN's): ``matched / (matched + significant errors)``, 0 when nothing
matched; in [0, 1], higher is better. An answer without the three sections, or with a
count that is not a number, is unparseable (a judge failure, counted, never a score).

The prompt (:data:`JUDGE_PROMPT`) is medmine's own wording of that protocol; its hash and
:data:`JUDGE_VERSION` are part of the recipe.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from medmine.core import (
    GenerationSettings,
    MetricSet,
    MetricSpec,
    ParseStatus,
    Prediction,
    ReportTarget,
    Request,
    Response,
    Sample,
    Target,
    TaskKind,
    TaskScores,
    stable_hash,
    user_request,
)

JUDGE_VERSION = "1"
CATEGORIES: dict[str, str] = {
    "a": "false_finding",
    "b": "missed_finding",
    "c": "wrong_location",
    "d": "wrong_severity",
    "e": "extra_comparison",
    "f": "missed_comparison",
}
_TITLES = {
    "a": "False report of a finding",
    "b": "Missing a finding present in the reference",
    "c": "Wrong anatomic location or position of a finding",
    "d": "Wrong assessment of a finding's severity",
    "e": "Mentioning a comparison that is not in the reference",
    "f": "Omitting a comparison with a prior study that the reference makes",
}

JUDGE_PROMPT = """\
You are checking a candidate radiology report against a reference report written by a \
radiologist. Judge clinical content only, not wording or style.

Count the candidate's errors in these categories:
{categories}
Count clinically significant errors (those that could change patient management) and \
clinically insignificant errors separately. Also count the findings that the two reports \
share (matched findings).

REFERENCE REPORT:
{reference}

CANDIDATE REPORT:
{candidate}

Answer in exactly this format, with every category listed even when its count is 0:
[Explanation]:
<one or two sentences>
[Clinically Significant Errors]:
(a) <category>: <number>. <the errors, separated by ;>
... one line for each of (a) to (f)
[Clinically Insignificant Errors]:
(a) <category>: <number>. <the errors>
... one line for each of (a) to (f)
[Matched Findings]:
<number>. <the matched findings, separated by ;>"""

JUDGE_METRICS = MetricSet(
    MetricSpec("judge_score", "judge score (GREEN-style)", per_sample="judge_score")
)
_SECTION = re.compile(
    r"\[\s*(explanation|clinically\s+significant\s+errors|clinically\s+insignificant\s+errors"
    r"|matched\s+findings)\s*\]\s*:?",
    re.I,
)
_ITEM = re.compile(r"\(\s*([a-f])\s*\)[^:\n]*:\s*\**\s*(\d+|none|no)\b", re.I)
_NUMBER = re.compile(r"^\W*(\d+|none|no)\b", re.I)


@dataclass(frozen=True)
class Judgement:
    """One judge answer read: counts per category and the matched findings."""

    significant: dict[str, int]
    insignificant: dict[str, int]
    matched: int

    @property
    def score(self) -> float:
        """GREEN: matched / (matched + significant errors); 0 when nothing matched."""
        errors = sum(self.significant.values())
        return 0.0 if self.matched == 0 else self.matched / (self.matched + errors)


def _count(token: str) -> int:
    return 0 if token.lower() in ("none", "no") else int(token)


def parse_judgement(text: str) -> tuple[Judgement | None, str]:
    """The judgement in a judge's answer, or (None, what is missing). Never raises.

    Markdown emphasis around headers and counts is tolerated; a category line the judge left
    out counts 0 only when the section says so explicitly ("none"), else the answer is
    unparseable.
    """
    if not isinstance(text, str) or not text.strip():
        return None, "empty answer"
    clean = text.replace("**", "").replace("__", "")
    marks = [
        (m.group(1).lower().split()[-2:], m.start(), m.end()) for m in _SECTION.finditer(clean)
    ]
    sections: dict[str, str] = {}
    for i, (words, _, end) in enumerate(marks):
        stop = marks[i + 1][1] if i + 1 < len(marks) else len(clean)
        key = " ".join(words)
        sections.setdefault(key, clean[end:stop])
    need = {"significant errors": "significant", "insignificant errors": "insignificant"}
    counts: dict[str, dict[str, int]] = {}
    for header, name in need.items():
        body = sections.get(header)
        if body is None:
            return None, f"no [Clinically {name.title()} Errors] section"
        found = {m.group(1).lower(): _count(m.group(2)) for m in _ITEM.finditer(body)}
        if not found and re.fullmatch(r"\W*(none|no errors?)\W*", body.strip(), re.I):
            found = dict.fromkeys(CATEGORIES, 0)
        missing = [k for k in CATEGORIES if k not in found]
        if missing:
            return None, f"{name} errors: no count for ({', '.join(missing)})"
        counts[name] = {CATEGORIES[k]: found[k] for k in CATEGORIES}
    matched_body = sections.get("matched findings")
    if matched_body is None:
        return None, "no [Matched Findings] section"
    m = _NUMBER.match(matched_body.strip())
    if m is None:
        return None, "[Matched Findings] does not start with a number"
    return Judgement(counts["significant"], counts["insignificant"], _count(m.group(1))), "ok"


def candidate_sample(
    candidate_model: str, sample: Sample, text: str, targets: dict[str, Target]
) -> Sample:
    """The text-only sample a judge is asked about: one model's answer for one case, keyed
    ``MODEL::SAMPLE`` and carrying the case's patient (paired statistics group by it)."""
    return Sample(
        id=f"{candidate_model}::{sample.id}",
        dataset=sample.dataset,
        text=text,
        targets=targets,
        patient_id=sample.patient_id,
        meta={"candidate_model": candidate_model, "sample_id": sample.id},
    )


def judge_sample(candidate_model: str, sample: Sample, text: str, reference: str) -> Sample:
    """The text-only sample the judge is asked about: one model's report for one case."""
    targets: dict[str, Target] = {
        TaskKind.REPORT_GENERATION.value: ReportTarget(findings=reference)
    }
    return candidate_sample(candidate_model, sample, text, targets)


def judge_scores(predictions: Sequence[Prediction], samples: Sequence[Sample]) -> TaskScores:
    """A judge task's scores: the mean ``score`` of the judgements that could be read, with
    the others counted as unscored."""
    values = [p.value["score"] for p in predictions if p.usable and p.value]
    metrics = {
        "judge_score": statistics.fmean(values) if values else float("nan"),
        "judge_unscored": float(len(predictions) - len(values)),
    }
    per = {
        s.id: {"judge_score": float(p.value["score"])}
        for s, p in zip(samples, predictions, strict=True)
        if p.usable and p.value
    }
    return TaskScores(metrics=metrics, per_sample=per, headline="judge_score", tables={})


class _Judge(Protocol):
    """What :func:`judge_request` needs of a judge task."""

    name: str
    settings: GenerationSettings

    def applies_to(self, sample: Sample) -> bool: ...

    def prompt(self, sample: Sample) -> str: ...


def judge_request(task: _Judge, sample: Sample, missing: str) -> Request:
    """A judge task's text-only request for one judge sample (the judge sees no image);
    ``missing`` says what a sample the task does not apply to lacks."""
    if not task.applies_to(sample):
        raise ValueError(f"judge sample {sample.id}: {missing}")
    return user_request(task.name, sample.id, (), task.prompt(sample), task.settings)


def judge_failure(response: Response) -> Prediction | None:
    """The prediction of a judge answer that failed (provider error or refusal), or None."""
    if response.error is not None:
        return Prediction(None, ParseStatus.ERROR, response.error)
    if response.refused:
        return Prediction(None, ParseStatus.REFUSED, "blocked by the provider")
    return None


@dataclass
class ReportJudgeTask:
    """Asks a judge model to count a candidate report's errors against the reference."""

    settings: GenerationSettings = field(
        default_factory=lambda: GenerationSettings(temperature=0.7, max_tokens=1024)
    )
    name: str = "report_judge"
    kind: TaskKind = TaskKind.REPORT_GENERATION
    version: str = JUDGE_VERSION
    metrics: MetricSet = JUDGE_METRICS

    def applies_to(self, sample: Sample) -> bool:
        """A judge sample has the candidate text and a reference."""
        return bool(sample.text) and isinstance(sample.target(self.kind), ReportTarget)

    def prompt(self, sample: Sample) -> str:
        """The judge prompt for one candidate report."""
        target = sample.target(self.kind)
        assert isinstance(target, ReportTarget)
        cats = "\n".join(f"({k}) {_TITLES[k]}" for k in CATEGORIES)
        return JUDGE_PROMPT.format(
            categories=cats, reference=target.findings.strip(), candidate=(sample.text or "")
        )

    def request(self, sample: Sample) -> Request:
        """A text-only request (the judge sees no image)."""
        return judge_request(self, sample, "no candidate text or no reference")

    def parse(self, response: Response, sample: Sample) -> Prediction:
        """The judgement as {score, significant, insignificant, matched}."""
        failed = judge_failure(response)
        if failed is not None:
            return failed
        judgement, why = parse_judgement(response.text)
        if judgement is None:
            return Prediction(None, ParseStatus.UNPARSEABLE, why)
        value = {
            "score": judgement.score,
            "significant": judgement.significant,
            "insignificant": judgement.insignificant,
            "matched": judgement.matched,
        }
        return Prediction(value, ParseStatus.OK)

    def score(self, predictions: Sequence[Prediction], samples: Sequence[Sample]) -> TaskScores:
        """Mean judge score over the judgements that could be read (the rest counted)."""
        return judge_scores(predictions, samples)

    def template_hash(self) -> str:
        """Hash of the prompt, categories, parser patterns and settings."""
        return stable_hash(
            [JUDGE_PROMPT, _TITLES, CATEGORIES, _ITEM.pattern, _SECTION.pattern, self.version]
        )
