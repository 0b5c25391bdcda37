"""The review's tables in the run's own database (``run.sqlite``), next to the answers.

``review_decisions`` is append-only: each accept, correction or unreadable flag is a new row,
committed the moment it is made; an item's current decision is its latest row, so changing
one's mind keeps the history. ``review_plan`` holds the order items are shown in (drawn once,
so a restart resumes the same review), ``review_meta`` the plan's parameters.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS review_decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT NOT NULL, task TEXT NOT NULL,
    dataset TEXT NOT NULL, sample_id TEXT NOT NULL, model TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('accept', 'correct', 'unreadable')),
    value TEXT NOT NULL, reviewer TEXT NOT NULL, created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS review_decisions_item ON review_decisions (item, id);
CREATE TABLE IF NOT EXISTS review_plan (
    position INTEGER PRIMARY KEY, item TEXT NOT NULL UNIQUE, stratum TEXT NOT NULL,
    disagreement INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS review_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
ACTIONS = ("accept", "correct", "unreadable")


@dataclass(frozen=True)
class Decision:
    """An item's current decision."""

    item: str
    task: str
    dataset: str
    sample_id: str
    model: str
    action: str
    value: Any  # the reviewed prediction value (None when flagged unreadable)
    reviewer: str
    created: float

    @property
    def when(self) -> str:
        """The decision time as an ISO 8601 UTC timestamp."""
        return datetime.fromtimestamp(self.created, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class PlanRow:
    """One position of the review plan."""

    position: int
    item: str
    stratum: str
    disagreement: bool


class ReviewStore:
    """Reads and writes the review tables through the run store's connection."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        self.con.executescript(SCHEMA)

    # -- decisions ----------------------------------------------------------------------------
    def decide(
        self,
        item: str,
        model: str,
        action: str,
        value: Any,
        reviewer: str,
    ) -> Decision:
        """Record a decision (committed at once) and return it."""
        if action not in ACTIONS:
            raise ValueError(f"decision action must be one of {', '.join(ACTIONS)}, got {action!r}")
        if not reviewer.strip():
            raise ValueError("a decision needs a reviewer name")
        task, dataset, sample_id = item.split("\t")
        now = time.time()
        with self.con:
            self.con.execute(
                "INSERT INTO review_decisions (item, task, dataset, sample_id, model, action,"
                " value, reviewer, created) VALUES (?,?,?,?,?,?,?,?,?)",
                (item, task, dataset, sample_id, model, action, json.dumps(value), reviewer, now),
            )
        return Decision(item, task, dataset, sample_id, model, action, value, reviewer, now)

    def decisions(self) -> dict[str, Decision]:
        """Item -> its latest decision."""
        rows = self.con.execute(
            "SELECT item, task, dataset, sample_id, model, action, value, reviewer, created"
            " FROM review_decisions"
            " WHERE id IN (SELECT MAX(id) FROM review_decisions GROUP BY item)"
            " ORDER BY id"
        )
        return {
            r[0]: Decision(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8])
            for r in rows
        }

    def history_size(self) -> int:
        """How many decisions were ever recorded (changes included)."""
        (n,) = self.con.execute("SELECT COUNT(*) FROM review_decisions").fetchone()
        return int(n)

    # -- plan ---------------------------------------------------------------------------------
    def plan(self) -> list[PlanRow]:
        """The stored plan in review order (empty before the first launch)."""
        return [
            PlanRow(p, i, s, bool(d))
            for p, i, s, d in self.con.execute(
                "SELECT position, item, stratum, disagreement FROM review_plan ORDER BY position"
            )
        ]

    def save_plan(self, rows: list[PlanRow], params: dict[str, Any]) -> None:
        """Replace the plan and its parameters (one transaction)."""
        with self.con:
            self.con.execute("DELETE FROM review_plan")
            self.con.executemany(
                "INSERT INTO review_plan VALUES (?,?,?,?)",
                [(r.position, r.item, r.stratum, int(r.disagreement)) for r in rows],
            )
            self.con.execute(
                "INSERT OR REPLACE INTO review_meta VALUES ('plan', ?)",
                (json.dumps(params, sort_keys=True),),
            )

    def plan_params(self) -> dict[str, Any] | None:
        """The parameters the stored plan was drawn with."""
        row = self.con.execute("SELECT value FROM review_meta WHERE key='plan'").fetchone()
        return json.loads(row[0]) if row else None
