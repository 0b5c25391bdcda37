"""Mining a report source with a model or the rule labeler (``medmine mine REPORTS``).

The image side of mining is :mod:`medmine.mine.command`; this module builds the diagnosis
samples of a report source, estimates and asks them under the budget, and writes the table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medmine.core import Sample
from medmine.mine.command import (
    Confirm,
    MineOutcome,
    Say,
    check_local_only,
    check_numbers,
    plan_and_confirm,
    preflight_model,
    resolve_mining_model,
    run_job,
)
from medmine.mine.images import has_images
from medmine.run.runner import Job, RunSummary
from medmine.run.store import ResponseCache, RunStore


def _report_samples(
    source: Path,
    dataset: str,
    max_chars: int,
    section: str,
    reader: Mapping[str, Any] | None = None,
) -> tuple[list[Sample], int]:
    """The samples the report miner builds for a model (same ids and text, so same requests)."""
    from medmine.core import ObservationsTarget
    from medmine.mine.reports import precheck, read_report_source, text_to_label, unique_ids

    wanted = ("column", "text_field", "id_field", "id_column", "encoding")
    opts = {k: v for k, v in (reader or {}).items() if k in wanted}
    records, _ = read_report_source(source, **opts)
    if not records:
        raise ValueError(f"{source}: holds no report")
    ids = unique_ids([r.id for r in records])
    samples = [
        Sample(
            id=uid,
            dataset=dataset,
            text=text_to_label(rec, section),
            targets={"diagnosis": ObservationsTarget({})},
            category="reports",
        )
        for uid, rec in zip(ids, records, strict=True)
        if precheck(rec, max_chars) is None
    ]
    return samples, len(records)


def mine_report_source(
    source: Path,
    model_name: str | None,
    out_dir: Path,
    *,
    say: Say = print,
    confirm: Confirm | None = None,
    max_cost: float | None = None,
    local_only: bool = False,
    concurrency: int | None = None,
    use_cache: bool = True,
    progress: bool = True,
    presets: Sequence[Path] = (),
    max_chars: int = 20000,
    table: Path | None = None,
    reader: Mapping[str, Any] | None = None,
) -> MineOutcome:
    """Label a report source into ``table`` (default ``out_dir/labels.csv``) with the report
    miner; ``reader`` holds its options (column, text_field, id_field, layout, section).

    Without a model the rule-based CheXpert labeler runs in process (free, nothing sent). With
    a model, the diagnosis requests are estimated, confirmed and asked here under the cap
    (``max_cost``) into ``out_dir/run.sqlite``; the report miner then writes the table from the
    same store (it resumes every answer, asking nothing). When the cap stops the run, no table
    is written yet: rerun with a higher cap.
    """
    from medmine.core import cache_dir
    from medmine.mine.reports import mine_reports
    from medmine.tasks.diagnosis import DiagnosisTask

    source, out_dir = Path(source), Path(out_dir)
    check_numbers(max_cost, concurrency)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir}: is a file; expected a folder")
    table = Path(table) if table is not None else out_dir / "labels.csv"
    reader = dict(reader or {})
    section = str(reader.get("section", "all"))
    if model_name is None:
        summary = mine_reports(source, table, status=say, **reader)
        say(f"{summary.n} report(s) labelled by the CheXpert rules (nothing sent) -> {table}")
        return MineOutcome(out_dir, None, RunSummary(), 0.0, summary.statuses, [table])
    model = resolve_mining_model(model_name, presets)
    if local_only:
        check_local_only(model)
    preflight_model(model)
    supported = getattr(model, "tasks", None)
    if supported is not None and "diagnosis" not in supported:
        raise ValueError(f"model {model_name!r} does not do the diagnosis task")
    dataset = f"mine:{source.name}"
    samples, n_records = _report_samples(source, dataset, max_chars, section, reader)
    task = DiagnosisTask(source="text", max_report_chars=max_chars)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = RunStore(out_dir)
    cache = ResponseCache(cache_dir()) if use_cache else None
    try:
        job = Job(model, task, dataset, samples)
        estimate = plan_and_confirm(store, cache, job, say, confirm)
        runner = run_job(
            store, cache, job, max_cost=max_cost, concurrency=concurrency, progress=progress
        )
        spent = store.spent()
    finally:
        store.close()
        if cache is not None:
            cache.close()
    stopped = dict(runner.summary.stopped_models)
    if stopped:
        return MineOutcome(out_dir, estimate, runner.summary, spent, Counter(), [], stopped)
    summary = mine_reports(
        source,
        table,
        model=model_name,
        run_dir=out_dir,
        progress=False,
        use_cache=use_cache,
        max_chars=max_chars,
        **reader,
    )
    say(f"{n_records} report(s) -> {table}")
    return MineOutcome(out_dir, estimate, runner.summary, spent, summary.statuses, [table], stopped)


# ------------------------------------------------------------------------------ dispatch
def is_report_input(path: Path, out_dir: Path | None = None) -> bool:
    """Reports, not images: a report file, or a report folder that holds no image at all."""
    from medmine.mine.reports import is_report_source

    path = Path(path)
    if not is_report_source(path):
        return False
    if path.is_file():
        return True
    return not has_images(path, exclude=[out_dir] if out_dir is not None else [])
