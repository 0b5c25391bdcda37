"""Label a report source with a model in flat memory: read, ask and write a chunk at a time.

The records are read lazily (a CSV row by row with :mod:`medmine.mine.stream_csv`'s readers,
JSON Lines line by line; the other layouts, whose files hold one archive's folder or one JSON
document, are read whole as before) and turned into diagnosis samples a chunk at a time. The
chunks are estimated, confirmed and asked through the Runner by :mod:`medmine.mine.chunked`
(store, cache, resume, budget and executor as in ``medmine run``), and the label table is
then written by reading the source again and the answers of each chunk back from the store
(``RunStore.results_for``). Each row is built by :func:`medmine.mine.report_labels.mined_row`, the
same function the in-memory :func:`medmine.mine.reports.label_with_model` uses, so the table is
the same byte for byte.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from medmine.chexpert import OBSERVATIONS
from medmine.core import Model, ObservationsTarget, Sample
from medmine.datasets.report_text import ReportRecord
from medmine.mine.chunked import chunked
from medmine.mine.estimate import CostEstimate
from medmine.mine.report_labels import MineSummary, precheck, text_to_label
from medmine.run.runner import Executor, RunSummary
from medmine.run.store import RunStore

ReaderOptions = Mapping[str, Any]


def stream_records(source: Path, reader: ReaderOptions) -> tuple[Iterator[ReportRecord], str]:
    """The records of a report source, read lazily where the layout allows, and its kind."""
    from medmine.datasets.report_text import jsonl_records
    from medmine.mine.report_read import read_report_source
    from medmine.mine.stream_csv import _headed, _headerless

    source = Path(source)
    suffix = source.suffix.lower() if source.is_file() else ""
    column = reader.get("column")
    if suffix == ".csv":
        if column is None:
            return _headerless(source), "chexpert_csv"
        return _headed(source, column, reader.get("id_column"), reader.get("encoding")), "csv"
    if suffix == ".jsonl":
        text_field, id_field = reader.get("text_field", "text"), reader.get("id_field", "id")
        return jsonl_records(source, text_field, id_field), "json"
    wanted = ("column", "text_field", "id_field", "id_column", "encoding")
    records, kind = read_report_source(source, **{k: reader[k] for k in wanted if k in reader})
    return iter(records), kind


def unique_records(
    records: Iterator[ReportRecord], kind: str
) -> Iterator[tuple[str, ReportRecord]]:
    """(unique id, record): repeats get ``#n`` as :func:`medmine.mine.reports.unique_ids` does.
    Headerless CSV ids are row numbers and a headed CSV refuses repeats, so only the other
    layouts keep a count of the ids seen."""
    if kind in ("chexpert_csv", "csv"):
        yield from ((r.id, r) for r in records)
        return
    seen: Counter[str] = Counter()
    for rec in records:
        seen[rec.id] += 1
        yield (rec.id if seen[rec.id] == 1 else f"{rec.id}#{seen[rec.id]}"), rec


def report_chunks(
    source: Path, reader: ReaderOptions, dataset: str, max_chars: int, counter: Counter[str]
) -> Iterator[list[Sample]]:
    """The diagnosis samples of the source a chunk at a time (reports that fail the precheck
    are left out, as the report miner leaves them out); ``counter["records"]`` counts all."""
    section = str(reader.get("section", "all"))
    records, kind = stream_records(source, reader)

    def samples() -> Iterator[Sample]:
        for uid, rec in unique_records(records, kind):
            counter["records"] += 1
            if precheck(rec, max_chars) is None:
                yield Sample(
                    id=uid,
                    dataset=dataset,
                    text=text_to_label(rec, section),
                    targets={"diagnosis": ObservationsTarget({})},
                    category="reports",
                )

    yield from chunked(samples())


def write_table(
    source: Path,
    reader: ReaderOptions,
    store: RunStore,
    model: Model,
    dataset: str,
    table: Path,
    max_chars: int,
) -> MineSummary:
    """Write the label table from the source and the stored answers, a chunk at a time (to
    ``<table>.partial`` first, renamed into place once whole)."""
    from medmine.mine.report_labels import LAYOUTS, mined_row
    from medmine.mine.stream_csv import _row

    layout = str(reader.get("layout", "auto"))
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    records, kind = stream_records(source, reader)
    chosen = layout if layout != "auto" else ("chexpert" if kind == "chexpert_csv" else "full")
    finals = [table] + (
        [table.with_name(f"{table.stem}.status.csv")] if chosen == "chexpert" else []
    )
    partials = [p.with_name(p.name + ".partial") for p in finals]
    table.parent.mkdir(parents=True, exist_ok=True)
    handles = [p.open("w", encoding="utf-8", newline="") for p in partials]
    writers = [csv.writer(h, lineterminator="\n") for h in handles]
    if chosen == "chexpert":
        writers[0].writerow(["Reports", *OBSERVATIONS])
        writers[1].writerow(["id", "status"])
    else:
        writers[0].writerow(["id", "report", *OBSERVATIONS, "status"])
    statuses: Counter[str] = Counter()
    n = 0
    try:
        for part in chunked(unique_records(records, kind)):
            answers = store.results_for(model.name, "diagnosis", dataset, [u for u, _ in part])
            for uid, rec in part:
                row = mined_row(rec, answers.get(uid), precheck(rec, max_chars))
                writers[0].writerow(_row(row, chosen))
                if chosen == "chexpert":
                    writers[1].writerow([row.id, row.status])
                statuses[row.status.split(" ", 1)[0].rstrip(":")] += 1
            n += len(part)
    finally:
        for h in handles:
            h.close()
    for p, f in zip(partials, finals, strict=True):
        os.replace(p, f)
    return MineSummary(table, chosen, n, statuses, finals[1] if chosen == "chexpert" else None)


def mine_with_model(
    source: Path,
    reader: ReaderOptions,
    model: Model,
    run_dir: Path,
    table: Path,
    *,
    max_chars: int,
    say: Callable[[str], None],
    confirm: Callable[[CostEstimate], bool] | None,
    max_cost: float | None,
    concurrency: int | None,
    progress: bool,
    use_cache: bool,
    executor: Executor | None = None,
) -> tuple[MineSummary | None, CostEstimate, RunSummary, float]:
    """Estimate, confirm, ask (chunk by chunk, into ``run_dir/run.sqlite``) and write the
    table; returns the table's summary (None when the cap or a quota stopped the run: no
    table yet, rerun to continue), the estimate, the run summary and the recorded spend."""
    from medmine.core import cache_dir
    from medmine.mine.chunked import ask_chunks, plan_chunks
    from medmine.mine.report_labels import LAYOUTS, SECTIONS
    from medmine.run.store import ResponseCache
    from medmine.tasks.diagnosis import DiagnosisTask

    if str(reader.get("layout", "auto")) not in LAYOUTS:
        raise ValueError(f"layout {reader['layout']!r}: expected one of {', '.join(LAYOUTS)}")
    if str(reader.get("section", "all")) not in SECTIONS:
        raise ValueError(f"section {reader['section']!r}: expected one of {', '.join(SECTIONS)}")
    source, run_dir = Path(source), Path(run_dir)
    dataset = f"mine:{source.name}"
    task = DiagnosisTask(source="text", max_report_chars=max_chars)
    run_dir.mkdir(parents=True, exist_ok=True)
    store = RunStore(run_dir)
    cache = ResponseCache(cache_dir()) if use_cache else None
    counter: Counter[str] = Counter()
    try:
        store.set_manifest(
            {
                "command": "mine",
                "source": dataset,
                "model": model.name,
                "task": task.name,
                "template_hash": task.template_hash(),
            }
        )
        chunks = report_chunks(source, reader, dataset, max_chars, counter)
        estimate = plan_chunks(store, cache, model, task, dataset, chunks, say, confirm)
        if not counter["records"]:
            raise ValueError(f"{source}: holds no report")
        counter.clear()
        chunks = report_chunks(source, reader, dataset, max_chars, counter)
        runner = ask_chunks(
            store, cache, model, task, dataset, chunks, max_cost=max_cost,
            concurrency=concurrency, progress=progress, executor=executor,
        )  # fmt: skip
        if executor is not None:
            store.set_manifest({"executor": executor.summary()})  # type: ignore[attr-defined]
        spent = store.spent()
        if runner.summary.stopped_models:
            return None, estimate, runner.summary, spent
        summary = write_table(source, reader, store, model, dataset, table, max_chars)
    finally:
        store.close()
        if cache is not None:
            cache.close()
    return summary, estimate, runner.summary, spent
