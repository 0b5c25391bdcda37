"""Label a report CSV (or JSON Lines file) with the CheXpert rules in bounded memory, writing as
it goes, resumable.

The CSV is read row by row (never whole), labelled in chunks of :data:`CHUNK` reports (in
``workers`` processes when asked), and each chunk's rows are appended to ``<out>.partial``
(and ``<out stem>.status.csv.partial`` for the ``chexpert`` layout). After every chunk a small
``<out>.progress.json`` records how many reports are written and the byte length of each
partial file; a run killed at any moment resumes from there with the same command (a torn
last chunk is cut back to the recorded length), and the finished files are renamed into place.

Records are built exactly as the whole-file readers build them
(:func:`medmine.datasets.report_text.read_chexpert_csv` for the headerless layout,
:func:`medmine.mine.csv_reports.read_csv_reports` with ``column``), so the output is the
same byte for byte; only memory differs (ids of a headed CSV are kept to refuse repeats).
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path

from medmine.chexpert import OBSERVATIONS
from medmine.core.parallel import process_context
from medmine.datasets.report_text import (
    _CHEXPERT_LAYOUT,
    EMPTY_WARNING,
    NON_UTF8_WARNING,
    ReportRecord,
    decodes_strictly,
    jsonl_records,
    split_sections,
)
from medmine.mine.csv_reports import detect_encoding, id_key, row_record
from medmine.mine.report_labels import MinedReport, MineSummary, format_value, label_with_rules

STREAM_WORKERS_ABOVE = 8 << 20  # CSV bytes above which two processes label (pool start-up)
CHUNK = 2000  # reports labelled and written at a time


def _headerless(path: Path) -> Iterator[ReportRecord]:
    """Records of a headerless CheXpert CSV, as ``read_chexpert_csv(path)`` makes them."""
    bad = not decodes_strictly(path, "utf-8-sig")
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        for index, row in enumerate(csv.reader(fh)):
            if len(row) > 1:
                columns = f"row {index + 1} has {len(row)} columns"
                raise ValueError(f"{path}: {columns}; expected {_CHEXPERT_LAYOUT}")
            text = row[0] if row else ""
            notes = []
            if bad and "\ufffd" in text:
                notes.append(NON_UTF8_WARNING)
            if not text.strip():
                notes.append(EMPTY_WARNING)
            yield ReportRecord(str(index), text, split_sections(text), path, {}, notes)


def _headed(
    path: Path, column: str, id_column: str | None, encoding: str | None
) -> Iterator[ReportRecord]:
    """Records of a CSV with a header, as ``read_csv_reports`` makes them (same errors)."""
    with path.open("rb") as fh:
        name = encoding or detect_encoding(fh.read(4))
    try:
        codecs.lookup(name)
    except LookupError:
        raise ValueError(f"--encoding {name!r}: not a text encoding Python knows") from None
    if not decodes_strictly(path, name):
        from medmine.mine.csv_reports import read_csv_reports

        read_csv_reports(path, column, id_column, encoding)  # raises with the line and row
        raise ValueError(f"{path}: is not valid {name}")  # pragma: no cover (raised above)
    with path.open(encoding=name, newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows, None)
        if not header or column not in header:
            found = ", ".join(header) if header else "no header"
            raise ValueError(f"{path}: no column {column!r} in the header ({found})")
        key = id_key(path, header, id_column)
        seen: dict[str, int] = {}
        for number, row in enumerate(rows, start=1):
            yield row_record(path, header, row, number, key, column, seen)


def _chunks(records: Iterator[ReportRecord], size: int) -> Iterator[list[ReportRecord]]:
    chunk: list[ReportRecord] = []
    for rec in records:
        chunk.append(rec)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _label_chunk(args: tuple[list[ReportRecord], int, str, bool]) -> list[MinedReport]:
    """Label one chunk (runs in a worker process when there are several)."""
    records, max_chars, section, compat = args
    return label_with_rules(records, max_chars, section, None, compat)


def _bounded(
    pool: Pool, jobs: Iterator[tuple[list[ReportRecord], int, str, bool]], ahead: int
) -> Iterator[list[MinedReport]]:
    """Chunks labelled by the pool in input order, with at most ``ahead`` in flight (a
    ``Pool.imap`` would read the whole input into its queue)."""
    flying: deque[AsyncResult[list[MinedReport]]] = deque()
    for job in jobs:
        flying.append(pool.apply_async(_label_chunk, (job,)))
        if len(flying) >= ahead:
            yield flying.popleft().get()
    while flying:
        yield flying.popleft().get()


class _Progress:
    """The resume point: reports written and each partial file's length, tied to the input."""

    def __init__(self, out: Path, source: Path, settings: dict[str, object]) -> None:
        self.path = out.with_name(out.name + ".progress.json")
        stat = source.stat()
        self.identity = {
            "source": str(source.resolve()),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            **settings,
        }

    def load(self) -> tuple[int, list[int], Counter[str]] | None:
        """Reports done, partial lengths and statuses so far, or None to start afresh."""
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if saved.get("identity") != self.identity:
            return None
        return int(saved["done"]), list(saved["lengths"]), Counter(saved["statuses"])

    def save(self, done: int, lengths: list[int], statuses: Counter[str]) -> None:
        tmp = self.path.with_suffix(".tmp")
        state = {"identity": self.identity, "done": done, "lengths": lengths}
        tmp.write_text(json.dumps({**state, "statuses": statuses}), encoding="utf-8")
        os.replace(tmp, self.path)


