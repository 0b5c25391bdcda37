"""Per-sample outcomes and requests in flight, kept in the run database next to the answers.

Every sample of every job ends in exactly one :class:`~medmine.core.Outcome` row here: the
answered ones (written with their answer), and the ones never sent (no key, budget, user
stop), pending in a provider batch, unreadable, or hit by a medmine bug. A request is marked
*in flight* just before it is sent and unmarked once its answer is committed, so a run killed
mid-request knows on resume exactly how many requests it sends a second time.

Outcome rows and the ends of in-flight marks go through the store's :class:`WriteBuffer`
(committed in bounded batches); marks are committed before their requests go out, a whole
window of them in one transaction (:meth:`Ledger.sending_many`).
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from medmine.core import Outcome, ParseStatus, Prediction, Response, Sample, Task
from medmine.core.secrets import redact
from medmine.run.writes import WriteBuffer, in_transaction

LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (
    model TEXT NOT NULL, task TEXT NOT NULL, dataset TEXT NOT NULL, sample_id TEXT NOT NULL,
    repeat INTEGER NOT NULL, outcome TEXT NOT NULL, detail TEXT, created REAL NOT NULL,
    PRIMARY KEY (model, task, dataset, sample_id, repeat)
);
CREATE TABLE IF NOT EXISTS in_flight (
    model TEXT NOT NULL, task TEXT NOT NULL, dataset TEXT NOT NULL, sample_id TEXT NOT NULL,
    repeat INTEGER NOT NULL, request_hash TEXT NOT NULL, sent REAL NOT NULL,
    PRIMARY KEY (model, task, dataset, sample_id, repeat)
);
"""

_FROM_STATUS = {
    ParseStatus.OK: Outcome.OK,
    ParseStatus.REPAIRED: Outcome.REPAIRED,
    ParseStatus.REFUSED: Outcome.REFUSED,
    ParseStatus.UNPARSEABLE: Outcome.UNPARSEABLE,
    ParseStatus.TRUNCATED: Outcome.TRUNCATED,
    ParseStatus.ERROR: Outcome.PROVIDER_ERROR,
}

# Response.error_kind values raised by medmine's own code, not by the provider.
# medmine's own failures: a backend exception; a request medmine built that the provider's
# documented limits forbid (too many images), stopped before it was sent
MEDMINE_ERROR_KINDS = frozenset({"exception", "too_many_images"})
PARSER_BUG = "parser error: "


def outcome_of(response: Response, prediction: Prediction) -> Outcome:
    """The outcome of an answered request: medmine's own exceptions (in a backend or a parser)
    are never the model's failure; everything else follows how the answer was read."""
    if response.error_kind in MEDMINE_ERROR_KINDS:
        return Outcome.MEDMINE_ERROR
    if prediction.detail and prediction.detail.startswith(PARSER_BUG):
        return Outcome.MEDMINE_ERROR
    return _FROM_STATUS[prediction.status]


def safe_parse(task: Task, response: Response, sample: Sample) -> Prediction:
    """The task's reading of an answer; a parser exception is recorded on the sample (its
    outcome is medmine_error: a bug in medmine, never scored as the model's failure)."""
    try:
        return task.parse(response, sample)
    except Exception as exc:  # a parser bug never ends the run
        why = redact(f"{type(exc).__name__}: {exc}")
        return Prediction(None, ParseStatus.UNPARSEABLE, f"{PARSER_BUG}{why}")


RawOutcome = tuple[str, str | None, float]  # outcome value, detail, when recorded


class OutcomeRow(NamedTuple):
    """One sample's recorded end (a named tuple: a run scores one per sample)."""

    sample_id: str
    repeat: int
    outcome: Outcome
    detail: str | None
    created: float = 0.0


