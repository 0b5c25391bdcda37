"""Score jobs from the run store: only what each model was asked, every other end counted.

Each sample's :class:`~medmine.core.Outcome` is read from the store (or derived from its
stored answer for runs recorded before outcomes were; see :mod:`medmine.run.job_ends`). The
task scores the samples whose outcome is *asked*; the rest (not sent, pending, unreadable,
medmine errors) are counted in ``tables["outcomes"]`` next to the score and never folded into
it. A job without a single usable answer gets no score at all: its headline is NaN and
``tables["no_valid_answers"]`` says why, so no view can rank, bold or plot it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from medmine.core import ParseStatus, Prediction, Sample, Task, TaskScores
from medmine.run.job_ends import JobEnds, read_job_ends
from medmine.run.score_cache import ScoreCache, score_key
from medmine.run.store import RunStore

if TYPE_CHECKING:
    from medmine.run.units import Job

FAILURE_KEYS = ("parse_failure_rate", "refusal_rate", "error_rate")


def score_jobs(
    store: RunStore,
    jobs: Sequence[Job],
    repeats: int,
    cache: ScoreCache | None = None,
    status: Callable[[str], None] | None = None,
) -> None:
    """Score every job from what the store holds (deterministic order: sample id)."""
    for i, job in enumerate(jobs, 1):
        if status is not None:
            status(f"scoring {job.model.name} on {job.task.name}/{job.dataset} ({i}/{len(jobs)})")
        _score_job(store, job, repeats, cache)


def _score_job(store: RunStore, job: Job, repeats: int, cache: ScoreCache | None) -> None:
    name = job.model.name
    samples = sorted(job.samples, key=lambda s: s.id)
    if not samples:
        return
    ends = read_job_ends(store, job, samples, repeats)
    del samples  # the asked ones are kept in ``ends``
    store.ledger.put(name, job.task.name, job.dataset, ends.changed)
    counts = {o.value: n for o, n in ends.counts.items()}
    asked = ends.asked
    if not asked or not ends.usable:
        _store_no_valid(store, job, ends, counts)
        return
    per_repeat = [_cached_score(cache, job, preds, asked) for preds in ends.predictions]
    scores = per_repeat[0]
    metrics = dict(scores.metrics)
    metrics["n_missing"] = float(len(job.samples) - len(asked))
    metrics["n_not_run"] = float(len(job.samples) - len(asked))
    if repeats > 1:
        heads = [r.metrics[scores.headline] for r in per_repeat]
        metrics[f"{scores.headline}_repeat_mean"] = float(np.mean(heads))
        metrics[f"{scores.headline}_repeat_sd"] = float(np.std(heads, ddof=1))
    metrics.update(ends.tally.figures())
    tables = dict(scores.tables)
    tables["outcomes"] = counts
    store.put_scores(
        name, job.task.name, job.dataset, scores.headline, metrics, scores.per_sample, tables
    )


def _cached_score(
    cache: ScoreCache | None, job: Job, preds: list[Prediction], samples: list[Sample]
) -> TaskScores:
    """The task's scores, from the score cache when these very inputs were scored before
    (slow metrics such as METEOR are not recomputed for an unchanged job)."""
    if cache is None:
        return job.task.score(preds, samples)
    key = score_key(job.task, job.fingerprint, preds, samples)
    hit = cache.get(key)
    if hit is not None:
        return hit
    scores = job.task.score(preds, samples)
    cache.put(key, scores)
    return scores


def _store_no_valid(store: RunStore, job: Job, ends: JobEnds, counts: dict[str, int]) -> None:
    """Record a job with no usable answer: no score, the reason, the outcome counts."""
    asked = ends.asked
    probe = asked or ([job.samples[0]] if job.samples else [])
    preds = ends.predictions[0] or [Prediction(None, ParseStatus.ERROR, "not asked")]
    headline = _headline(job.task, preds, probe)
    metrics: dict[str, float] = {headline: float("nan"), "n": float(len(asked))}
    if asked:
        failed = job.task.score(preds, asked).metrics
        metrics.update({k: failed[k] for k in FAILURE_KEYS if k in failed})
    metrics["n_missing"] = metrics["n_not_run"] = float(ends.total - len(asked))
    metrics.update(ends.tally.figures())
    tables: dict[str, Any] = {"outcomes": counts, "no_valid_answers": ends.reason()}
    store.put_scores(job.model.name, job.task.name, job.dataset, headline, metrics, {}, tables)


def _headline(task: Task, preds: list[Prediction], samples: list[Sample]) -> str:
    """The task's headline metric name (declared, else read from scoring failed answers)."""
    declared = getattr(task, "metrics", None)
    if declared is not None and hasattr(declared, "headline"):
        return str(declared.headline.key)
    return task.score(preds, samples).headline