def _row(r: MinedReport, layout: str) -> list[str]:
    cells = [format_value((r.values or {}).get(o)) for o in OBSERVATIONS]
    return [r.text, *cells] if layout == "chexpert" else [r.id, r.text, *cells, r.status]


def mine_csv_stream(
    source: Path,
    out: Path,
    layout: str,
    *,
    column: str | None = None,
    id_column: str | None = None,
    encoding: str | None = None,
    section: str = "all",
    max_chars: int = 20000,
    compat: bool = False,
    workers: int = 1,
    status: Callable[[str], None] | None = None,
    text_field: str = "text",
    id_field: str = "id",
) -> tuple[int, Counter[str], Path | None]:
    """Label every report of a CSV into ``out`` (layout ``chexpert`` or ``full``); returns the
    report count, the statuses and the status file (``chexpert`` layout). Resumes a killed run.
    """
    if source.suffix.lower() == ".jsonl":
        records: Iterator[ReportRecord] = jsonl_records(source, text_field, id_field)
    elif column is None:
        records = _headerless(source)
    else:
        records = _headed(source, column, id_column, encoding)
    first = next(records, None)
    if first is None:
        raise ValueError(f"{source}: holds no report")
    out.parent.mkdir(parents=True, exist_ok=True)
    finals = [out] + ([out.with_name(f"{out.stem}.status.csv")] if layout == "chexpert" else [])
    partials = [p.with_name(p.name + ".partial") for p in finals]
    settings = {"layout": layout, "column": column, "id_column": id_column,
                "encoding": encoding, "section": section, "max_chars": max_chars,
                "compat": compat, "text_field": text_field, "id_field": id_field}  # fmt: skip
    progress = _Progress(out, source, settings)
    resumed = progress.load()
    if resumed is not None and all(p.exists() for p in partials):
        done, lengths, statuses = resumed
        for p, n in zip(partials, lengths, strict=True):
            with p.open("r+b") as fh:
                fh.truncate(n)  # drop a chunk torn by the kill
        mode = "a"
    else:
        done, statuses, mode = 0, Counter(), "w"
    handles = [p.open(mode, encoding="utf-8", newline="") for p in partials]
    writers = [csv.writer(h, lineterminator="\n") for h in handles]
    if mode == "w":
        if layout == "chexpert":
            writers[0].writerow(["Reports", *OBSERVATIONS])
            writers[1].writerow(["id", "status"])
        else:
            writers[0].writerow(["id", "report", *OBSERVATIONS, "status"])
    elif status is not None:
        status(f"resuming after {done:,} reports already written to {partials[0]}")

    def rest() -> Iterator[ReportRecord]:
        yield first
        yield from records

    stream = rest()
    for _ in range(done):  # already written: read past them (ids still checked)
        next(stream, None)
    jobs = ((c, max_chars, section, compat) for c in _chunks(stream, CHUNK))
    pool = process_context().Pool(workers) if workers > 1 else None
    labelled = _bounded(pool, jobs, 2 * workers) if pool is not None else map(_label_chunk, jobs)
    last = time.monotonic()
    try:
        for rows in labelled:
            for r in rows:
                writers[0].writerow(_row(r, layout))
                if layout == "chexpert":
                    writers[1].writerow([r.id, r.status])
                statuses[r.status.split(" ", 1)[0].rstrip(":")] += 1
            done += len(rows)
            for h in handles:
                h.flush()
            progress.save(done, [h.tell() for h in handles], statuses)
            if status is not None and time.monotonic() - last >= 2.0:
                last = time.monotonic()
                status(f"labelled {done:,} reports…")
    finally:
        if pool is not None:
            pool.terminate()
        for h in handles:
            h.close()
    for p, f in zip(partials, finals, strict=True):
        os.replace(p, f)
    progress.path.unlink(missing_ok=True)
    return done, statuses, finals[1] if layout == "chexpert" else None


def mine_csv_rules(
    source: Path,
    out: Path,
    column: str | None,
    id_column: str | None,
    encoding: str | None,
    layout: str,
    section: str,
    max_chars: int,
    compat: bool,
    status: Callable[[str], None] | None,
    text_field: str = "text",
    id_field: str = "id",
) -> MineSummary:
    """A CSV (or JSON Lines file) with the rule labeler: streamed in bounded memory, written as
    it goes, resumable (see :mod:`medmine.mine.stream_csv`); two processes label large files
    when the machine has two cores or more."""
    headerless = column is None and source.suffix.lower() == ".csv"
    chosen = layout if layout != "auto" else ("chexpert" if headerless else "full")
    big = source.stat().st_size > STREAM_WORKERS_ABOVE
    workers = min(2, os.cpu_count() or 1) if big else 1
    if status is not None:
        status(f"labelling {source} with the CheXpert rules ({workers} process(es))…")
    n, statuses, status_file = mine_csv_stream(
        source, out, chosen, column=column, id_column=id_column, encoding=encoding,
        section=section, max_chars=max_chars, compat=compat, workers=workers, status=status,
        text_field=text_field, id_field=id_field,
    )  # fmt: skip
    return MineSummary(out, chosen, n, statuses, status_file)
