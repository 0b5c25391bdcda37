"""Ctrl-C (and SIGTERM) during asking: routed to the runner, which stops sending and saves
what it has, instead of the process dying with answers not yet committed."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from medmine.core import Outcome

if TYPE_CHECKING:
    from medmine.run.pending import Ident
    from medmine.run.store import RunStore

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def on_ctrl_c(handler: Callable[[], None]) -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``handler`` on the running loop while asking (main thread
    only); the previous behaviour returns when the block ends."""
    loop = asyncio.get_running_loop()
    routed = []
    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, handler)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # not the main thread, or no signals here: the signal behaves as usual
        routed.append(sig)
    try:
        yield
    finally:
        for sig in routed:
            loop.remove_signal_handler(sig)


def record_unsent(store: RunStore, pending: Iterable[Ident], started: float) -> int:
    """After a stop: every pending question with neither an answer nor a request in flight
    ends as not_sent_stop, so each sample still has exactly one recorded outcome; how many
    did. ``pending`` gives (model, task, dataset, sample id, repeat, request key) of each."""
    flying = set(store.ledger.in_flight())
    answered: dict[tuple[str, str, str], dict[tuple[str, int], str]] = {}
    ended: dict[tuple[str, str, str], dict[tuple[str, int], float]] = {}
    why = "the user stopped the run (Ctrl-C)"
    n = 0
    for model, task, dataset, sample_id, repeat, key in pending:
        job, one = (model, task, dataset), (sample_id, repeat)
        if job not in answered:  # read once per job, not once per question
            answered[job] = store.answered(*job)
            ended[job] = {k: e.created for k, e in store.ledger.get(*job).items()}
        if (*job, *one) in flying or answered[job].get(one) == key:
            continue
        if ended[job].get(one, -1.0) >= started:
            continue
        store.ledger.put(*job, [(*one, Outcome.NOT_SENT_STOP, why)])
        n += 1
    store.flush()
    return n
