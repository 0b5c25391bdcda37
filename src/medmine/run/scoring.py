"""Score jobs from the run store: only what each model was asked, every other end counted.

Each sample's :class:`~medmine.core.Outcome` is read from the store (or derived from its
stored answer for runs recorded before outcomes were). The task scores the samples whose
outcome is *asked*; the rest (not sent, pending, unreadable, medmine errors) are counted in
``tables["outcomes"]`` next to the score and never folded into it. A job without a single
usable answer gets no score at all: its headline is NaN and ``tables["no_valid_answers"]``
says why, so no view can rank, bold or plot it.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from medmine.core import Outcome, ParseStatus, Prediction, Response, Sample, Task, TaskScores
from medmine.run.ledger import OutcomeRow, RawOutcome, outcome_of
from medmine.run.score_cache import ScoreCache, score_key
from medmine.run.store import ResultRow, RunStore

if TYPE_CHECKING:
    from medmine.run.units import Job

_NOT_ASKED = frozenset(o.value for o in Outcome if not o.asked)
FAILURE_KEYS = ("parse_failure_rate", "refusal_rate", "error_rate")
USABLE = frozenset({Outcome.OK, Outcome.REPAIRED})
NOT_RUN_TEXT = {
    Outcome.NOT_SENT_BUDGET: "not sent (budget)",
    Outcome.NOT_SENT_KEY: "not sent (cannot run)",
    Outcome.NOT_SENT_STOP: "not sent (stopped)",
    Outcome.PENDING: "pending in a batch",
    Outcome.UNREADABLE: "unreadable input",
    Outcome.MEDMINE_ERROR: "medmine error",
}


def sample_outcomes(
    store: RunStore,
    job: Job,
    samples: Sequence[Sample],
    repeat: int,
    results: dict[tuple[str, int], ResultRow] | None = None,
    recorded: dict[tuple[str, int], RawOutcome] | None = None,
) -> dict[str, OutcomeRow]:
    """sample id -> how that sample ended in ``repeat`` (exactly one outcome each).
    ``results`` and ``recorded`` (:meth:`Ledger.raw`) are the job's stored answers and
    outcomes when the caller has read them already."""
    name, task, ds = job.model.name, job.task.name, job.dataset
    if recorded is None:
        recorded = store.ledger.raw(name, task, ds)
    if results is None:
        results = {(r.sample_id, r.repeat): r for r in store.results(name, task, ds)}
    rows = {sid: r for (sid, rep), r in results.items() if rep == repeat}
    pending = {
        it.sample_id
        for b in store.batch_jobs("submitted")
        if b.model == name
        for it in b.items
        if it.task == task and it.dataset == ds and it.repeat == repeat
    }
    unreadable = {b.id: b.reason for b in store.bad_samples() if b.dataset == ds}
    answered_at: dict[tuple[str, int], float] | None = None  # read only if needed
    out: dict[str, OutcomeRow] = {}
    for s in samples:
        row = rows.get(s.id)
        mark = recorded.get((s.id, repeat))
        if s.id in unreadable:
            out[s.id] = OutcomeRow(s.id, repeat, Outcome.UNREADABLE, unreadable[s.id])
        elif mark is not None and mark[0] in _NOT_ASKED:
            if row is not None and answered_at is None:
                answered_at = store.ledger.answer_times(name, task, ds)
            if row is None or mark[2] > answered_at.get((s.id, repeat), 0.0):  # type: ignore[union-attr]
                # Not sent this time (no key, budget, stop): a stale failed answer from an
                # earlier run does not count as this run's answer.
                out[s.id] = OutcomeRow(s.id, repeat, Outcome(mark[0]), mark[1], mark[2])
            else:
                out[s.id] = _answered(row, repeat)
        elif row is not None:
            out[s.id] = _answered(row, repeat)
        elif mark is not None:
            out[s.id] = OutcomeRow(s.id, repeat, Outcome(mark[0]), mark[1], mark[2])
        elif s.id in pending:
            out[s.id] = OutcomeRow(s.id, repeat, Outcome.PENDING, "a batch job holds it")
        else:
            out[s.id] = OutcomeRow(
                s.id, repeat, Outcome.NOT_SENT_STOP, "not asked yet (the run stopped first)"
            )
    return out


def _answered(row: ResultRow, repeat: int) -> OutcomeRow:
    """The outcome of a stored answer."""
    o = outcome_of(row.response, row.prediction)
    return OutcomeRow(row.sample_id, repeat, o, row.prediction.detail or row.response.error)


def no_valid_reason(ends: Sequence[OutcomeRow]) -> str:
    """Why a job has no usable answer: the most common end, with an example of its detail."""
    counts = Counter(e.outcome for e in ends)
    top, n = counts.most_common(1)[0]
    detail = next((e.detail for e in ends if e.outcome == top and e.detail), "")
    what = NOT_RUN_TEXT.get(top, top.value.replace("_", " "))
    return f"{what} for {n} of {len(ends)} samples" + (f": {detail}" if detail else "")


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
    rows = {(r.sample_id, r.repeat): r for r in store.results(name, job.task.name, job.dataset)}
    recorded = store.ledger.raw(name, job.task.name, job.dataset)
    ends = sample_outcomes(store, job, samples, 0, rows, recorded)
    # Record each sample's end; the ones already recorded as such (the runner wrote most
    # with their answers) are not written again.
    store.ledger.put(
        name,
        job.task.name,
        job.dataset,
        [
            (e.sample_id, e.repeat, e.outcome, e.detail)
            for e in ends.values()
            if (r := recorded.get((e.sample_id, e.repeat))) is None
            or r[:2] != (e.outcome.value, e.detail)
        ],
    )
    counts = {o.value: n for o, n in Counter(e.outcome for e in ends.values()).items()}
    asked = [s for s in samples if ends[s.id].outcome.asked]
    usable = sum(ends[s.id].outcome in USABLE for s in asked)
    if not asked or not usable:
        _store_no_valid(store, job, asked, rows, list(ends.values()), counts)
        return
    per_repeat = []
    for rep in range(repeats):
        preds = [_prediction(rows.get((s.id, rep))) for s in asked]
        per_repeat.append(_cached_score(cache, job, preds, asked))
    scores = per_repeat[0]
    metrics = dict(scores.metrics)
    metrics["n_missing"] = float(len(samples) - len(asked))
    metrics["n_not_run"] = float(len(samples) - len(asked))
    if repeats > 1:
        heads = [r.metrics[scores.headline] for r in per_repeat]
        metrics[f"{scores.headline}_repeat_mean"] = float(np.mean(heads))
        metrics[f"{scores.headline}_repeat_sd"] = float(np.std(heads, ddof=1))
    metrics.update(_efficiency_of(rows))
    tables = dict(scores.tables)
    tables["outcomes"] = counts
    store.put_scores(
        name, job.task.name, job.dataset, scores.headline, metrics, scores.per_sample, tables
    )


def _efficiency_of(rows: dict[tuple[str, int], ResultRow]) -> dict[str, float]:
    return efficiency([r.response for r in rows.values()], [r.cached for r in rows.values()])


def _prediction(row: ResultRow | None) -> Prediction:
    if row is None:
        return Prediction(None, ParseStatus.ERROR, "not answered in this repeat (run incomplete)")
    return row.prediction


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


def _store_no_valid(
    store: RunStore,
    job: Job,
    asked: list[Sample],
    rows: dict[tuple[str, int], ResultRow],
    ends: list[OutcomeRow],
    counts: dict[str, int],
) -> None:
    """Record a job with no usable answer: no score, the reason, the outcome counts."""
    probe = asked or ([job.samples[0]] if job.samples else [])
    preds = [_prediction(rows.get((s.id, 0))) for s in asked] or [
        Prediction(None, ParseStatus.ERROR, "not asked")
    ]
    headline = _headline(job.task, preds, probe)
    metrics: dict[str, float] = {headline: float("nan"), "n": float(len(asked))}
    if asked:
        failed = job.task.score(preds, asked).metrics
        metrics.update({k: failed[k] for k in FAILURE_KEYS if k in failed})
    metrics["n_missing"] = metrics["n_not_run"] = float(len(ends) - len(asked))
    metrics.update(_efficiency_of(rows))
    tables: dict[str, Any] = {"outcomes": counts, "no_valid_answers": no_valid_reason(ends)}
    store.put_scores(job.model.name, job.task.name, job.dataset, headline, metrics, {}, tables)


def _headline(task: Task, preds: list[Prediction], samples: list[Sample]) -> str:
    """The task's headline metric name (declared, else read from scoring failed answers)."""
    declared = getattr(task, "metrics", None)
    if declared is not None and hasattr(declared, "headline"):
        return str(declared.headline.key)
    return task.score(preds, samples).headline


