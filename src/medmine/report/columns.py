"""Which metric columns a view shows: read from the task's declaration, never from a list here.

Every view (terminal and Markdown leaderboards, CSV, HTML, LaTeX, the paired tests) asks
:func:`metric_set` for a task's :class:`~medmine.core.MetricSet` and :func:`shown_columns` for
the secondary columns that the rows actually have. A run made by a task that is not
registered in this process (a plugin not imported) still shows its stored headline: the
declaration is then just that headline, and the view says so in its title.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from medmine.core import MetricSet, MetricSpec
from medmine.tasks.registry import task_metrics


def metric_set(task: str, headline: str) -> MetricSet:
    """The task's declared metrics; a headline-only set for a task not registered here."""
    declared = task_metrics(task)
    if declared is not None:
        return declared
    return MetricSet(headline=MetricSpec(headline, headline))


def shown_columns(
    declared: MetricSet, rows: Iterable[Mapping[str, float]]
) -> tuple[MetricSpec, ...]:
    """The secondary metrics at least one row has, in declared order, never the headline."""
    rows = list(rows)
    return tuple(
        spec
        for spec in declared.all()[1:]
        if spec.key != declared.headline.key and any(spec.key in r for r in rows)
    )


def format_value(spec: MetricSpec, value: float | None) -> str:
    """A metric value in the spec's format; a missing or NaN value is an em dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return format(value, spec.fmt)
