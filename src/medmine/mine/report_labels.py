"""Labelling reports with the rule-based CheXpert labeler: the rows ``medmine mine`` writes.

Also the row built from a model's stored answer (:func:`mined_row`). Shared by the whole-file
report miner (:mod:`medmine.mine.reports`) and the streamed CSV
miner (:mod:`medmine.mine.stream_csv`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from medmine.chexpert import OBSERVATIONS, label_report
from medmine.datasets import report_text as rt
from medmine.datasets.report_text import ReportRecord
from medmine.run.store import ResultRow

LAYOUTS = ("auto", "chexpert", "full")
SECTIONS = ("all", "impression")


@dataclass
class MinedReport:
    """One report's row: its id, text, the 14 values (None = blank) and its status."""

    id: str
    text: str
    values: dict[str, float | None] | None
    status: str


@dataclass
class MineSummary:
    """What a mining run wrote: the output paths, the row count and the statuses."""

    out: Path
    layout: str
    n: int
    statuses: Counter[str] = field(default_factory=Counter)
    status_file: Path | None = None
    run_dir: Path | None = None
    asked: int = 0  # with a model: answers asked now, taken from the cache, resumed from run_dir
    from_cache: int = 0
    resumed: int = 0


def text_to_label(record: ReportRecord, section: str) -> str:
    """The text the labeler reads: the whole report, or its impression (then findings)."""
    if section == "impression":
        for name in ("IMPRESSION", "FINDINGS"):
            if record.sections.get(name, "").strip():
                return record.sections[name]
    return record.text


def precheck(record: ReportRecord, max_chars: int) -> str | None:
    """Why a record cannot be labelled (empty, too long, unreadable), or None."""
    if not record.text.strip():
        return "skipped: " + ("; ".join(record.warnings) or rt.EMPTY_WARNING)
    if len(record.text) > max_chars:
        return f"skipped: report too long ({len(record.text)} characters > max_chars={max_chars})"
    return None


def ok_status(record: ReportRecord, extra: str | None = None) -> str:
    notes = [*record.warnings, *([extra] if extra else [])]
    return "ok" + (f" ({'; '.join(notes)})" if notes else "")


def label_with_rules(
    records: Sequence[ReportRecord],
    max_chars: int,
    section: str = "all",
    status: Callable[[str], None] | None = None,
    compat: bool = False,
) -> list[MinedReport]:
    """Label records with the rule-based CheXpert labeler; bad records get a status.
    ``status`` hears how far it got every two seconds (long archives take a while);
    ``compat`` keeps CheXpert's own rules only."""
    out = []
    last = time.monotonic()
    for i, rec in enumerate(records):
        if status is not None and time.monotonic() - last >= 2.0:
            last = time.monotonic()
            status(f"labelled {i:,} of {len(records):,} reports…")
        problem = precheck(rec, max_chars)
        if problem is not None:
            out.append(MinedReport(rec.id, rec.text, None, problem))
            continue
        values = label_report(text_to_label(rec, section), compat=compat)
        out.append(MinedReport(rec.id, rec.text, values, ok_status(rec)))
    return out


def format_value(value: float | None) -> str:
    """A CheXpert cell as the labeler writes it: ``1.0``, ``0.0``, ``-1.0`` or blank."""
    return "" if value is None else repr(float(value))


def mined_row(record: ReportRecord, row: ResultRow | None, problem: str | None) -> MinedReport:
    """One report's table row from its stored answer (``problem``: why it was not asked)."""
    if problem is not None:
        return MinedReport(record.id, record.text, None, problem)
    if row is None:
        return MinedReport(record.id, record.text, None, "error: not answered")
    pred = row.prediction
    values = (pred.value or {}).get("observations") if isinstance(pred.value, dict) else None
    if pred.usable and isinstance(values, dict):
        note = f"repaired: {pred.detail}" if pred.detail else None
        clean = {o: values.get(o) for o in OBSERVATIONS}
        return MinedReport(record.id, record.text, clean, ok_status(record, note))
    return MinedReport(record.id, record.text, None, f"{pred.status.value}: {pred.detail}")
