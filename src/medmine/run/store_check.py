"""Refuse a damaged run database before anything touches it, and salvage what can be read.

A run directory's ``run.sqlite`` holds paid-for answers. An empty or garbled file must never
be silently treated as a new run (every answer would be asked, and paid for, again) nor be
overwritten: :func:`check_store_file` reads it without writing anything (not even SQLite's
``-wal``/``-shm`` side files) and raises :class:`StoreDamaged` naming the file and what to do.
``medmine.run.salvage`` copies every row it can still read into a new file (``medmine doctor``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

SQLITE_HEADER = b"SQLite format 3\x00"
SALVAGE_NAME = "run.salvaged.sqlite"


class StoreDamaged(Exception):
    """The run database exists but cannot be used as it is."""


def _advice(path: Path) -> str:
    return (
        f"Nothing in {path.parent} was changed. Run `medmine doctor {path.parent}` to check it "
        f"and copy every readable row into {path.parent / SALVAGE_NAME}, or move {path.name} "
        "away to start a new run (every answer would then be asked again)."
    )


def _read_only(path: Path) -> sqlite3.Connection:
    """A connection that can write nothing: no journal, no WAL index, no lock files."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True)


def problem_of(path: Path) -> str | None:
    """What is wrong with an existing database file (None when it is a sound SQLite file)."""
    size = path.stat().st_size
    if size == 0:
        return "it is empty (0 bytes), so it holds no answers"
    with path.open("rb") as fh:
        head = fh.read(len(SQLITE_HEADER))
    if head != SQLITE_HEADER:
        return f"it is not a SQLite database (its first bytes are {head[:8]!r})"
    try:
        con = _read_only(path)
        try:
            (verdict,) = con.execute("PRAGMA quick_check(1)").fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        return f"SQLite cannot read it ({exc})"
    if verdict != "ok":
        return f"SQLite's integrity check failed ({verdict})"
    return None


def check_store_file(path: Path) -> None:
    """Raise StoreDamaged (message: the file, the problem, what to do) unless ``path`` is
    absent or a readable SQLite database."""
    if not path.exists():
        return
    why = problem_of(path)
    if why is not None:
        raise StoreDamaged(f"{path}: {why}. {_advice(path)}")
