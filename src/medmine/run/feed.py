"""Units handed to a model's workers a window at a time, with the window's bookkeeping done
in bulk: one cache query for the whole window, one commit marking its requests in flight.

Marking a window before any of it is sent keeps the resume guarantee (a request is marked
before it goes out, so a run killed mid-request knows it may have been sent) at one commit
per window instead of one per request. Marks of units that were then not sent (a stop, the
budget, an answer a twin request got first) are dropped again before the run ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from itertools import islice

from medmine.core import Response
from medmine.run.response_cache import ResponseCache
from medmine.run.store import RunStore
from medmine.run.units import Unit
from medmine.run.writes import FLUSH_AFTER_S, FLUSH_EVERY

Ident = tuple[str, str, str, str, int]


def ident(u: Unit) -> Ident:
    """The unit's identity in the ledger: (model, task, dataset, sample id, repeat)."""
    return (u.model_name, u.task.name, u.dataset, u.sample.id, u.repeat)


class UnitFeed:
    """The next unit for a worker and its cached answer (if the cache holds one)."""

    def __init__(
        self,
        store: RunStore,
        cache: ResponseCache | None,
        units: Iterable[Unit],
        window: int = FLUSH_EVERY,
    ) -> None:
        self.store = store
        self.cache = cache
        self.window = window
        self._units: Iterator[Unit] = iter(units)
        self._ready: deque[tuple[Unit, Response | None]] = deque()
        self.marked: set[Ident] = set()  # marked in flight, not yet sent

    def next(self, marking: bool = True) -> tuple[Unit, Response | None] | None:
        """The next unit with its cached answer, or None when all were handed out. A new
        window is looked up in the cache and (when ``marking``) its misses marked in flight
        first; synchronous, so workers on one event loop never race for it."""
        if not self._ready:
            chunk = list(islice(self._units, self.window))
            if not chunk:
                return None
            hits = self.cache.get_many(u.key for u in chunk) if self.cache is not None else {}
            if marking:
                marks = [(*ident(u), u.key) for u in chunk if u.key not in hits]
                if marks:
                    self.store.ledger.sending_many(marks)
                    self.marked.update(m[:5] for m in marks)
            self._ready.extend((u, hits.get(u.key)) for u in chunk)
        return self._ready.popleft()

    def sent(self, u: Unit) -> bool:
        """Note that ``u`` is being sent (or answered from the cache); True if it was
        marked in flight by this feed."""
        try:
            self.marked.remove(ident(u))
        except KeyError:
            return False
        return True

    def release(self) -> None:
        """Drop the marks of units never sent (the run stopped before them)."""
        if self.marked:
            self.store.ledger.unmark(self.marked)
            self.marked.clear()


@contextlib.asynccontextmanager
async def flushing(store: RunStore, cache: ResponseCache | None) -> AsyncIterator[None]:
    """While the block runs, commit waiting writes once they are ``FLUSH_AFTER_S`` old even
    when no new write comes to trigger it (a slow model); commit the rest at the end."""

    async def tick() -> None:
        while True:
            await asyncio.sleep(FLUSH_AFTER_S / 5)
            if store.writes.due():
                store.flush()
            if cache is not None and cache.writes.due():
                cache.flush()

    timer = asyncio.create_task(tick())
    try:
        yield
    finally:
        timer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await timer
        store.flush()
        if cache is not None:
            cache.flush()
