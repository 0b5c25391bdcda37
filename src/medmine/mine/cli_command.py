"""``medmine mine``: its options and closing lines (the work is in mine/command.py).

Imports here stay light: the command's signature is read every time ``medmine`` starts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from medmine.mine.tasks_list import MINING_TASKS

if TYPE_CHECKING:
    from medmine.mine.command import Confirm, MineOutcome, Say


def terminal_confirm(yes: bool) -> Confirm | None:
    """``--yes``: no question. On a terminal: typer.confirm. Otherwise: refuse (ValueError)."""
    if yes:
        return None

    def ask(estimate: object) -> bool:
        if not sys.stdin.isatty():
            raise ValueError(
                "the estimate above needs confirmation but there is no terminal to ask on: "
                "pass --yes to run without asking (e.g. in scripts), after checking the cost"
            )
        return typer.confirm("Send these requests?", default=False)

    return ask


def mine_command(
    path: Annotated[
        Path,
        typer.Argument(help="Folder of images, DICOM tree, image file, or report source."),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Output folder (run.sqlite, results); for reports also LABELS.csv."
        ),
    ],
    task: Annotated[
        str | None,
        typer.Option(
            help=f"What to ask: {', '.join(MINING_TASKS)} (reports: diagnosis, the default)."
        ),
    ] = None,
    column: Annotated[
        str | None, typer.Option(help="Reports: the CSV column holding the report text.")
    ] = None,
    text_field: Annotated[
        str, typer.Option(help="Reports: the JSON/JSONL field holding the report text.")
    ] = "text",
    section: Annotated[
        str, typer.Option(help="Reports: label 'all' the text or the 'impression' section.")
    ] = "all",
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Baseline or preset name (reports: default CheXpert rules)."
        ),
    ] = None,
    labels: Annotated[
        str | None, typer.Option(help="Comma-separated labels (classification) or classes.")
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Structure to segment or locate (e.g. lesion).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm the cost.")] = (
        False
    ),
    max_cost: Annotated[
        float | None, typer.Option(help="Stop once the recorded spend reaches this (USD).")
    ] = None,
    local_only: Annotated[
        bool, typer.Option(help="Refuse cloud backends before anything is sent.")
    ] = False,
    allow_burned_in: Annotated[
        bool, typer.Option(help="Mine DICOM files whose header says BurnedInAnnotation=YES.")
    ] = False,
    include_uids: Annotated[
        bool, typer.Option(help="Write DICOM Study/Series/SOP Instance UIDs to the outputs.")
    ] = False,
    concurrency: Annotated[
        int | None, typer.Option(help="Requests in flight (default: the preset's).")
    ] = None,
    cache: Annotated[bool, typer.Option(help="Use the shared response cache.")] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    presets: Annotated[
        list[Path] | None, typer.Option(help="Extra presets YAML file(s) (repeatable).")
    ] = None,
    id_column: Annotated[
        str | None,
        typer.Option(help="Reports: the CSV column holding each report's id (default: id)."),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(help="Reports: the CSV's text encoding (default: UTF-8, BOM detected)."),
    ] = None,
    anonymize_ids: Annotated[
        bool | None,
        typer.Option(
            "--anonymize-ids/--path-ids",
            help="Images: replace path-derived ids with keyed hashes (default: on for DICOM).",
        ),
    ] = None,
) -> None:
    """Ask a model one question about every image (or report) of an archive; write the answers."""
    from rich.console import Console

    from medmine.mine.command import (
        MiningCancelled,
        is_report_input,
        mine_images,
        mine_report_source,
    )
    from medmine.mine.images import MiningQuestion, parse_labels

    console = Console(stderr=True)

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    options = {
        "say": say,
        "confirm": terminal_confirm(yes),
        "max_cost": max_cost,
        "local_only": local_only,
        "concurrency": concurrency,
        "use_cache": cache,
        "progress": progress,
        "presets": presets or [],
    }
    try:
        _require_input(path)
        if is_report_input(path, out):
            if task not in (None, "diagnosis"):
                raise ValueError(
                    f"{path} holds reports: mining reports runs --task diagnosis "
                    f"(the 14 CheXpert observations), not --task {task}"
                )
            table = out if out.suffix.lower() == ".csv" else None
            outcome = mine_report_source(
                path,
                model,
                out.with_suffix(".run") if table is not None else out,
                table=table,
                reader={
                    "column": column,
                    "text_field": text_field,
                    "section": section,
                    "id_column": id_column,
                    "encoding": encoding,
                },
                **options,  # type: ignore[arg-type]
            )
        else:
            if task is None:
                raise ValueError(f"--task is required to mine images: {', '.join(MINING_TASKS)}")
            if model is None:
                raise ValueError("--model is required to mine images (a baseline or a preset)")
            question = MiningQuestion(task, parse_labels(labels), target)
            outcome = mine_images(
                path,
                question,
                model,
                out,
                allow_burned_in=allow_burned_in,
                include_uids=include_uids,
                anonymize_ids=anonymize_ids,
                **options,  # type: ignore[arg-type]
            )
    except MiningCancelled as exc:
        say(str(exc))
        raise typer.Exit(1) from None
    except (ValueError, FileNotFoundError, ImportError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    _print_outcome(outcome, say)
    if model is not None and (outcome.out_dir / "run.sqlite").exists():
        from medmine.run.verdict import judge

        code = judge([outcome.out_dir], [], Console(stderr=True, soft_wrap=True))
        if code:
            raise typer.Exit(code)


def _require_input(path: Path) -> None:
    """A missing input is named with what a file of its kind should be."""
    from medmine.mine.reports import REPORT_SUFFIXES

    if path.exists():
        return
    if path.suffix.lower() in REPORT_SUFFIXES:
        raise ValueError(f"{path}: not found (expected a report file: CSV, JSON/JSONL, XML, TXT)")
    raise ValueError(
        f"{path}: not found (expected a folder of images, a DICOM tree, an image file or a "
        "report source)"
    )


def _print_outcome(outcome: MineOutcome, say: Say) -> None:
    """The closing lines: statuses, what was asked, the recorded spend, any stop."""
    s = outcome.summary
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(outcome.statuses.items()))
    if counts:
        say(f"statuses: {counts}")
    say(f"asked {s.asked}, from cache {s.from_cache}, already answered {s.resumed}")
    for why in outcome.stopped.values():
        say(f"stopped: {why}; rerun with a higher --max-cost to continue")
    say(f"recorded spend: ${outcome.spent_usd:.4f}")
    for path in outcome.written:
        say(f"wrote {path}")