class Ledger:
    """Reads and writes the outcome and in-flight tables of one run database."""

    PUT = "INSERT OR REPLACE INTO outcomes VALUES (?,?,?,?,?,?,?,?)"
    MARK = "INSERT OR REPLACE INTO in_flight VALUES (?,?,?,?,?,?,?)"
    UNMARK = (
        "DELETE FROM in_flight WHERE model=? AND task=? AND dataset=? AND sample_id=? AND repeat=?"
    )

    def __init__(self, con: sqlite3.Connection, writes: WriteBuffer | None = None) -> None:
        self.con = con
        con.executescript(LEDGER_SCHEMA)
        self.writes = writes if writes is not None else WriteBuffer(con, every=1)

    def put(
        self,
        model: str,
        task: str,
        dataset: str,
        ends: Iterable[tuple[str, int, Outcome, str | None]],
        *,
        more: bool = False,
    ) -> None:
        """Record how samples ended: (sample id, repeat, outcome, detail), committed with
        the next batch of writes (see :mod:`medmine.run.writes`; ``more``: a write that
        belongs with these follows, so the batch is not cut before it)."""
        now = time.time()
        for s, r, o, d in ends:
            row = (model, task, dataset, s, r, o.value, redact(d) if d else d, now)
            self.writes.add(self.PUT, row, more=more)

    def get(self, model: str, task: str, dataset: str) -> dict[tuple[str, int], OutcomeRow]:
        """(sample id, repeat) -> recorded outcome of one job."""
        self.writes.flush()
        rows = self.con.execute(
            "SELECT sample_id, repeat, outcome, detail, created FROM outcomes"
            " WHERE model=? AND task=? AND dataset=?",
            (model, task, dataset),
        )
        return {(s, r): OutcomeRow(s, r, Outcome(o), d, c) for s, r, o, d, c in rows}

    def ordered(self, model: str, task: str, dataset: str) -> Iterator[tuple[str, int, RawOutcome]]:
        """(sample id, repeat, (outcome value, detail, created)) of one job, in (sample id,
        repeat) order, read as iterated (scoring walks a job's ends beside its samples)."""
        self.writes.flush()
        rows = self.con.execute(
            "SELECT sample_id, repeat, outcome, detail, created FROM outcomes"
            " WHERE model=? AND task=? AND dataset=? ORDER BY sample_id, repeat",
            (model, task, dataset),
        )
        for s, r, o, d, c in rows:
            yield s, r, (o, d, c)

    def answer_time(
        self, model: str, task: str, dataset: str, sample_id: str, repeat: int
    ) -> float:
        """When one sample's stored answer (or failure) was recorded; 0.0 if none is."""
        self.writes.flush()
        row = self.con.execute(
            "SELECT created FROM results WHERE model=? AND task=? AND dataset=?"
            " AND sample_id=? AND repeat=?",
            (model, task, dataset, sample_id, repeat),
        ).fetchone()
        return float(row[0]) if row is not None else 0.0

    def counts(self, model: str | None = None) -> Counter[tuple[str, str]]:
        """(model, outcome) -> number of samples, over the whole run (or one model)."""
        self.writes.flush()
        where, args = (" WHERE model=?", (model,)) if model is not None else ("", ())
        rows = self.con.execute(
            f"SELECT model, outcome, COUNT(*) FROM outcomes{where} GROUP BY 1, 2", args
        )
        return Counter({(m, o): n for m, o, n in rows})

    # -- in flight ---------------------------------------------------------------------------
    def sending(
        self, model: str, task: str, dataset: str, sample_id: str, repeat: int, key: str
    ) -> None:
        """Mark a request as sent and not yet answered (committed before it goes out)."""
        self.sending_many([(model, task, dataset, sample_id, repeat, key)])

    def sending_many(self, marks: Iterable[tuple[str, str, str, str, int, str]]) -> None:
        """Mark several requests about to be sent, (model, task, dataset, sample id, repeat,
        request hash) each, committed in one transaction (with any writes still waiting)
        before the first of them goes out."""
        now = time.time()
        for m in marks:
            self.writes.add(self.MARK, (*m, now))
        self.writes.flush()

    def landed(self, model: str, task: str, dataset: str, sample_id: str, repeat: int) -> None:
        """Unmark a request; committed in the same batch as its answer and outcome, which
        were written before it (so the mark never disappears before the answer is kept)."""
        self.writes.add(self.UNMARK, (model, task, dataset, sample_id, repeat))

    def unmark(self, idents: Iterable[tuple[str, str, str, str, int]]) -> None:
        """Drop the marks of requests that were marked but never sent (a stop), at once."""
        rows = list(idents)
        self.writes.flush()
        in_transaction(self.con, lambda: self.con.executemany(self.UNMARK, rows))

    def in_flight(self) -> list[tuple[str, str, str, str, int]]:
        """Requests sent (or marked to be sent) by an earlier process that never got an answer
        recorded."""
        self.writes.flush()
        return list(
            self.con.execute(
                "SELECT model, task, dataset, sample_id, repeat FROM in_flight ORDER BY 1,2,3,4,5"
            )
        )
