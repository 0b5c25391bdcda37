"""A shared cache of task scores keyed by their exact inputs, like the response cache.

Some metrics are slow (METEOR runs a Java process; CIDEr-D and bootstrap intervals take
seconds on large corpora). Scores are a pure function of the task (name, version, prompt
template), the predictions and the samples' targets, so they are cached under a hash of all
of those plus medmine's version: an unchanged rerun reads them back instead of recomputing.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medmine.core import Prediction, Sample, Task, TaskScores
from medmine.run.store import connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    key TEXT PRIMARY KEY, scores TEXT NOT NULL, created REAL NOT NULL
);
"""


def score_key(
    task: Task, fingerprint: str, preds: Sequence[Prediction], samples: Sequence[Sample]
) -> str:
    """The hash of everything a task's scores depend on, fed to the hash a slice at a time
    (a job of 100,000 samples never becomes one string)."""
    from medmine import __version__

    digest = hashlib.sha256()

    def feed(obj: Any) -> None:
        digest.update(_CANONICAL(obj).encode())
        digest.update(b"\n")

    feed(
        {
            "medmine": __version__,
            "task": [task.name, task.version, task.template_hash(), repr(task)],
            "fingerprint": fingerprint,
            "predictions": len(preds),
            "samples": len(samples),
        }
    )
    for start in range(0, len(preds), _SLICE):
        feed([[p.value, p.status.value, p.detail] for p in preds[start : start + _SLICE]])
    for start in range(0, len(samples), _SLICE):
        feed([[s.id, repr(dict(s.targets))] for s in samples[start : start + _SLICE]])
    return digest.hexdigest()[:16]


_SLICE = 1000
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str).encode


def _encode(obj: Any) -> Any:
    """JSON with NaN/inf kept (as strings) so scores round-trip exactly."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_encode(v) for v in obj]
    return obj


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__float__"}:
            return float(obj["__float__"])
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


class ScoreCache:
    """Task scores shared across runs (``scores.sqlite`` in the cache directory)."""

    FILENAME = "scores.sqlite"

    def __init__(self, directory: Path) -> None:
        self.path = directory / self.FILENAME
        self.con = connect(self.path)
        self.con.executescript(SCHEMA)
        self.hits = 0

    def get(self, key: str) -> TaskScores | None:
        """Scores computed before from the very same inputs, if any."""
        row = self.con.execute("SELECT scores FROM scores WHERE key=?", (key,)).fetchone()
        if row is None:
            return None
        d = _decode(json.loads(row[0]))
        self.hits += 1
        return TaskScores(d["metrics"], d["per_sample"], d["headline"], d["tables"])

    def put(self, key: str, scores: TaskScores) -> None:
        """Remember a job's scores (only when they survive a JSON round trip)."""
        blob = {
            "metrics": _encode(scores.metrics),
            "per_sample": scores.per_sample,
            "headline": scores.headline,
            "tables": _encode(scores.tables),
        }
        try:  # per-sample values are rarely non-finite: copied only when they are
            text = json.dumps(blob, allow_nan=False, default=str)
        except ValueError:
            blob["per_sample"] = _encode(scores.per_sample)
            try:
                text = json.dumps(blob, allow_nan=False, default=str)
            except ValueError:
                return  # something JSON cannot carry: recompute next time
        self.con.execute("INSERT OR REPLACE INTO scores VALUES (?,?,?)", (key, text, time.time()))

    def close(self) -> None:
        """Close the database."""
        self.con.close()
