"""``--batch``: send a cloud model's uncached requests through its provider's batch channel.

The runner still prepares the work (pending units, cache keys, skipping rules) and still stores,
caches and parses every answer: this module only replaces *how* the uncached requests of a
cloud model are asked. For each such model it

1. polls the batch jobs an earlier, interrupted run left in the store (``batch_jobs`` table)
   instead of asking their requests again;
2. packs the remaining requests into provider batches (split at the provider's request-count
   and size limits), submits them and records each job id with its ``custom_id`` -> unit
   mapping *before* polling, so a run killed at any moment resumes by polling;
3. polls every job with exponential backoff until it ends, then hands each answer to the
   runner's own answer path (parse + store + cache);
4. resubmits the requests a batch left unanswered (expired, or a retryable per-request error
   such as a timeout) in a new batch, for at most ``max_rounds`` rounds, after which they are
   recorded as errors (``error_kind="batch_expired"``). A request the provider rejected (for
   instance a 400 for one line) is recorded at once as that sample's error.

Answers that came through a batch carry ``extra["batch"] = True``, ``extra["batch_id"]``,
``extra["batch_round"]`` and ``extra["batch_discount"]``; their cost is the list price times the
preset's ``batch_discount``; their ``latency_s`` and ``ttft_s`` are None: a batch answer's wall
time is queueing time, not generation time, and is not comparable with live figures. Models
without a batch channel (baselines, local and OpenAI-compatible servers, executor-wrapped
models) are asked live exactly as ``Runner.run`` would.

``--max-cost`` is checked before each batch is submitted (a batch's cost is known only once it
ends), so a run may pass the cap by at most the batches in flight.

The channel protocol is in ``batch_channel``; one model's jobs are driven by ``batch_jobs``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence

from medmine.core import BatchStatus, ItemError, Model
from medmine.run.batch_channel import BatchChannel, BatchSummary, default_channel
from medmine.run.batch_jobs import ModelBatches, Sleep
from medmine.run.progress import ProgressBoard
from medmine.run.runner import Job, Runner, Unit

__all__ = [
    "BatchChannel",
    "BatchStatus",
    "BatchSummary",
    "ItemError",
    "default_channel",
    "run_batch",
]


async def run_batch(
    runner: Runner,
    jobs: Sequence[Job],
    *,
    poll_initial_s: float = 15.0,
    poll_max_s: float = 300.0,
    max_rounds: int = 3,
    sleep: Sleep = asyncio.sleep,
    channel_for: Callable[[Model], BatchChannel | None] = default_channel,
) -> BatchSummary:
    """Run ``jobs`` like ``runner.run`` but ask cloud models through their batch channels.

    Returns a :class:`BatchSummary` whose ``jobs`` go to ``runner.score``. Polls start
    ``poll_initial_s`` apart and double up to ``poll_max_s``; ``sleep`` is injectable for tests.
    Requests a batch leaves unanswered are resubmitted up to ``max_rounds`` rounds in all.
    """
    if not poll_initial_s > 0:
        raise ValueError(f"poll_initial_s must be > 0, got {poll_initial_s}")
    if not poll_max_s >= poll_initial_s:
        raise ValueError(f"poll_max_s ({poll_max_s}) must be >= poll_initial_s ({poll_initial_s})")
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be >= 1, got {max_rounds}")
    units, ready = runner.prepare(jobs)
    summary = BatchSummary(jobs=ready, run=runner.summary)
    channels: dict[str, BatchChannel | None] = {}
    batched: dict[str, list[Unit]] = defaultdict(list)
    live: dict[str, list[Unit]] = defaultdict(list)
    cached: list[Unit] = []
    for u in units:
        if runner.cache is not None and runner.cache.get(u.key) is not None:
            cached.append(u)
            continue
        if u.model_name not in channels:
            channels[u.model_name] = channel_for(u.model)
        (batched if channels[u.model_name] is not None else live)[u.model_name].append(u)
    for u in cached:
        await runner.answer_unit(u)  # taken from the cache: nothing is sent
    summary.live = sum(len(us) for us in live.values())
    drivers = [
        ModelBatches(
            runner,
            channel,
            batched[name],
            summary,
            poll_initial_s=poll_initial_s,
            poll_max_s=poll_max_s,
            max_rounds=max_rounds,
            sleep=sleep,
        )
        for name, channel in channels.items()
        if channel is not None and batched[name]
    ]
    board = ProgressBoard(enabled=runner.progress and bool(live))
    with board:
        await asyncio.gather(
            *(d.run() for d in drivers),
            *(
                runner.run_units(name, us, board.add(name, len(us)), us[0].model)
                for name, us in live.items()
            ),
        )
    runner.summary.stopped_models.update(runner.stopped)
    return summary
