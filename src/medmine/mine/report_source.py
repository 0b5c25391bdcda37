"""Mining a report source with a model or the rule labeler (``medmine mine REPORTS``).

The image side of mining is :mod:`medmine.mine.image_stream`; this module checks the model and
hands the report source to :mod:`medmine.mine.report_stream` (estimate, ask under the budget,
write the table, a chunk at a time) or to the rule labeler.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medmine.mine.chunked import make_mining_executor
from medmine.mine.command import (
    Confirm,
    MineOutcome,
    Say,
    check_local_only,
    check_numbers,
    preflight_model,
    resolve_mining_model,
)
from medmine.mine.images import has_images
from medmine.mine.report_stream import mine_with_model
from medmine.run.runner import RunSummary


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
    executor: str = "local",
    ray_address: str | None = None,
    ray_workers: int | None = None,
) -> MineOutcome:
    """Label a report source into ``table`` (default ``out_dir/labels.csv``) with the report
    miner; ``reader`` holds its options (column, text_field, id_field, layout, section).

    Without a model the rule-based CheXpert labeler runs in process (free, nothing sent). With
    a model, the diagnosis requests are estimated, confirmed and asked here under the cap
    (``max_cost``) into ``out_dir/run.sqlite``; the report miner then writes the table from the
    same store. Everything streams a chunk at a time (:mod:`medmine.mine.report_stream`);
    ``executor="ray"`` has the model answer on Ray actors. When the cap stops the run, no
    table is written yet: rerun with a higher cap.
    """
    from medmine.mine.reports import mine_reports

    source, out_dir = Path(source), Path(out_dir)
    check_numbers(max_cost, concurrency)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir}: is a file; expected a folder")
    table = Path(table) if table is not None else out_dir / "labels.csv"
    reader = dict(reader or {})
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
    runner_executor = make_mining_executor(executor, ray_address, ray_workers)
    try:
        summary, estimate, run, spent = mine_with_model(
            source, reader, model, out_dir, table, max_chars=max_chars, say=say,
            confirm=confirm, max_cost=max_cost, concurrency=concurrency, progress=progress,
            use_cache=use_cache, executor=runner_executor,
        )  # fmt: skip
    finally:
        if runner_executor is not None:
            runner_executor.close()  # type: ignore[attr-defined]
    stopped = dict(run.stopped_models)
    if summary is None:
        return MineOutcome(out_dir, estimate, run, spent, Counter(), [], stopped)
    say(f"{summary.n} report(s) -> {table}")
    return MineOutcome(out_dir, estimate, run, spent, summary.statuses, [table], stopped)


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
