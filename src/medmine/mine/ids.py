"""Identities of mined files: path-derived ids, or keyed hashes that hide the path.

Folder and file names of clinical archives often hold a patient's name, MRN or accession
number. With anonymized ids, every output (labels, results.jsonl, skipped.csv, run.sqlite,
the rendered PNGs' paths) carries ``f_<16 hex>`` instead: an HMAC-SHA256 of the relative
path under a random key kept next to the outputs (``.id_key``), so the same file gets the
same id on every rerun while the id reveals nothing. The id <-> path map is written to a
separate local file, ``PRIVATE_id_map.csv``, for the user alone; never share it.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

KEY_FILE = ".id_key"
MAP_FILE = "PRIVATE_id_map.csv"


class FileIds:
    """Gives each mined file its id (anonymized or its relative path) and records the map."""

    def __init__(self, out_dir: Path, anonymize: bool, remember: bool = True) -> None:
        """``remember`` False: the caller keeps the id -> path pairs (a streamed walk keeps
        them on disk) and passes them to :meth:`write_map`."""
        self.out_dir = Path(out_dir)
        self.anonymize = anonymize
        self.remember = remember
        self.paths: dict[str, str] = {}
        self._key = self._load_key() if anonymize else b""

    def _load_key(self) -> bytes:
        """The run folder's secret key (created once, readable by the user only)."""
        path = self.out_dir / KEY_FILE
        if path.is_file():
            return bytes.fromhex(path.read_text(encoding="ascii").strip())
        self.out_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key.hex())
        return key

    def id_for(self, rel: str) -> str:
        """The id of the file at relative path ``rel``."""
        if not self.anonymize:
            return rel
        ident = "f_" + hmac.new(self._key, rel.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
        if self.remember:
            self.paths[ident] = rel
        return ident

    def write_map(self, pairs: Iterable[tuple[str, str]] | None = None) -> Path | None:
        """Write the id <-> path map (only when ids were anonymized): the remembered ids, or
        ``pairs`` (id, path) given in id order by a caller that kept them."""
        if not self.anonymize:
            return None
        rows = iter(sorted(self.paths.items())) if pairs is None else iter(pairs)
        first = next(rows, None)
        if first is None:
            return None
        path = self.out_dir / MAP_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["id", "path"])
            writer.writerow(first)
            writer.writerows(rows)
        return path
