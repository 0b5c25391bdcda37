"""``medmine mine``: its options and closing lines (the work is in mine/command.py).

Imports here stay light: the command's signature is read every time ``medmine`` starts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from medmine.datasets.dicomweb_archive import is_dicomweb
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
    source: Annotated[
        str,
        typer.Argument(
            help="Folder of images, DICOM tree, image file, report source, or a DICOMweb "
            "archive (dicomweb+http://HOST:PORT/dicom-web).",
            metavar="PATH_OR_URL",
        ),
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
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="Baseline or preset name (reports: default CheXpert rules; repeat for consensus).",
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
    truth: Annotated[
        Path | None, typer.Option(help="Reports: a CSV of true labels; prints P/R/F1 and kappa.")
    ] = None,
    compat: Annotated[
        str | None, typer.Option(help="Reports: 'chexpert' = the original CheXpert rules only.")
    ] = None,
    consensus: Annotated[
        bool, typer.Option(help="Reports: also compare one --model with the rules.")
    ] = False,
    query: Annotated[
        str | None,
        typer.Option(
            help="DICOMweb: filters, e.g. 'Modality=CR&StudyDate=20240101-20240131' "
            "(keys: BodyPartExamined, Modality, SeriesDescription, StudyDate, StudyDescription)."
        ),
    ] = None,
    max_studies: Annotated[
        int | None, typer.Option(help="DICOMweb: mine at most this many studies.")
    ] = None,
    max_per_study: Annotated[
        int | None, typer.Option(help="DICOMweb: at most this many instances per study.")
    ] = None,
    sample: Annotated[
        int | None, typer.Option(help="DICOMweb: a seeded random sample of this many studies.")
    ] = None,
    seed: Annotated[int, typer.Option(help="DICOMweb: the seed of --sample.")] = 0,
    dry_run: Annotated[
        bool,
        typer.Option(help="DICOMweb: print what matches and the cost; fetch and send nothing."),
    ] = False,
    executor: Annotated[
        str, typer.Option(help="Where the model answers: local, or ray (needs the ray extra).")
    ] = "local",
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster address (default: start Ray locally).")
    ] = None,
    ray_workers: Annotated[int | None, typer.Option(help="Ray worker actors.")] = None,
) -> None:
    """Ask a model one question about every image (or report) of an archive; write the answers."""
    from rich.console import Console

    from medmine.mine.command import MiningCancelled
    from medmine.mine.image_stream import mine_images
    from medmine.mine.images import MiningQuestion, parse_labels
    from medmine.mine.report_source import is_report_input

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
    models = list(model or [])
    outcome: MineOutcome | None
    spread = {"executor": executor, "ray_address": ray_address, "ray_workers": ray_workers}
    try:
        if ray_workers is not None and ray_workers < 1:
            raise ValueError(f"--ray-workers must be >= 1, got {ray_workers}")
        if executor not in ("local", "ray"):
            raise ValueError(f"--executor {executor!r}: expected local or ray")
        if executor == "ray" and not models:
            raise ValueError("--executor ray spreads a --model's requests; give a --model")
        if is_dicomweb(source):
            if executor != "local":
                raise ValueError("--executor ray: not available for DICOMweb archives yet")
            outcome = _mine_archive(
                source, task, models, labels, target, out, options,
                query=query, max_studies=max_studies, max_per_study=max_per_study,
                sample=sample, seed=seed, dry_run=dry_run, allow_burned_in=allow_burned_in,
                include_uids=include_uids,
            )  # fmt: skip
            if outcome is None:
                return
        else:
            path = Path(source)
            _require_input(path)
            if is_report_input(path, out):
                if task not in (None, "diagnosis"):
                    raise ValueError(
                        f"{path} holds reports: mining reports runs --task diagnosis "
                        f"(the 14 CheXpert observations), not --task {task}"
                    )
                from medmine.mine.truth_checks import mine_reports_checked

                reader = {
                    "column": column,
                    "text_field": text_field,
                    "section": section,
                    "id_column": id_column,
                    "encoding": encoding,
                }
                outcome = mine_reports_checked(
                    path, models, out, reader, compat, consensus, truth, {**options, **spread}
                )
            else:
                if task is None:
                    raise ValueError(
                        f"--task is required to mine images: {', '.join(MINING_TASKS)}"
                    )
                question = MiningQuestion(task, parse_labels(labels), target)
                outcome = mine_images(
                    path,
                    question,
                    _one_model(models, "images"),
                    out,
                    allow_burned_in=allow_burned_in,
                    include_uids=include_uids,
                    anonymize_ids=anonymize_ids,
                    **spread,  # type: ignore[arg-type]
                    **options,  # type: ignore[arg-type]
                )
    except MiningCancelled as exc:
        say(str(exc))
        raise typer.Exit(1) from None
    except (ValueError, FileNotFoundError, ImportError) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    _print_outcome(outcome, say)
    if models and (outcome.out_dir / "run.sqlite").exists():
        from medmine.run.verdict import judge

        code = judge([outcome.out_dir], [], Console(stderr=True, soft_wrap=True))
        if code:
            raise typer.Exit(code)


def _one_model(models: list[str], what: str) -> str:
    """The single --model mining images needs (several are for reports' consensus only)."""
    if not models:
        raise ValueError(f"--model is required to mine {what} (a baseline or a preset)")
    if len(models) > 1:
        raise ValueError(f"one --model at a time for {what} (several: reports only)")
    return models[0]


def _mine_archive(
    source: str,
    task: str | None,
    models: list[str],
    labels: str | None,
    target: str | None,
    out: Path,
    options: dict[str, object],
    **archive: object,
) -> MineOutcome | None:
    """Mine a DICOMweb archive (see mine/dicomweb_mine.py); None after a dry run."""
    from medmine.datasets.dicomweb_archive import ArchiveQuery
    from medmine.mine.dicomweb_mine import DicomWebOptions, mine_dicomweb
    from medmine.mine.images import MiningQuestion, parse_labels

    if task is None:
        raise ValueError(f"--task is required to mine an archive: {', '.join(MINING_TASKS)}")
    model = _one_model(models, "a DICOMweb archive")
    opts = DicomWebOptions(
        ArchiveQuery.parse(
            archive["query"],  # type: ignore[arg-type]
            max_studies=archive["max_studies"],  # type: ignore[arg-type]
            max_per_study=archive["max_per_study"],  # type: ignore[arg-type]
            sample=archive["sample"],  # type: ignore[arg-type]
            seed=archive["seed"],  # type: ignore[arg-type]
        ),
        dry_run=bool(archive["dry_run"]),
        allow_burned_in=bool(archive["allow_burned_in"]),
        include_uids=bool(archive["include_uids"]),
    )
    question = MiningQuestion(task, parse_labels(labels), target)
    return mine_dicomweb(source, question, model, out, opts, **options)  # type: ignore[arg-type]


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
