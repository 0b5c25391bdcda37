"""Report baselines: rule-based CheXpert labelling, the normal-template report, retrieval.

- ``chexpert-rules`` (diagnosis): labels the report text with the rule-based CheXpert labeler
  and answers the diagnosis task's JSON. When the report has FINDINGS / IMPRESSION sections
  only those are labelled: INDICATION, HISTORY, COMPARISON and TECHNIQUE state why the study
  was done ("rule out pneumonia"), not what it showed. It reads text only: an image-only
  sample gets an error Response ("needs report text"), scored as a failure for this baseline alone.
- ``normal-report`` (report generation): always the same normal chest radiograph report.
- ``retrieval-report`` (report generation): the training report of the nearest training image
  (simple colour/intensity/edge features, standardised, Euclidean distance).

All three answer in the form an MLLM is asked for, so the task's parser and scorer judge them.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from medmine.baselines.base import Baseline
from medmine.baselines.features import image_features
from medmine.baselines.registry import register_baseline
from medmine.chexpert import label_report
from medmine.core import ReportTarget, Request, Response, Sample, Task, Usage, stable_hash
from medmine.datasets.report_sections import join_sections, split_sections
from medmine.tasks.diagnosis import values_to_words

#: The fixed normal report (IU X-ray style wording).
NORMAL_FINDINGS = (
    "The heart is normal in size. The mediastinum is unremarkable. The lungs are clear. "
    "There is no pneumothorax or pleural effusion. No focal airspace disease. "
    "The osseous structures are intact."
)
NORMAL_IMPRESSION = "No acute cardiopulmonary abnormality."


def _text_response(model: str, text: str, start: float) -> Response:
    """A timed, free answer carrying plain report text."""
    return Response(
        text=text,
        model=model,
        usage=Usage(0, 0),
        latency_s=time.perf_counter() - start,
        cost_usd=0.0,
        finish_reason="stop",
    )


def _error(model: str, message: str, start: float) -> Response:
    """An error answer that marks only this baseline's answer as failed.

    ``error_kind`` is "unsupported", not "input": the sample itself is fine for other models,
    so the runner must not record it as a bad sample.
    """
    return Response(
        text="",
        model=model,
        error=message,
        error_kind="unsupported",
        latency_s=time.perf_counter() - start,
    )


def format_report(findings: str, impression: str, section: str) -> str:
    """Report text in the form the report-generation prompt asks for the given section."""
    if section == "findings":
        return findings
    if section == "impression":
        return impression
    if section == "both":
        return f"FINDINGS: {findings}\nIMPRESSION: {impression}"
    raise ValueError(f"unknown report section {section!r}; expected findings, impression, both")


class ChexpertRules(Baseline):
    """Diagnosis from report text with the rule-based CheXpert labeler.

    Text-only: the runner does not send it requests that carry images (image-only samples are
    skipped for it, with the count recorded).
    """

    name = "chexpert-rules"
    tasks = frozenset({"diagnosis"})
    modality = "text"

    def answer(self, request: Request) -> dict[str, Any]:
        """The 14 observations of the request's report text, as the diagnosis JSON."""
        return values_to_words(label_report(findings_text(request.intent.text or "")))

    async def generate(self, request: Request) -> Response:
        """Label the report; a request without report text is not this baseline's to answer
        (``unsupported``, not a bad sample: the file itself is fine for other models)."""
        text = request.intent.text
        if request.intent.task in self.tasks and (text is None or not text.strip()):
            return _error(
                self.cache_id,
                f"{self.name} needs report text; sample {request.intent.sample_id} has none",
                time.perf_counter(),
            )
        return await super().generate(request)


def findings_text(text: str) -> str:
    """The FINDINGS and IMPRESSION sections of a report, or the whole text when it has neither."""
    sections = split_sections(text)
    kept = {k: v for k, v in sections.items() if k in _READ_SECTIONS and v.strip()}
    return join_sections(kept) if kept else text


_READ_SECTIONS = ("FINDINGS", "IMPRESSION")


