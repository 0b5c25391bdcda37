"""The run database (one SQLite file per run directory) and the shared response cache.

Answers are committed in small batches as they arrive (at most ``FLUSH_EVERY`` rows or
``FLUSH_AFTER_S`` seconds apart, see :mod:`medmine.run.writes`; WAL mode, so a commit is an
append and survives SIGKILL), which is what makes a run resumable: rerunning the same command
finds each answered sample here and does not ask again; a SIGKILL loses at most the answers of
the last unfinished batch, which the rerun asks again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from medmine.core import BadSample, ParseStatus, Prediction, Response
from medmine.core.responses import loads_compact
from medmine.core.secrets import redact
from medmine.run.ledger import Ledger
from medmine.run.response_cache import ResponseCache
from medmine.run.store_check import check_store_file
from medmine.run.writes import WriteBuffer, connect, in_transaction

__all__ = ["BatchItem", "BatchJobRow", "ResponseCache", "ResultRow", "RunStore", "connect"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    model TEXT NOT NULL, task TEXT NOT NULL, dataset TEXT NOT NULL, sample_id TEXT NOT NULL,
    repeat INTEGER NOT NULL, request_hash TEXT NOT NULL, response TEXT NOT NULL,
    cached INTEGER NOT NULL, status TEXT NOT NULL, prediction TEXT NOT NULL, detail TEXT,
    created REAL NOT NULL,
    PRIMARY KEY (model, task, dataset, sample_id, repeat)
);
CREATE TABLE IF NOT EXISTS bad_samples (
    dataset TEXT NOT NULL, sample_id TEXT NOT NULL, path TEXT NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (dataset, sample_id)
);
CREATE TABLE IF NOT EXISTS skipped (
    model TEXT NOT NULL, task TEXT NOT NULL, dataset TEXT NOT NULL, reason TEXT NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (model, task, dataset)
);
CREATE TABLE IF NOT EXISTS scores (
    model TEXT NOT NULL, task TEXT NOT NULL, dataset TEXT NOT NULL, headline TEXT NOT NULL,
    metrics TEXT NOT NULL, per_sample TEXT NOT NULL, tables TEXT NOT NULL,
    PRIMARY KEY (model, task, dataset)
);
CREATE TABLE IF NOT EXISTS events (ts REAL NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batch_jobs (
    batch_id TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, round INTEGER NOT NULL,
    state TEXT NOT NULL, position INTEGER NOT NULL, custom_id TEXT NOT NULL, task TEXT NOT NULL,
    dataset TEXT NOT NULL, sample_id TEXT NOT NULL, repeat INTEGER NOT NULL,
    request_hash TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (batch_id, custom_id)
);
"""


@dataclass(frozen=True)
class ResultRow:
    """One stored answer with what was read from it."""

    model: str
    task: str
    dataset: str
    sample_id: str
    repeat: int
    request_hash: str
    response: Response
    cached: bool
    prediction: Prediction


@dataclass(frozen=True)
class BatchItem:
    """One request inside a provider batch: its custom id and the unit it answers."""

    custom_id: str
    task: str
    dataset: str
    sample_id: str
    repeat: int
    request_hash: str


@dataclass(frozen=True)
class BatchJobRow:
    """A provider batch job recorded in the run: enough to poll it again after a restart.

    ``state`` is ``submitted`` until its results are stored, then ``ingested``; ``items`` are
    in submission order (Gemini inline responses are matched by position).
    """

    batch_id: str
    provider: str
    model: str
    round: int
    state: str
    items: tuple[BatchItem, ...]


