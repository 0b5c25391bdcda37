"""Per-sample outcomes and requests in flight, kept in the run database next to the answers.

Every sample of every job ends in exactly one :class:`~medmine.core.Outcome` row here: the
answered ones (written with their answer), and the ones never sent (no key, budget, user
stop), pending in a provider batch, unreadable, or hit by a medmine bug. A request is marked
*in flight* just before it is sent and unmarked once its answer is committed, so a run killed
mid-request knows on resume exactly how many requests it sends a second time.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from medmine.core import Outcome, ParseStatus, Prediction, Response, Sample, Task
from medmine.models.secrets import redact

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


@dataclass(frozen=True)
class OutcomeRow:
    """One sample's recorded end."""

    sample_id: str
    repeat: int
    outcome: Outcome
    detail: str | None
    created: float = 0.0


class Ledger:
    """Reads and writes the outcome and in-flight tables of one run database."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        con.executescript(LEDGER_SCHEMA)

    def put(
        self,
        model: str,
        task: str,
        dataset: str,
        ends: Iterable[tuple[str, int, Outcome, str | None]],
    ) -> None:
        """Record how samples ended: (sample id, repeat, outcome, detail); committed at once."""
        now = time.time()
        with self.con:
            self.con.executemany(
                "INSERT OR REPLACE INTO outcomes VALUES (?,?,?,?,?,?,?,?)",
                [
                    (model, task, dataset, s, r, o.value, redact(d) if d else d, now)
                    for s, r, o, d in ends
                ],
            )

    def get(self, model: str, task: str, dataset: str) -> dict[tuple[str, int], OutcomeRow]:
        """(sample id, repeat) -> recorded outcome of one job."""
        rows = self.con.execute(
            "SELECT sample_id, repeat, outcome, detail, created FROM outcomes"
            " WHERE model=? AND task=? AND dataset=?",
            (model, task, dataset),
        )
        return {(s, r): OutcomeRow(s, r, Outcome(o), d, c) for s, r, o, d, c in rows}

    def answer_times(self, model: str, task: str, dataset: str) -> dict[tuple[str, int], float]:
        """(sample id, repeat) -> when its stored answer (or failure) was recorded."""
        rows = self.con.execute(
            "SELECT sample_id, repeat, created FROM results WHERE model=? AND task=? AND dataset=?",
            (model, task, dataset),
        )
        return {(s, r): c for s, r, c in rows}

    def counts(self, model: str | None = None) -> Counter[tuple[str, str]]:
        """(model, outcome) -> number of samples, over the whole run (or one model)."""
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
        self.con.execute(
            "INSERT OR REPLACE INTO in_flight VALUES (?,?,?,?,?,?,?)",
            (model, task, dataset, sample_id, repeat, key, time.time()),
        )

    def landed(self, model: str, task: str, dataset: str, sample_id: str, repeat: int) -> None:
        """Unmark a request once its answer (or its failure) is committed."""
        self.con.execute(
            "DELETE FROM in_flight WHERE model=? AND task=? AND dataset=? AND sample_id=?"
            " AND repeat=?",
            (model, task, dataset, sample_id, repeat),
        )

    def in_flight(self) -> list[tuple[str, str, str, str, int]]:
        """Requests sent by an earlier process that never got an answer recorded."""
        return list(
            self.con.execute(
                "SELECT model, task, dataset, sample_id, repeat FROM in_flight ORDER BY 1,2,3,4,5"
            )
        )
