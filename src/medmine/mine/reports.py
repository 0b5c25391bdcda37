"""``medmine mine`` for reports: label every report of a collection with the 14 observations.

Input (detected by :func:`read_report_source`): a CSV (a named ``column``, or CheXpert's
headerless one-column layout), JSON / JSON Lines (a text field; an R2Gen ``annotation.json``
too), one ``.txt`` file or a folder of them, Open-i XML (a file or a folder), or a MIMIC-CXR
report tree. Output: a CSV with one row per report and the 14 observations in CheXpert order
as ``1.0`` / ``0.0`` / ``-1.0`` / blank (not mentioned).

Layouts: ``chexpert`` writes exactly what the CheXpert labeler writes (``Reports`` then the
14 columns; per-report statuses go to ``<out stem>.status.csv``); ``full`` writes
``id, report, <14>, status``. ``auto`` (default) picks ``chexpert`` for CheXpert's headerless
CSV input and ``full`` otherwise.

Labeler: by default the rule-based CheXpert labeler, in process. With ``model`` the reports go
through the medmine Runner with the diagnosis task (response cache, resumable run store in
``run_dir``, progress bar). A report that is empty or longer than ``max_chars`` is not labelled
and says so in its status; non-UTF-8 bytes are replaced and noted; the run goes on. A missing
file, an unknown layout or a missing column raises ValueError naming it.
"""

from __future__ import annotations

import asyncio
import csv
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated

import typer

from medmine.chexpert import OBSERVATIONS
from medmine.datasets.report_text import ReportRecord
from medmine.mine.report_labels import (
    LAYOUTS,
    SECTIONS,
    MinedReport,
    MineSummary,
    format_value,
    label_with_rules,
    mined_row,
    precheck,
    text_to_label,
)
from medmine.mine.report_read import (
    _SOURCE_HELP,
    REPORT_SUFFIXES,
    is_report_source,
    read_report_source,
)
from medmine.run.runner import RunSummary

__all__ = [
    "LAYOUTS",
    "REPORT_SUFFIXES",
    "SECTIONS",
    "is_report_source",
    "label_with_model",
    "mine_reports",
    "mined_row",
    "read_report_source",
]


# ------------------------------------------------------------------------------ labelling
def label_with_model(
    records: Sequence[ReportRecord],
    model_name: str,
    run_dir: Path,
    *,
    dataset: str,
    max_chars: int,
    section: str = "all",
    progress: bool = True,
    use_cache: bool = True,
) -> tuple[list[MinedReport], RunSummary]:
    """Label records with a model through the Runner and the diagnosis task (resumable).

    Returns the rows and the runner's summary (asked / from cache / resumed). Raises
    ValueError when the model does not do the diagnosis task.
    """
    from medmine.core import ObservationsTarget, Sample, cache_dir
    from medmine.models.resolve import resolve_model
    from medmine.run.runner import Job, Runner
    from medmine.run.store import ResponseCache, RunStore
    from medmine.tasks.diagnosis import DiagnosisTask

    model = resolve_model(model_name)
    supported = getattr(model, "tasks", None)
    if supported is not None and "diagnosis" not in supported:
        raise ValueError(f"model {model_name!r} does not do the diagnosis task")
    task = DiagnosisTask(source="text", max_report_chars=max_chars)
    ids = unique_ids([r.id for r in records])
    samples = []
    problems: dict[str, str] = {}
    for uid, rec in zip(ids, records, strict=True):
        problem = precheck(rec, max_chars)
        if problem is not None:
            problems[uid] = problem
            continue
        samples.append(
            Sample(
                id=uid,
                dataset=dataset,
                text=text_to_label(rec, section),
                targets={"diagnosis": ObservationsTarget({})},
                category="reports",
            )
        )
    store = RunStore(run_dir)
    cache = ResponseCache(cache_dir()) if use_cache else None
    try:
        store.set_manifest(
            {
                "command": "mine",
                "source": dataset,
                "model": model_name,
                "task": task.name,
                "template_hash": task.template_hash(),
            }
        )
        runner = Runner(store, cache, progress=progress)
        if samples:
            asyncio.run(runner.run([Job(model, task, dataset, samples)]))
        rows = {
            r.sample_id: r for r in store.results(model.name, task.name, dataset) if r.repeat == 0
        }
    finally:
        store.close()
        if cache is not None:
            cache.close()
    out = [
        mined_row(rec, rows.get(uid), problems.get(uid))
        for uid, rec in zip(ids, records, strict=True)
    ]
    return out, runner.summary


