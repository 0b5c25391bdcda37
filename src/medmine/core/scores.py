"""What a task made of answers: predictions, declared metrics and scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medmine.core.kinds import ParseStatus


@dataclass(frozen=True, slots=True)
class Prediction:
    """What a task read from a response: a value in the task's own form, and how it was read."""

    value: Any
    status: ParseStatus
    detail: str | None = None

    @property
    def usable(self) -> bool:
        """True when the value can be scored as an answer."""
        return self.status in (ParseStatus.OK, ParseStatus.REPAIRED)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric a task reports: where it lives in the scores and how to show it.

    ``key`` names the aggregate in :attr:`TaskScores.metrics`; ``per_sample`` names the
    per-sample value that paired tests and intervals use (None when the metric is corpus-level
    only); ``higher_is_better`` orders leaderboards; ``fmt`` is a format spec for display.
    """

    key: str
    label: str
    higher_is_better: bool = True
    per_sample: str | None = None
    fmt: str = ".3f"


@dataclass(frozen=True, slots=True)
class MetricSet:
    """The metrics a task declares: one headline and the secondary columns, each once.

    Every view (terminal, Markdown, CSV, HTML, LaTeX, statistics) reads this declaration;
    no view keeps its own list of metric names.
    """

    headline: MetricSpec
    secondary: tuple[MetricSpec, ...] = ()

    def all(self) -> tuple[MetricSpec, ...]:
        """Headline first, then the secondary metrics, without duplicates."""
        seen: set[str] = set()
        out: list[MetricSpec] = []
        for spec in (self.headline, *self.secondary):
            if spec.key not in seen:
                seen.add(spec.key)
                out.append(spec)
        return tuple(out)


@dataclass
class TaskScores:
    """Scores of one task on one dataset for one model.

    ``per_sample`` maps sample id to that sample's scores (used for confidence intervals and
    the gallery); ``metrics`` holds the aggregates; ``tables`` holds larger objects such as a
    confusion matrix or per-class figures.
    """

    metrics: dict[str, float]
    per_sample: dict[str, dict[str, float]]
    headline: str
    tables: dict[str, Any] = field(default_factory=dict)