class NormalReport(Baseline):
    """The fixed normal chest radiograph report, whatever the image.

    The well-known strong baseline on IU X-ray: most IU X-ray studies are normal, so a single
    normal template scores BLEU/ROUGE figures that many published generators barely beat.
    """

    name = "normal-report"
    tasks = frozenset({"report_generation"})

    def answer(self, request: Request) -> dict[str, Any]:
        """The normal report's sections."""
        return {"findings": NORMAL_FINDINGS, "impression": NORMAL_IMPRESSION}

    async def generate(self, request: Request) -> Response:
        """The template report as plain text, in the section form the task asked for."""
        start = time.perf_counter()
        if request.intent.task not in self.tasks:
            return _error(
                self.cache_id, f"{self.name} does not do task {request.intent.task}", start
            )
        section = request.intent.structure or "findings"
        try:
            text = format_report(NORMAL_FINDINGS, NORMAL_IMPRESSION, section)
        except ValueError as exc:
            return _error(self.cache_id, str(exc), start)
        return _text_response(self.cache_id, text, start)


class RetrievalReport(Baseline):
    """Nearest-neighbour retrieval: the report of the most similar training image."""

    name = "retrieval-report"
    tasks = frozenset({"report_generation"})

    def fit(self, support: Sequence[Sample], task: Task) -> RetrievalReport:
        """A copy holding standardised features and reports of the training samples.

        Raises ValueError when no training sample has an image and a reference report.
        """
        pool = []
        for s in sorted(support, key=lambda s: s.id):
            t = s.target(task.kind)
            if s.images and isinstance(t, ReportTarget) and (t.findings or t.impression):
                pool.append((s, t))
        if not pool:
            raise ValueError(
                "retrieval-report needs training samples with an image and a reference report"
            )
        feats = np.stack([image_features(s.images[0]) for s, _ in pool])
        fitted = copy.copy(self)
        fitted.mu, fitted.sd = feats.mean(0), feats.std(0) + 1e-6
        fitted.features = (feats - fitted.mu) / fitted.sd
        fitted.reports = [(s.id, t.findings.strip(), t.impression.strip()) for s, t in pool]
        fitted.state_id = stable_hash([s.id for s, _ in pool])
        return fitted

    def neighbours(self, request: Request) -> list[int]:
        """Indices of the training reports, nearest image first (ties: training order)."""
        features = getattr(self, "features", None)
        if features is None:
            raise ValueError("retrieval-report used before fit()")
        if not request.intent.images:
            raise ValueError("retrieval-report needs an image")
        x = (image_features(request.intent.images[0]) - self.mu) / self.sd
        d = np.linalg.norm(features - x, axis=1)
        return [int(i) for i in np.argsort(d, kind="stable")]

    def answer(self, request: Request) -> dict[str, Any]:
        """The nearest training report that has the asked section."""
        section = request.intent.structure or "findings"
        for i in self.neighbours(request):
            sid, findings, impression = self.reports[i]
            if (
                (section == "findings" and findings)
                or (section == "impression" and impression)
                or section == "both"
            ):
                return {"id": sid, "findings": findings, "impression": impression}
        raise ValueError(f"no training report has a {section.upper()} section")

    async def generate(self, request: Request) -> Response:
        """The retrieved report as plain text; an unreadable image is an input error."""
        start = time.perf_counter()
        if request.intent.task not in self.tasks:
            return _error(
                self.cache_id, f"{self.name} does not do task {request.intent.task}", start
            )
        if getattr(self, "features", None) is None:
            return _error(self.cache_id, f"{self.name} used before fit()", start)
        try:
            self.neighbours(request)
        except (OSError, ValueError) as exc:  # the sample's image cannot be read
            return Response(
                text="",
                model=self.cache_id,
                error=f"{type(exc).__name__}: {exc}",
                error_kind="input",
                latency_s=time.perf_counter() - start,
            )
        section = request.intent.structure or "findings"
        try:
            got = self.answer(request)
            text = format_report(got["findings"], got["impression"], section)
        except ValueError as exc:
            return _error(self.cache_id, str(exc), start)
        response = _text_response(self.cache_id, text, start)
        return dataclasses.replace(response, extra={"retrieved": got["id"]})


register_baseline("chexpert-rules", lambda: ChexpertRules(), default=True)
register_baseline("normal-report", lambda: NormalReport(), default=True)
register_baseline("retrieval-report", lambda: RetrievalReport(), default=True)
