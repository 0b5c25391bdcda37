"""The report's data model: leaderboard entries, boards, runs and gallery cases."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medmine.core import MetricSet, MetricSpec
from medmine.report.stats import TestResult

ALPHA = 0.05


FAILURE_KEYS = ("parse_failure_rate", "refusal_rate", "error_rate")


@dataclass
class Entry:
    """One model's scores on one task and dataset (from one run)."""

    run: str
    model: str
    stored_model: str
    task: str
    dataset: str
    headline: str
    value: float
    ci: tuple[float, float] | None
    metrics: dict[str, float]
    per_sample: dict[str, dict[str, float]]
    tables: dict[str, Any]
    concurrency: Any = None

    @property
    def n(self) -> int:
        """Samples scored."""
        return int(self.metrics.get("n", len(self.per_sample)))

    @property
    def no_valid(self) -> str | None:
        """Why this model has no usable answer here (None when it has a score)."""
        from medmine.run.verdict import no_valid_reason

        return no_valid_reason(self.metrics, self.tables)

    @property
    def not_run(self) -> int:
        """Samples not sent, pending, unreadable or hit by a medmine error: never scored."""
        return int(self.metrics.get("n_not_run", 0) or 0)

    @property
    def truncated(self) -> int:
        """Answers cut at the output limit: their own outcome, never a parse failure."""
        return int((self.tables.get("outcomes") or {}).get("truncated", 0) or 0)

    def count(self, rate_key: str) -> int:
        """A failure count from its rate (rate x n, rounded)."""
        rate = self.metrics.get(rate_key)
        return 0 if rate is None or math.isnan(rate) else round(rate * self.n)


@dataclass
class Comparison:
    """The best model against one other model on one leaderboard."""

    other: str
    result: TestResult
    p_adjusted: float
    significant: bool


@dataclass
class Board:
    """The leaderboard of one (task, dataset): entries best first, with the best-vs-rest tests."""

    task: str
    dataset: str
    headline: str
    entries: list[Entry]
    key: str | None = None
    declared: MetricSet | None = None
    columns: tuple[MetricSpec, ...] = ()
    comparisons: list[Comparison] = field(default_factory=list)
    best_significant: bool = False
    note: str = ""
    failed: list[Entry] = field(default_factory=list)  # no valid answers: never ranked

    @property
    def best(self) -> Entry | None:
        """The model with the highest headline value, if any has one."""
        return self.entries[0] if self.entries and not math.isnan(self.entries[0].value) else None


@dataclass
class RunInfo:
    """What one run directory says besides scores."""

    name: str
    path: Path
    manifest: dict[str, Any]
    notices: list[str]
    concurrency: dict[str, Any]
    bad_samples: list[tuple[str, str, str, str]]
    skipped: list[tuple[str, str, str, str, int]]
    n_results: int


@dataclass
class Case:
    """One gallery case: a model's answer to one sample, with its score and (maybe) images."""

    run: str
    model: str
    task: str
    dataset: str
    sample_id: str
    pick: str
    score: float
    scores: dict[str, float]
    status: str = ""
    detail: str = ""
    answer: str = ""
    text: str = ""
    image_uri: str | None = None
    overlay_uri: str | None = None
    caption: str = ""
    stored_model: str = ""
    prediction: Any = None
    truth: str = ""
    reference: str = ""  # report generation: the reference report, shown beside the answer


@dataclass
class ReportData:
    """Everything the renderers format."""

    runs: list[RunInfo]
    boards: list[Board]
    gallery: dict[str, list[Case]]
    notices: list[str]

    @property
    def entries(self) -> list[Entry]:
        """Every entry of every board."""
        return [e for b in self.boards for e in b.entries]

    @property
    def tasks(self) -> list[str]:
        """Tasks in report order (those with at least one scored model)."""
        return list(dict.fromkeys(b.task for b in self.boards if b.entries))
