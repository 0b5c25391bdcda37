"""The checked files of a mined image tree, kept on disk (``<out>/mine_files.sqlite``).

One row per file found under the mined root: its id, its size and modification time, and what
checking it gave (a sample: the image a model is shown, its pixel size, its SHA-256 and the
sample's metadata; or the reason it is skipped). The tree is walked and checked in batches and
each batch is committed at once, so nothing about the archive is held in memory and a killed
run keeps every batch it finished.

**Resume by path + size + mtime.** On a rerun, a file whose id, size and mtime (nanoseconds)
match its row, and whose shown image (for DICOM, the rendered PNG) still has the recorded size
and mtime, is not opened again: its check and its hash come from the row. This is the test
rsync and make use; a content hash would mean reading every byte of a million-image archive on
every resume, which is the cost streaming is meant to avoid. The file's SHA-256 (computed when
it was checked) still goes into every request key, so a file rewritten in place gets a new
key and is asked again; only a rewrite that keeps both size and mtime to the nanosecond would
go unnoticed. Changing a setting that affects the check (``allow_burned_in``,
``include_uids``) re-checks every file.

With anonymized ids the index holds the files' paths (a sample must say where its image
is), like the id <-> path map: it is then ``PRIVATE_mine_files.sqlite``, readable by the user
only, and must not be shared; no output carries a path.

Each run stamps the rows it walks with a new generation; files gone from the tree keep their
old generation and are left out of the outputs.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILENAME = "mine_files.sqlite"
PRIVATE_FILENAME = "PRIVATE_mine_files.sqlite"  # with anonymized ids: it holds the paths

_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY, generation INTEGER NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, reason TEXT, image TEXT, image_size INTEGER,
    image_mtime_ns INTEGER, width INTEGER, height INTEGER, sha256 TEXT, meta TEXT, uids TEXT,
    rel TEXT
);
"""


@dataclass(frozen=True)
class FileRow:
    """What checking one file gave: a sample (``image`` set) or a skip (``reason`` set)."""

    id: str
    size: int
    mtime_ns: int
    reason: str | None = None
    image: str | None = None  # the file a model is shown (the source or its rendered PNG)
    image_size: int = 0
    image_mtime_ns: int = 0
    width: int = 0
    height: int = 0
    sha256: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    uids: dict[str, str] | None = None
    rel: str | None = None  # the relative path, kept only when the id hides it

    @property
    def memo_key(self) -> tuple[str, int, int]:
        """The (path, size, mtime_ns) key under which the shown image's hash is memoised."""
        return (str(self.image), self.image_size, self.image_mtime_ns)


class FileIndex:
    """The checked-files table of one output folder (see the module doc)."""

    def __init__(self, out_dir: Path, settings: dict[str, Any], private: bool = False) -> None:
        """Open (or create) the index; rows checked under other settings are forgotten.
        ``private`` (anonymized ids): the file is named PRIVATE_ and readable by the user only."""
        path = Path(out_dir) / (PRIVATE_FILENAME if private else FILENAME)
        if private and not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.con = sqlite3.connect(path)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.executescript(_SCHEMA)
        wanted = json.dumps(settings, sort_keys=True)
        saved = self.con.execute("SELECT value FROM settings WHERE key='check'").fetchone()
        with self.con:
            if saved is None or saved[0] != wanted:
                self.con.execute("DELETE FROM files")
                self.con.execute("INSERT OR REPLACE INTO settings VALUES ('check', ?)", (wanted,))
            last = self.con.execute("SELECT value FROM settings WHERE key='generation'")
            row = last.fetchone()
            self.generation = int(row[0]) + 1 if row else 1
            self.con.execute(
                "INSERT OR REPLACE INTO settings VALUES ('generation', ?)", (str(self.generation),)
            )

    def close(self) -> None:
        """Close the database."""
        self.con.close()

    def known(self, ident: str, size: int, mtime_ns: int) -> FileRow | None:
        """The row of a file checked before with this very size and mtime, or None."""
        cur = self.con.execute(
            "SELECT * FROM files WHERE id=? AND size=? AND mtime_ns=?", (ident, size, mtime_ns)
        )
        row = cur.fetchone()
        return _row(row) if row is not None else None

    def seen(self, idents: Iterable[str]) -> None:
        """Stamp unchanged files with this run's generation (one transaction)."""
        with self.con:
            self.con.executemany(
                "UPDATE files SET generation=? WHERE id=?", ((self.generation, i) for i in idents)
            )

    def put(self, rows: Iterable[FileRow]) -> None:
        """Record newly checked files (one transaction: a batch is kept whole or not at all)."""
        with self.con:
            self.con.executemany(
                "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    (r.id, self.generation, r.size, r.mtime_ns, r.reason, r.image,
                     r.image_size, r.image_mtime_ns, r.width, r.height, r.sha256,
                     json.dumps(r.meta), json.dumps(r.uids) if r.uids is not None else None,
                     r.rel)
                    for r in rows
                ),
            )  # fmt: skip

    def counts(self) -> tuple[int, int]:
        """(files, samples) found by this run."""
        n, samples = self.con.execute(
            "SELECT COUNT(*), COUNT(image) FROM files WHERE generation=?", (self.generation,)
        ).fetchone()
        return int(n), int(samples)

    def rows(self, samples_only: bool = False, batch: int = 1000) -> Iterator[FileRow]:
        """This run's files in id order, read ``batch`` rows at a time."""
        where = "generation=?" + (" AND image IS NOT NULL" if samples_only else "")
        cur = self.con.cursor()  # its own cursor: callers may query the index meanwhile
        cur.execute(f"SELECT * FROM files WHERE {where} ORDER BY id", (self.generation,))
        while block := cur.fetchmany(batch):
            yield from (_row(r) for r in block)

    def id_map(self) -> Iterator[tuple[str, str]]:
        """(id, relative path) of this run's files whose id hides the path, in id order."""
        cur = self.con.cursor()
        cur.execute(
            "SELECT id, rel FROM files WHERE generation=? AND rel IS NOT NULL ORDER BY id",
            (self.generation,),
        )
        while block := cur.fetchmany(1000):
            yield from block

    def clashing_names(self, suffixes: frozenset[str]) -> set[str]:
        """Ids of this run whose output name (suffix in ``suffixes`` dropped) is shared."""
        stem = _stem_sql(suffixes)
        cur = self.con.execute(
            f"SELECT id FROM files WHERE generation=? AND {stem} IN (SELECT {stem} FROM files"
            f" WHERE generation=? GROUP BY 1 HAVING COUNT(*) > 1)",
            (self.generation, self.generation),
        )
        return {r[0] for r in cur}


def _stem_sql(suffixes: frozenset[str]) -> str:
    """SQL for an id without a known suffix (as :func:`outputs.output_names` strips it)."""
    cases = " ".join(
        f"WHEN lower(id) LIKE '%{s}' THEN substr(id, 1, length(id) - {len(s)})"
        for s in sorted(suffixes)
    )
    return f"(CASE {cases} ELSE id END)"


def _row(row: tuple[Any, ...]) -> FileRow:
    (ident, _gen, size, mtime, reason, image, isize, imtime, w, h, sha, meta, uids, rel) = row
    return FileRow(
        ident, size, mtime, reason, image, isize or 0, imtime or 0, w or 0, h or 0, sha or "",
        json.loads(meta) if meta else {}, json.loads(uids) if uids else None, rel,
    )  # fmt: skip