def unique_ids(ids: Sequence[str]) -> list[str]:
    """Ids made unique by a ``#n`` suffix on repeats (JSON sources may repeat ids)."""
    seen: Counter[str] = Counter()
    out = []
    for i in ids:
        seen[i] += 1
        out.append(i if seen[i] == 1 else f"{i}#{seen[i]}")
    return out


# ------------------------------------------------------------------------------ writing
def write_mined_csv(rows: Sequence[MinedReport], out: Path, layout: str) -> Path | None:
    """Write the rows in a layout; returns the status file written by ``chexpert``, if any."""
    if layout not in ("chexpert", "full"):
        raise ValueError(f"layout must be 'chexpert' or 'full', got {layout!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        if layout == "chexpert":
            w.writerow(["Reports", *OBSERVATIONS])
        else:
            w.writerow(["id", "report", *OBSERVATIONS, "status"])
        for r in rows:
            cells = [format_value((r.values or {}).get(o)) for o in OBSERVATIONS]
            if layout == "chexpert":
                w.writerow([r.text, *cells])
            else:
                w.writerow([r.id, r.text, *cells, r.status])
    if layout != "chexpert":
        return None
    status_path = out.with_name(f"{out.stem}.status.csv")
    with status_path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "status"])
        w.writerows([r.id, r.status] for r in rows)
    return status_path


# ------------------------------------------------------------------------------ entry points
def mine_reports(
    source: Path,
    out: Path,
    column: str | None = None,
    model: str | None = None,
    run_dir: Path | None = None,
    *,
    text_field: str = "text",
    id_field: str = "id",
    id_column: str | None = None,
    encoding: str | None = None,
    layout: str = "auto",
    section: str = "all",
    max_chars: int = 20000,
    progress: bool = True,
    use_cache: bool = True,
    compat: bool = False,
    status: Callable[[str], None] | None = None,
) -> MineSummary:
    """Label every report of ``source`` and write the table to ``out`` (see the module doc).

    ``model`` None uses the rule-based CheXpert labeler; a model name (a baseline or preset)
    runs the diagnosis task through the Runner, stored in ``run_dir`` (default
    ``<out stem>.run`` next to the output). ``section="impression"`` labels the IMPRESSION
    (else FINDINGS, else the whole text) instead of the whole report.
    """
    source, out = Path(source), Path(out)
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    if section not in SECTIONS:
        raise ValueError(f"section {section!r}: expected one of {', '.join(SECTIONS)}")
    if not isinstance(max_chars, int) or max_chars <= 0:
        raise ValueError(f"max_chars must be a positive integer, got {max_chars!r}")
    if out.exists() and out.is_dir():
        raise ValueError(f"{out}: is a folder; expected the output CSV path")
    if model is None and source.is_file() and source.suffix.lower() in (".csv", ".jsonl"):
        from medmine.mine.stream_csv import mine_csv_rules

        return mine_csv_rules(
            source, out, column, id_column, encoding, layout, section, max_chars, compat, status,
            text_field, id_field,
        )  # fmt: skip
    if model is not None:
        return _mine_with_model(
            source, out, model, run_dir, progress=progress, use_cache=use_cache,
            max_chars=max_chars, status=status,
            reader={"column": column, "text_field": text_field, "id_field": id_field,
                    "id_column": id_column, "encoding": encoding, "layout": layout,
                    "section": section},
        )  # fmt: skip
    if status is not None:
        status(f"reading {source}…")
    records, kind = read_report_source(source, column, text_field, id_field, id_column, encoding)
    if not records:
        raise ValueError(f"{source}: holds no report")
    chosen = layout if layout != "auto" else ("chexpert" if kind == "chexpert_csv" else "full")
    if status is not None:
        status(f"labelling {len(records):,} reports with the CheXpert rules…")
    rows = label_with_rules(records, max_chars, section, status, compat)
    status_file = write_mined_csv(rows, out, chosen)
    statuses = Counter(r.status.split(" ", 1)[0].rstrip(":") for r in rows)
    return MineSummary(out, chosen, len(rows), statuses, status_file)


