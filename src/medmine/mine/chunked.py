"""Estimate and ask a mining job chunk by chunk, so memory stays flat however large it is.

The samples of a mining job come from a generator of chunks (a few thousand samples each,
rebuilt from the source on every pass). Each chunk goes through the Runner's public
interface exactly as ``medmine run`` sends a job (``Runner.prepare`` to estimate,
``Runner.run`` to ask), with one Runner for the whole job: the store, the response cache,
the resume (a request whose hash the store already holds is never asked again), the budget
(``--max-cost`` stops sending, every later sample is recorded ``not_sent_budget``), retries
and the executor (``--executor ray``: the Runner wraps the model once, the same actors answer
every chunk) are the Runner's. Only one chunk's samples, units and responses are in memory
at a time; answers are committed to ``run.sqlite`` as they arrive.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from medmine.core import Model, Request, Sample, Task
from medmine.mine.command import MiningCancelled
from medmine.mine.estimate import CostEstimate, estimate_cost, model_provider
from medmine.run.runner import Executor, Job, Runner
from medmine.run.store import ResponseCache, RunStore

CHUNK = 2000  # samples handed to the Runner at a time
T = TypeVar("T")

Say = Callable[[str], None]
Confirm = Callable[[CostEstimate], bool]  # the same aliases as mine.command's


def chunked(items: Iterable[T], size: int | None = None) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (default :data:`CHUNK`; the last may be shorter),
    read lazily: the input is never read more than one list ahead."""
    size = size or CHUNK
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def add_estimates(a: CostEstimate, b: CostEstimate) -> CostEstimate:
    """Two estimates of the same model summed (an unknown cost stays unknown)."""
    cost = None if a.cost_usd is None or b.cost_usd is None else a.cost_usd + b.cost_usd
    return dataclasses.replace(
        a,
        n_items=a.n_items + b.n_items,
        text_tokens=a.text_tokens + b.text_tokens,
        image_tokens=a.image_tokens + b.image_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        cost_usd=cost,
        notes=list(dict.fromkeys([*a.notes, *b.notes])),
    )


def plan_chunks(
    store: RunStore,
    cache: ResponseCache | None,
    model: Model,
    task: Task,
    dataset: str,
    chunks: Iterable[list[Sample]],
    say: Say,
    confirm: Confirm | None,
) -> CostEstimate:
    """Estimate what the job will send (pending, uncached requests only), print it, confirm.

    Per chunk the Runner prepares the units (resumed answers counted, not kept), the cache is looked
    up and the pending requests are estimated and dropped. Confirmation is asked only when
    something is pending and the model is not a built-in baseline (``confirm`` None: the user
    already agreed with ``--yes``).
    """
    planner = Runner(store, cache, progress=False)
    total = estimate_cost(model, [], task.name)
    n_cached = 0
    for chunk in chunks:
        units, _ = planner.prepare([Job(model, task, dataset, chunk)])
        pending: list[Request] = []
        for unit in units:
            if cache is not None and cache.get(unit.key) is not None:
                n_cached += 1
            else:
                pending.append(unit.request)
        total = add_estimates(total, estimate_cost(model, pending, task.name))
    estimate = dataclasses.replace(total, n_done=planner.summary.resumed + n_cached)
    for line in estimate.lines():
        say(line)
    provider, _ = model_provider(model)
    asks = estimate.n_items and provider != "baseline" and confirm is not None
    if asks and not confirm(estimate):  # type: ignore[misc]
        raise MiningCancelled("cancelled: nothing was sent")
    return estimate


def ask_chunks(
    store: RunStore,
    cache: ResponseCache | None,
    model: Model,
    task: Task,
    dataset: str,
    chunks: Iterable[list[Sample]],
    *,
    max_cost: float | None,
    concurrency: int | None,
    progress: bool,
    executor: Executor | None = None,
) -> Runner:
    """Ask every pending unit of the job, one chunk at a time, in one event loop (see the
    module doc); a Ctrl-C stops after the chunk in flight. Returns the Runner (summary)."""
    runner = Runner(
        store,
        cache,
        concurrency=concurrency,
        progress=progress,
        max_cost=max_cost,
        executor=executor,
    )

    async def ask_all() -> None:
        try:
            for chunk in chunks:
                await runner.run([Job(model, task, dataset, chunk)])
                if runner.stop_requested:
                    break
        finally:
            closer = getattr(model, "aclose", None)
            if closer is not None:
                await closer()

    asyncio.run(ask_all())
    return runner


def make_mining_executor(name: str, address: str | None, workers: int | None) -> Executor | None:
    """The executor ``--executor`` names (None: this process); ``ray`` needs the extra."""
    if name == "local" and address is None and workers is None:
        return None
    from medmine.run.ray_executor import make_executor

    return make_executor(name, address=address, workers=workers)
