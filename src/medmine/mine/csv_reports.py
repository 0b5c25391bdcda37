"""Reports from a CSV with a header: the user's own ids, the file's own encoding.

The id of each report is the CSV's id column (``--id-column``, default ``id`` when the header
has one), so every output can be joined back to the user's table; row numbers are used only
when the file has no id column. The text is decoded strictly: UTF-8 (a byte-order mark is
detected, UTF-16 too) unless ``--encoding`` names another codec; a byte that does not decode
is refused with its line and row, never replaced silently.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

from medmine.datasets.report_text import EMPTY_WARNING, ReportRecord, split_sections

DEFAULT_ID = "id"
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def detect_encoding(data: bytes) -> str:
    """The codec a byte-order mark announces, else UTF-8."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return "utf-8"


def decode(path: Path, data: bytes, encoding: str | None) -> str:
    """The file's text, decoded strictly; ValueError naming the line and row of the first
    byte that does not decode, and what to do."""
    name = encoding or detect_encoding(data)
    try:
        codecs.lookup(name)
    except LookupError:
        raise ValueError(f"--encoding {name!r}: not a text encoding Python knows") from None
    try:
        return data.decode(name)
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        prefix = before.decode(name, errors="replace")
        row = max(0, len(list(csv.reader(io.StringIO(prefix, newline="")))) - 1)
        hint = (
            "give the file's encoding with --encoding (e.g. latin-1 or cp1252)"
            if encoding is None
            else "check --encoding, or fix that row"
        )
        raise ValueError(
            f"{path}: line {line} (data row {max(row, 1)}) is not valid {name}: byte "
            f"0x{data[exc.start]:02x} cannot be decoded; {hint}"
        ) from None


def read_csv_reports(
    path: Path, column: str, id_column: str | None = None, encoding: str | None = None
) -> list[ReportRecord]:
    """One record per data row; other columns go to metadata. ValueError naming the file and
    the problem for a missing column, an empty or repeated id, or undecodable text."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: not found; expected a CSV file with a header row")
    text = decode(path, path.read_bytes(), encoding)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or column not in rows[0]:
        found = ", ".join(rows[0]) if rows else "no header"
        raise ValueError(f"{path}: no column {column!r} in the header ({found})")
    header = rows[0]
    key = id_key(path, header, id_column)
    seen: dict[str, int] = {}
    return [
        row_record(path, header, row, number, key, column, seen)
        for number, row in enumerate(rows[1:], start=1)
    ]


def id_key(path: Path, header: list[str], id_column: str | None) -> str | None:
    """The column holding each report's id (``--id-column``, else ``id`` when present)."""
    if id_column is not None and id_column not in header:
        raise ValueError(
            f"{path}: --id-column {id_column!r} is not in the header ({', '.join(header)})"
        )
    return id_column if id_column is not None else (DEFAULT_ID if DEFAULT_ID in header else None)


def row_record(
    path: Path,
    header: list[str],
    row: list[str],
    number: int,
    key: str | None,
    column: str,
    seen: dict[str, int],
) -> ReportRecord:
    """One data row as a record; an empty or repeated id is refused naming both rows.

    Without an id column the id is the row number (unique by construction, so not kept).
    """
    values = dict(zip(header, row, strict=False))
    ident = str(number - 1) if key is None else values.get(key, "").strip()
    if not ident:
        raise ValueError(f"{path}: data row {number} has no value in id column {key!r}")
    if ident in seen:
        raise ValueError(
            f"{path}: id {ident!r} appears in data rows {seen[ident]} and {number}; ids "
            "must be unique (choose another column with --id-column)"
        )
    if key is not None:
        seen[ident] = number
    report = values.get(column, "")
    notes = [] if len(row) == len(header) else [f"row has {len(row)} of {len(header)} columns"]
    if not report.strip():
        notes.append(EMPTY_WARNING)
    meta = {k: v for k, v in values.items() if k != column}
    return ReportRecord(ident, report, split_sections(report), path, meta, notes)
