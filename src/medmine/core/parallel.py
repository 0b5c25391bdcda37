"""CPU work spread over the machine's cores in worker processes (the GIL would serialise
threads): image checks and hashes, per-sample metrics."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Processes to use: the machine's cores, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


def process_context() -> BaseContext:
    """How to start workers: fork starts them at once, but a process that already runs
    threads (Ray, an HTTP client, a test server) must not fork, so it spawns instead."""
    return multiprocessing.get_context("fork" if threading.active_count() == 1 else "spawn")


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes started the safe way for this process."""
    return ProcessPoolExecutor(workers, mp_context=process_context())


def process_map(
    fn: Callable[[list[T]], list[R]],
    items: Sequence[T],
    *,
    min_items: int,
    batch: int,
    workers: int | None = None,
) -> list[R]:
    """``fn`` over ``items`` a batch at a time, in worker processes when there are at least
    ``min_items`` of them and more than one core; results in input order, the same as
    ``fn(list(items))`` (``fn`` must be a module-level function of its batch alone)."""
    n = default_workers() if workers is None else workers
    if n <= 1 or len(items) < min_items:
        return fn(list(items))
    batches = [list(items[i : i + batch]) for i in range(0, len(items), batch)]
    out: list[R] = []
    with process_pool(n) as pool:
        for part in pool.map(fn, batches):
            out.extend(part)
    return out
