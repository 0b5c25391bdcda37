"""The response cache shared across runs: answers keyed by their canonical request hash."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from medmine.core import Response
from medmine.run.writes import WriteBuffer, connect

CACHE_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY, model TEXT NOT NULL, response TEXT NOT NULL, created REAL NOT NULL
);
"""


class ResponseCache:
    """Answers shared across runs, keyed by the canonical request hash (errors never cached).

    New answers are committed in batches like the run's (a lost batch costs only a re-ask);
    until then they are served from memory, so a lookup always sees every answer put before.
    """

    FILENAME = "responses.sqlite"
    PUT = "INSERT OR REPLACE INTO responses VALUES (?,?,?,?)"
    LOOKUP_CHUNK = 500  # keys per SELECT (SQLite allows 999 parameters on old builds)

    def __init__(self, directory: Path) -> None:
        self.path = directory / self.FILENAME
        self.con = connect(self.path)
        self.con.executescript(CACHE_SCHEMA)
        self.writes = WriteBuffer(self.con)
        self._recent: dict[str, Response] = {}  # put but maybe not committed yet

    def get(self, key: str) -> Response | None:
        """The cached answer for a request hash, if any."""
        hit = self._recent.get(key)
        if hit is not None:
            return hit
        row = self.con.execute("SELECT response FROM responses WHERE key=?", (key,)).fetchone()
        return Response.from_json(row[0]) if row else None

    def get_many(self, keys: Iterable[str]) -> dict[str, Response]:
        """Request hash -> cached answer for those of ``keys`` the cache holds (one query per
        ``LOOKUP_CHUNK`` keys instead of one per key)."""
        found: dict[str, Response] = {}
        wanted = []
        for k in dict.fromkeys(keys):
            hit = self._recent.get(k)
            if hit is not None:
                found[k] = hit
            else:
                wanted.append(k)
        for i in range(0, len(wanted), self.LOOKUP_CHUNK):
            part = wanted[i : i + self.LOOKUP_CHUNK]
            marks = ",".join("?" * len(part))
            for k, blob in self.con.execute(
                f"SELECT key, response FROM responses WHERE key IN ({marks})", part
            ):
                found[k] = Response.from_json(blob)
        return found

    def recent(self, key: str) -> Response | None:
        """An answer put during this session (no database read): lets a unit take the answer
        a twin unit with the same request got a moment ago."""
        return self._recent.get(key)

    def put(self, key: str, response: Response, blob: str | None = None) -> None:
        """Cache a successful answer (a failed or truncated one never: it has ``error`` set);
        ``blob`` is ``response.to_json()`` when the caller has it already."""
        if response.error is not None:
            return
        self._recent[key] = response
        blob = response.to_json() if blob is None else blob
        self.writes.add(self.PUT, (key, response.model, blob, time.time()))
        if not self.writes:
            self._recent.clear()  # committed: the database answers from now on

    def flush(self) -> None:
        """Commit the answers waiting in the buffer now."""
        self.writes.flush()
        self._recent.clear()

    def close(self) -> None:
        """Commit what is waiting and close the database."""
        try:
            self.flush()
        finally:
            self.con.close()