def efficiency(responses: Sequence[Response], cached: Sequence[bool]) -> dict[str, float]:
    """Latency, time to first token, tokens, throughput and cost over a job's answers."""
    out: dict[str, float] = {}
    # Timing covers answers only: a failure's time (retry waits included) is not a latency.
    answered = [r for r in responses if r.error is None]
    lat = [r.latency_s for r in answered if r.latency_s is not None]
    if len(answered) < len(responses):
        out["n_failed_responses"] = float(len(responses) - len(answered))
    queue = [q for r in answered if (q := r.extra.get("queue_s")) is not None]
    if queue:
        out["queue_mean_s"] = float(statistics.fmean(queue))
    if lat:
        out["latency_mean_s"] = float(statistics.fmean(lat))
        out["latency_p50_s"] = float(np.percentile(lat, 50))
        out["latency_p95_s"] = float(np.percentile(lat, 95))
    ttft = [r.ttft_s for r in answered if r.ttft_s is not None]
    if ttft:
        out["ttft_mean_s"] = float(statistics.fmean(ttft))
    tin = [r.usage.input_tokens for r in responses if r.usage.input_tokens is not None]
    tout = [r.usage.output_tokens for r in responses if r.usage.output_tokens is not None]
    if tin:
        out["input_tokens"] = float(sum(tin))
    if tout:
        out["output_tokens"] = float(sum(tout))
    tps = [t for r in answered if (t := r.tokens_per_s) is not None]
    if tps:
        out["tokens_per_s"] = float(statistics.fmean(tps))
    if any(r.usage.estimated for r in responses):
        out["tokens_estimated"] = 1.0
    costs = [r.cost_usd for r in responses if r.cost_usd is not None]
    if costs:
        out["cost_usd"] = float(sum(costs))
        out["cost_per_sample_usd"] = float(sum(costs) / len(responses))
    if responses:
        out["cached_share"] = float(sum(cached) / len(responses))
        batched = sum(bool(r.extra.get("batch")) for r in responses)
        if batched:
            # Batch answers carry no latency: the figures above cover live answers only.
            out["batch_share"] = float(batched / len(responses))
    return out
