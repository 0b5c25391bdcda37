"""Writes to a run database committed in bounded batches instead of one commit per row.

A commit costs far more than the insert it closes, and a run writes several rows per sample
(its answer, its outcome, the end of its in-flight mark). :class:`WriteBuffer` keeps the rows
in order in memory and commits them in one transaction once ``every`` rows are waiting or the
oldest has waited ``max_age_s`` seconds, whichever comes first, and whenever anyone reads the
database (so a reader always sees every write made before). A SIGKILL therefore loses at most
the rows of one unfinished batch; every other exit path (normal end, Ctrl-C, SIGTERM routed to
the runner, an exception unwinding through ``close``) commits them.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode: each commit survives a killed process; readers never block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    return con


FLUSH_EVERY = 256  # rows per commit at most (an answer, its outcome, its in-flight end: 3 rows)
FLUSH_AFTER_S = 0.5  # seconds the oldest uncommitted row may wait at most


def in_transaction(con: sqlite3.Connection, work: Callable[[], None]) -> None:
    """Run ``work`` inside one explicit transaction (the connections are in autocommit mode,
    where ``executemany`` would otherwise commit every row on its own)."""
    if con.in_transaction:
        work()  # already inside a caller's transaction
        return
    con.execute("BEGIN")
    try:
        work()
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


class WriteBuffer:
    """Rows waiting to be committed to one connection, in the order they were written."""

    def __init__(
        self,
        con: sqlite3.Connection,
        every: int = FLUSH_EVERY,
        max_age_s: float = FLUSH_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if every < 1:
            raise ValueError(f"a write batch holds at least one row, got every={every}")
        self.con = con
        self.every = every
        self.max_age_s = max_age_s
        self.clock = clock
        self.commits = 0  # transactions committed (for tests and benchmarks)
        self._ops: list[tuple[str, Sequence[Any]]] = []
        self._since = 0.0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ops)

    def add(self, sql: str, params: Sequence[Any], *, more: bool = False) -> None:
        """Queue one statement; commits the batch when it is full or old enough. ``more``
        says a write that belongs with this one follows (a sample's answer, then its outcome):
        the batch is then not cut between them."""
        with self._lock:
            if not self._ops:
                self._since = self.clock()
            self._ops.append((sql, params))
            if more:
                return
            due = len(self._ops) >= self.every or self.clock() - self._since >= self.max_age_s
        if due:
            self.flush()

    def add_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Queue one statement for several rows (committed in batches like :meth:`add`)."""
        for row in rows:
            self.add(sql, row)

    def due(self) -> bool:
        """True when the oldest waiting row has waited ``max_age_s`` (a timer's check)."""
        return bool(self._ops) and self.clock() - self._since >= self.max_age_s

    def flush(self) -> None:
        """Commit every waiting row in one transaction (consecutive rows of one statement
        go through one ``executemany``). Nothing waiting: nothing happens."""
        with self._lock:
            ops, self._ops = self._ops, []
            if not ops:
                return

            def work() -> None:
                for sql, rows in _grouped(ops):
                    self.con.executemany(sql, rows)

            try:
                in_transaction(self.con, work)
            except BaseException:
                self._ops = ops + self._ops  # keep them: a later flush may still succeed
                raise
            self.commits += 1


_TABLE = re.compile(r"\b(?:INTO|FROM|UPDATE)\s+(\w+)", re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def _table(sql: str) -> str:
    """The table a statement writes (its first INTO / FROM / UPDATE target)."""
    m = _TABLE.search(sql)
    return m.group(1) if m else sql


def _grouped(ops: Sequence[tuple[str, Sequence[Any]]]) -> list[tuple[str, list[Sequence[Any]]]]:
    """The statements with their rows, one ``executemany`` each where order allows.

    Rows of one statement keep their order. Statements on different tables are independent,
    so interleaved writes (answer, outcome, in-flight end, answer, ...) become one group per
    statement; when a second statement on the same table comes (a mark after an unmark), a
    new segment starts so the two never swap.
    """
    out: list[tuple[str, list[Sequence[Any]]]] = []
    segment: dict[str, list[Sequence[Any]]] = {}
    owner: dict[str, str] = {}  # table -> the statement writing it in this segment
    for sql, params in ops:
        table = _table(sql)
        if owner.get(table, sql) != sql:
            out += segment.items()
            segment, owner = {}, {}
        owner[table] = sql
        segment.setdefault(sql, []).append(params)
    out += segment.items()
    return out