class RunStore:
    """The run directory's database: manifest, answers, predictions, scores, audit log."""

    FILENAME = "run.sqlite"

    PUT_RESULT = "INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / self.FILENAME
        check_store_file(self.path)  # an empty or garbled file is refused, never overwritten
        self._con = connect(self.path)
        self._con.executescript(SCHEMA)
        self.writes = WriteBuffer(self._con)
        self.ledger = Ledger(self._con, self.writes)

    @property
    def con(self) -> sqlite3.Connection:
        """The connection, with every buffered write committed first (so code that queries
        or writes it directly sees, and comes after, everything written before)."""
        self.writes.flush()
        return self._con

    def flush(self) -> None:
        """Commit the writes waiting in the buffer now."""
        self.writes.flush()

    def _write(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """Write rows at once in one transaction, after the buffered writes (kept in order)."""
        con, rows = self.con, list(rows)
        in_transaction(con, lambda: con.executemany(sql, rows))

    def close(self) -> None:
        """Commit what is waiting and close the database."""
        try:
            self.writes.flush()
        finally:
            self._con.close()

    # -- manifest ---------------------------------------------------------------------------
    def set_manifest(self, values: dict[str, Any]) -> None:
        """Record (or update) manifest entries."""
        self._write(
            "INSERT OR REPLACE INTO manifest VALUES (?, ?)",
            [(k, json.dumps(v, default=str)) for k, v in values.items()],
        )

    def manifest(self) -> dict[str, Any]:
        """The whole manifest."""
        return {k: json.loads(v) for k, v in self.con.execute("SELECT key, value FROM manifest")}

    # -- answers ----------------------------------------------------------------------------
    def answered(
        self, model: str, task: str, dataset: str, sample_ids: Sequence[str] | None = None
    ) -> dict[tuple[str, int], str]:
        """(sample id, repeat) -> request hash of answers held (provider errors excluded), for
        the whole job or only the given samples (a streamed job asks chunk by chunk, so it
        must not read every answer of the job for each chunk)."""
        query = (
            "SELECT sample_id, repeat, request_hash FROM results WHERE model=? AND task=?"
            " AND dataset=? AND status != 'error'"
        )
        if sample_ids is None:
            rows = self.con.execute(query, (model, task, dataset))
            return {(sid, rep): h for sid, rep, h in rows}
        found: dict[tuple[str, int], str] = {}
        ids = list(sample_ids)
        for start in range(0, len(ids), 500):  # under SQLite's bound-parameter limit
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self.con.execute(
                f"{query} AND sample_id IN ({marks})", (model, task, dataset, *part)
            )
            found.update({(sid, rep): h for sid, rep, h in rows})
        return found

    def put_result(
        self,
        model: str,
        task: str,
        dataset: str,
        sample_id: str,
        repeat: int,
        request_hash: str,
        response: Response,
        cached: bool,
        prediction: Prediction,
        blob: str | None = None,
    ) -> None:
        """Store one answer and its prediction (committed with the next batch of writes,
        together with the outcome and in-flight end written right after it); ``blob`` is
        ``response.to_json()`` when the caller has it already. Error and detail text pass
        through the shared secrets redaction (an exception or a server may echo a key)."""
        if response.error is not None:
            clean = redact(response.error)
            if clean != response.error:
                response, blob = replace(response, error=clean), None
        self.writes.add(
            self.PUT_RESULT,
            (
                model,
                task,
                dataset,
                sample_id,
                repeat,
                request_hash,
                response.to_json() if blob is None else blob,
                int(cached),
                prediction.status.value,
                json.dumps(prediction.value),
                redact(prediction.detail) if prediction.detail else prediction.detail,
                time.time(),
            ),
            more=True,
        )

    def results(
        self, model: str | None = None, task: str | None = None, dataset: str | None = None
    ) -> Iterator[ResultRow]:
        """Stored answers, in a stable order (model, task, dataset, sample id, repeat)."""
        from medmine.core import ParseStatus

        clauses, args = [], []
        for col, val in (("model", model), ("task", task), ("dataset", dataset)):
            if val is not None:
                clauses.append(f"{col}=?")
                args.append(val)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        cur = self.con.execute(
            "SELECT model, task, dataset, sample_id, repeat, request_hash, response, cached,"
            f" status, prediction, detail FROM results{where}"
            " ORDER BY model, task, dataset, sample_id, repeat",
            args,
        )
        for m, t, d, sid, rep, h, resp, cached, status, pred, detail in cur:
            yield ResultRow(
                m,
                t,
                d,
                sid,
                rep,
                h,
                Response.from_json(resp),
                bool(cached),
                Prediction(loads_compact(pred), ParseStatus(status), detail),
            )

    def results_for(
        self, model: str, task: str, dataset: str, sample_ids: Sequence[str]
    ) -> dict[str, ResultRow]:
        """The first-repeat answers of these samples (sample id -> row): a streamed job
        reads its answers back chunk by chunk instead of all at once."""
        found: dict[str, ResultRow] = {}
        ids = list(sample_ids)
        for start in range(0, len(ids), 500):  # under SQLite's bound-parameter limit
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self.con.execute(
                "SELECT sample_id, request_hash, response, cached, status, prediction, detail"
                " FROM results WHERE model=? AND task=? AND dataset=? AND repeat=0"
                f" AND sample_id IN ({marks})",
                (model, task, dataset, *part),
            )
            for sid, h, resp, cached, status, pred, detail in rows.fetchall():
                found[sid] = ResultRow(
                    model,
                    task,
                    dataset,
                    sid,
                    0,
                    h,
                    Response.from_json(resp),
                    bool(cached),
                    Prediction(loads_compact(pred), ParseStatus(status), detail),
                )
        return found

    def spent(self) -> float:
        """Dollars recorded for answers asked in this run (cache hits cost nothing again)."""
        total = 0.0
        for (blob,) in self.con.execute("SELECT response FROM results WHERE cached = 0"):
            total += json.loads(blob).get("cost_usd") or 0.0
        return total

    def result_keys(self) -> list[tuple[str, str, str]]:
        """The distinct (model, task, dataset) triples with answers."""
        return list(
            self.con.execute("SELECT DISTINCT model, task, dataset FROM results ORDER BY 1, 2, 3")
        )

    # -- bad and skipped samples ------------------------------------------------------------
    def put_bad_samples(self, bad: Iterable[BadSample]) -> None:
        """Record samples a reader could not load."""
        self._write(
            "INSERT OR REPLACE INTO bad_samples VALUES (?,?,?,?)",
            [(b.dataset, b.id, b.path, b.reason) for b in bad],
        )

    def bad_samples(self) -> list[BadSample]:
        """All recorded bad samples."""
        return [
            BadSample(sid, ds, path, reason)
            for ds, sid, path, reason in self.con.execute(
                "SELECT dataset, sample_id, path, reason FROM bad_samples ORDER BY 1, 2"
            )
        ]

    def put_skipped(self, model: str, task: str, dataset: str, reason: str, n: int) -> None:
        """Record that a model did not run a (task, dataset) and why."""
        self._write(
            "INSERT OR REPLACE INTO skipped VALUES (?,?,?,?,?)", [(model, task, dataset, reason, n)]
        )

    def skipped(self) -> list[tuple[str, str, str, str, int]]:
        """(model, task, dataset, reason, samples) of everything skipped."""
        return list(self.con.execute("SELECT * FROM skipped ORDER BY 1, 2, 3"))

    # -- scores -----------------------------------------------------------------------------
    def put_scores(
        self,
        model: str,
        task: str,
        dataset: str,
        headline: str,
        metrics: dict[str, float],
        per_sample: dict[str, dict[str, float]],
        tables: dict[str, Any],
    ) -> None:
        """Store the scores of one (model, task, dataset)."""
        self._write(
            "INSERT OR REPLACE INTO scores VALUES (?,?,?,?,?,?,?)",
            [
                (
                    model,
                    task,
                    dataset,
                    headline,
                    json.dumps(metrics),
                    json.dumps(per_sample),
                    json.dumps(tables, default=str),
                )
            ],
        )

    def scores(self) -> list[dict[str, Any]]:
        """All stored scores: model, task, dataset, headline, metrics, per_sample, tables."""
        out = []
        for m, t, d, head, metrics, per, tables in self.con.execute(
            "SELECT * FROM scores ORDER BY task, dataset, model"
        ):
            out.append(
                {
                    "model": m,
                    "task": t,
                    "dataset": d,
                    "headline": head,
                    "metrics": json.loads(metrics),
                    "per_sample": json.loads(per),
                    "tables": json.loads(tables),
                }
            )
        return out

    # -- provider batch jobs ----------------------------------------------------------------
    def put_batch_job(
        self,
        batch_id: str,
        provider: str,
        model: str,
        round: int,
        state: str,
        items: Iterable[BatchItem],
    ) -> None:
        """Record a batch job and its custom_id -> unit mapping (or update its state)."""
        now = time.time()
        self._write(
            "INSERT INTO batch_jobs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (batch_id, custom_id) DO UPDATE SET state=excluded.state",
            [
                (
                    batch_id,
                    provider,
                    model,
                    round,
                    state,
                    pos,
                    it.custom_id,
                    it.task,
                    it.dataset,
                    it.sample_id,
                    it.repeat,
                    it.request_hash,
                    now,
                )
                for pos, it in enumerate(items)
            ],
        )

    def batch_jobs(self, state: str | None = None) -> list[BatchJobRow]:
        """Recorded batch jobs (those in ``state`` when given), oldest first."""
        where, args = (" WHERE state=?", (state,)) if state is not None else ("", ())
        rows = self.con.execute(
            "SELECT batch_id, provider, model, round, state, custom_id, task, dataset, sample_id,"
            f" repeat, request_hash FROM batch_jobs{where} ORDER BY created, batch_id, position",
            args,
        )
        jobs: dict[str, tuple[tuple[str, str, int, str], list[BatchItem]]] = {}
        for bid, provider, model, rnd, st, cid, task, ds, sid, rep, h in rows:
            _, items = jobs.setdefault(bid, ((provider, model, rnd, st), []))
            items.append(BatchItem(cid, task, ds, sid, rep, h))
        return [
            BatchJobRow(bid, p, m, r, st, tuple(items))
            for bid, ((p, m, r, st), items) in jobs.items()
        ]

    # -- audit log --------------------------------------------------------------------------
    def event(self, kind: str, message: str) -> None:
        """Append to the audit log (never a secret: key values are redacted)."""
        self.con.execute("INSERT INTO events VALUES (?,?,?)", (time.time(), kind, redact(message)))

    def events(self) -> list[tuple[float, str, str]]:
        """The audit log in order."""
        return list(self.con.execute("SELECT ts, kind, message FROM events ORDER BY rowid"))