def _mine_with_model(
    source: Path,
    out: Path,
    model_name: str,
    run_dir: Path | None,
    *,
    reader: dict[str, object],
    progress: bool,
    use_cache: bool,
    max_chars: int,
    status: Callable[[str], None] | None,
) -> MineSummary:
    """Label with a model through the Runner, streamed (see :mod:`medmine.mine.report_stream`);
    the run store is ``run_dir`` (default ``<out stem>.run`` next to the output)."""
    from medmine.mine.report_stream import mine_with_model
    from medmine.models.resolve import resolve_model

    model = resolve_model(model_name)
    supported = getattr(model, "tasks", None)
    if supported is not None and "diagnosis" not in supported:
        raise ValueError(f"model {model_name!r} does not do the diagnosis task")
    used_run_dir = Path(run_dir) if run_dir is not None else out.with_name(f"{out.stem}.run")
    summary, _, run, _ = mine_with_model(
        source, reader, model, used_run_dir, out, max_chars=max_chars,
        say=status or (lambda _: None), confirm=None, max_cost=None, concurrency=None,
        progress=progress, use_cache=use_cache,
    )  # fmt: skip
    if summary is None:  # pragma: no cover - no cap here; a quota stops the run
        stopped = "; ".join(run.stopped_models.values())
        raise ValueError(f"{model_name}: stopped ({stopped}); rerun to continue")
    summary.run_dir = used_run_dir
    summary.asked, summary.from_cache, summary.resumed = run.asked, run.from_cache, run.resumed
    return summary


def mine_reports_command(
    source: Annotated[Path, typer.Argument(help=f"Reports to label: {_SOURCE_HELP}.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output CSV (default: <source>_labeled.csv)."),
    ] = None,
    column: Annotated[
        str | None, typer.Option(help="CSV column holding the report (CSV with a header).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Label with this model (default: CheXpert rules)."),
    ] = None,
    run_dir: Annotated[
        Path | None, typer.Option(help="Run store for --model (default: <out>.run).")
    ] = None,
    text_field: Annotated[str, typer.Option(help="JSON/JSONL field with the report.")] = "text",
    id_field: Annotated[str, typer.Option(help="JSON/JSONL field with the id.")] = "id",
    layout: Annotated[
        str, typer.Option(help="Output layout: auto, chexpert (labeler's CSV) or full.")
    ] = "auto",
    section: Annotated[
        str, typer.Option(help="Label 'all' of the report or its 'impression'.")
    ] = "all",
    max_chars: Annotated[
        int, typer.Option(help="Reports longer than this are not labelled.")
    ] = 20000,
    cache: Annotated[bool, typer.Option(help="Use the shared response cache.")] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Label radiology reports with the 14 CheXpert observations and write a CSV."""
    from rich.console import Console

    console = Console(stderr=True)
    if out is None:
        stem = source.stem if source.is_file() else source.name
        out = source.with_name(f"{stem}_labeled.csv")
    try:
        summary = mine_reports(
            source,
            out,
            column=column,
            model=model,
            run_dir=run_dir,
            text_field=text_field,
            id_field=id_field,
            layout=layout,
            section=section,
            max_chars=max_chars,
            progress=progress,
            use_cache=cache,
        )
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(summary.statuses.items()))
    console.print(f"{summary.n} report(s) -> {summary.out} ({summary.layout} layout; {counts})")
    if summary.status_file is not None:
        console.print(f"statuses: {summary.status_file}")
    if summary.run_dir is not None:
        console.print(f"run store: {summary.run_dir}")
