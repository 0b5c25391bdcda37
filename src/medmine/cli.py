"""The ``medmine`` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from medmine.cli_help import plain_help
from medmine.cli_lazy import LazyTyper, add_heavy_commands, eager_only, needs_lazy

app = LazyTyper(
    help="Evaluate multimodal LLMs on medical images and free-text radiology reports.",
    no_args_is_help=True,
    add_completion=False,
)
datasets_app = typer.Typer(help="The dataset catalog.", no_args_is_help=True)
models_app = typer.Typer(help="Models: baselines and presets.", no_args_is_help=True)
tasks_app = typer.Typer(help="Task kinds.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
app.add_typer(models_app, name="models")
app.add_typer(tasks_app, name="tasks")

console = Console()
if not console.is_terminal:  # logs and pipes: wide enough for a leaderboard row
    console = Console(width=160)
err = Console(stderr=True, soft_wrap=True)  # error messages are never hard-wrapped


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(2)


@app.command()
def run(
    suite: Annotated[
        str, typer.Argument(help="A built-in suite (demo, study) or a suite YAML file.")
    ] = "demo",
    suite_option: Annotated[
        str | None, typer.Option("--suite", help="Same as the SUITE argument.")
    ] = None,
    model: Annotated[
        list[str],
        typer.Option(
            "--model",
            "-m",
            help="Only these models (the suite's baselines run too, as the reference).",
        ),
    ] = [],  # noqa: B006
    task: Annotated[list[str], typer.Option("--task", "-t", help="Only these tasks.")] = [],  # noqa: B006
    dataset: Annotated[
        list[str], typer.Option("--dataset", "-d", help="Only these datasets.")
    ] = [],  # noqa: B006
    limit: Annotated[
        int | None, typer.Option(help="At most N test samples per dataset (seeded).")
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight per model.")] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory (default runs/SUITE).")] = None,
    data_root: Annotated[
        Path | None, typer.Option(help="Folder holding downloaded datasets.")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not use the shared response cache.")
    ] = False,
    ack_data_use: Annotated[
        list[str],
        typer.Option(
            "--ack-data-use",
            help="DATASET=PROVIDER: your data-use agreement permits sending DATASET to PROVIDER.",
        ),
    ] = [],  # noqa: B006
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    max_cost: Annotated[
        float | None, typer.Option(help="Stop sending when the recorded spend reaches USD.")
    ] = None,
    executor: Annotated[
        str,
        typer.Option(
            help=escape("Where models answer: local, or ray (pip install 'medmine[ray]').")
        ),
    ] = "local",
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster address (default: start Ray locally).")
    ] = None,
    ray_workers: Annotated[int | None, typer.Option(help="Ray worker actors per model.")] = None,
    batch: Annotated[
        bool,
        typer.Option(
            help="Ask cloud models through their providers' batch APIs (cheaper; latency not "
            "comparable). Rerun the same command to collect results."
        ),
    ] = False,
    structured: Annotated[
        bool,
        typer.Option(help="Use providers' native JSON-schema output modes (else prompt-only)."),
    ] = False,
    shots: Annotated[
        int | None,
        typer.Option(help="Also run K-shot prompting: K worked examples from the support split."),
    ] = None,
    prompt: Annotated[
        list[str],
        typer.Option(help="Also run this prompt strategy (zero_shot, few_shot, cot), own column."),
    ] = [],  # noqa: B006
    judge: Annotated[
        str | None, typer.Option(help="A model preset that judges generated reports (GREEN-style).")
    ] = None,
    judge_truth: Annotated[
        Path | None,
        typer.Option(help="Human ratings CSV (model, sample_id, rating)."),
    ] = None,
    judge_repeats: Annotated[
        int | None, typer.Option(min=1, help="Times the judge grades each report (default 2).")
    ] = None,
) -> None:
    """Run (or resume) a suite, then print its leaderboard. Rerun the same command to resume.

    Exits 1 when a requested model produced no usable answer or medmine itself failed."""
    _check_numbers(limit=limit, concurrency=concurrency, ray_workers=ray_workers)
    if max_cost is not None and max_cost < 0:
        raise _fail(f"--max-cost must be 0 or more (US dollars), got {max_cost}")
    name = suite_option or suite
    err.print(f"medmine run: suite {escape(name)} (loading…)", highlight=False)
    from medmine.cli_run import run_and_report
    from medmine.run.execute import RunOptions
    from medmine.run.store_check import StoreDamaged
    from medmine.run.suite import SuiteError, load_suite, with_prompting

    try:
        cfg = with_prompting(load_suite(name), shots, prompt)
    except SuiteError as exc:
        raise _fail(str(exc)) from None
    if structured:
        cfg.settings.structured = True
    run_dir = out or Path("runs") / cfg.name
    opts = RunOptions(
        out=run_dir,
        models=model,
        tasks=task,
        datasets=dataset,
        limit=limit,
        concurrency=concurrency,
        use_cache=not no_cache,
        progress=progress,
        data_root=data_root,
        acknowledge_data_use=ack_data_use,
        max_cost=max_cost,
        executor=executor,
        executor_options={"address": ray_address, "workers": ray_workers},
        batch=batch,
        judge=judge,
        judge_truth=judge_truth,
        judge_repeats=judge_repeats,
    )
    try:
        code = run_and_report(cfg, opts, console, err, data_root)
    except KeyboardInterrupt:  # outside asking (loading, scoring, reporting): nothing is lost
        from medmine.run.verdict import resume_command

        err.print(
            f"stopped by Ctrl-C. Every answer recorded so far is in {run_dir / 'run.sqlite'}; "
            f"resume with: {escape(resume_command())}"
        )
        raise typer.Exit(130) from None
    except StoreDamaged as exc:
        raise _fail(str(exc)) from None
    except (ValueError, FileNotFoundError, PermissionError) as exc:
        raise _fail(str(exc)) from None
    if code:
        raise typer.Exit(code)


def _check_numbers(**values: int | None) -> None:
    """Numeric options that count things must be at least 1 (None: not given)."""
    for name, value in values.items():
        if value is not None and value < 1:
            flag = "--" + name.replace("_", "-")
            raise _fail(f"{flag} must be a whole number of at least 1, got {value}")


@app.command()
def report(
    run_dirs: Annotated[list[Path], typer.Argument(help="One or more run directories.")],
    out: Annotated[
        Path | None, typer.Option(help="Report folder (default RUN_DIR/report).")
    ] = None,
    gallery: Annotated[int, typer.Option(help="Gallery cases per task (best, worst, random).")] = 6,
    seed: Annotated[int, typer.Option(help="Seed for the gallery's random cases.")] = 0,
    data_root: Annotated[
        Path | None, typer.Option(help="Where the run's datasets live (for gallery images).")
    ] = None,
) -> None:
    """Leaderboards in the terminal, and a self-contained HTML report with Markdown, CSV and
    LaTeX tables; several run directories are merged into one comparison. Exits 1 when a
    model in them has no valid answers or medmine failed."""
    from medmine.report.build import build_report, display_names
    from medmine.report.leaderboard import (
        load_leaderboard,
        merge_leaderboards,
        render_terminal,
        write_reports,
    )
    from medmine.run.store_check import StoreDamaged
    from medmine.run.verdict import judge

    boards = []
    for run_dir, label in zip(run_dirs, display_names(run_dirs), strict=True):
        try:
            board = load_leaderboard(run_dir)
        except (FileNotFoundError, StoreDamaged) as exc:
            raise _fail(str(exc)) from None
        write_reports(board, run_dir)
        boards.append((label, board))
    # Several runs: one table with every row of every run (names suffixed where they repeat).
    render_terminal(boards[0][1] if len(boards) == 1 else merge_leaderboards(boards), console)
    target = out or run_dirs[0] / "report"
    try:
        paths = build_report(
            run_dirs, target, gallery_per_task=gallery, seed=seed, data_root=data_root
        )
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    console.print("wrote " + ", ".join(str(p) for p in paths.values()))
    code = judge(run_dirs, [], err)  # exit 1 when a model has no valid answers
    if code:
        raise typer.Exit(code)


@datasets_app.command("list")
def datasets_list(
    data_root: Annotated[
        Path | None, typer.Option(help="Folder holding downloads: shows which are found.")
    ] = None,
) -> None:
    """Datasets medmine knows: the built-in synthetic demo and the catalog of real datasets."""
    from medmine.datasets.catalog import find_dataset, list_entries
    from medmine.datasets.sources import BUILTIN

    table = Table(title="datasets")
    for col in ("name", "category", "tasks", "access", "licence", "found"):
        table.add_column(col, overflow="fold")
    for name in BUILTIN:
        table.add_row(
            name,
            name.removeprefix("demo-"),
            "all it can serve",
            "built-in",
            "synthetic",
            "generated",
        )
    for e in list_entries():
        found = "—"
        if data_root is not None:
            path = find_dataset(e.name, data_root)
            found = str(path) if path else "no"
        table.add_row(e.name, e.category, ", ".join(e.tasks), e.access, e.licence, found)
    console.print(table)


@datasets_app.command("check")
def datasets_check(
    name: Annotated[str, typer.Argument(help="Catalog name of the dataset.")],
    path: Annotated[Path, typer.Argument(help="Folder holding its official download.")],
) -> None:
    """Validate a download: layout, counts, every image and mask opened, the fingerprint."""
    from medmine.datasets.catalog import get_entry
    from medmine.datasets.check import check_dataset

    try:
        get_entry(name)
        report = check_dataset(name, path)
    except (KeyError, ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    console.print(report.to_text(), markup=False, highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@models_app.command("list")
def models_list() -> None:
    """Baselines and model presets, with modality, price and whether credentials are set."""
    from medmine.cli_listing import baseline_rows

    table = Table(title="models")
    for col in ("name", "provider", "modality", "price in/out $/Mtok (read on)", "credentials"):
        table.add_column(col)
    for row in baseline_rows():
        tasks = ", ".join(row["tasks"]) or "all"
        default = " (default)" if row["default"] else ""
        table.add_row(
            escape(f"{row['name']}{default} [{tasks}]"),
            "baseline",
            row["modality"],
            "0 / 0",
            "not needed",
        )
    from medmine.models.presets import credentials_present, load_presets
    from medmine.models.resolve import user_preset_files

    for p in load_presets(user_preset_files()).values():
        price = (
            f"{p.price_input_per_mtok} / {p.price_output_per_mtok} ({p.price_date})"
            if p.price_input_per_mtok is not None
            else "unknown"
        )
        creds = "set" if credentials_present(p) else f"missing ({p.api_key_env})"
        if not p.api_key_env:
            creds = "not needed"
        table.add_row(p.name, p.provider, p.modality, price, creds)
    console.print(table)


@tasks_app.command("list")
def tasks_list() -> None:
    """Registered task kinds."""
    from medmine.cli_listing import task_rows

    table = Table(title="tasks")
    table.add_column("name")
    table.add_column("version")
    table.add_column("description")
    for row in task_rows():
        table.add_row(row["name"], row["version"], row["description"])
    console.print(table)


@app.command("parse")
def parse_answers(
    task: Annotated[str, typer.Argument(help="classification, localization or detection.")],
    file: Annotated[Path, typer.Argument(help="JSONL: id, answer, dataset|labels[, width...].")],
    out: Annotated[Path | None, typer.Option(help="Write JSONL here (default stdout).")] = None,
) -> None:
    """Read model answers with a task's reader, asking no model (see tasks/answer_file.py)."""
    from medmine.tasks.answer_file import parse_file

    try:
        counts = parse_file(task, file, out)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    err.print("read: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


@app.command("rescore")
def rescore_run(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (with run.sqlite).")],
    data_root: Annotated[Path | None, typer.Option(help="Where the run's datasets live.")] = None,
) -> None:
    """Re-read every stored answer with the current readers and re-score; asks no model."""
    from medmine.report.leaderboard import load_leaderboard, render_terminal, write_reports
    from medmine.run.rescore import print_summary, rescore

    try:
        summary = rescore(run_dir, data_root)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    board = load_leaderboard(run_dir)
    render_terminal(board, console)
    write_reports(board, run_dir)
    print_summary(summary, console)


add_heavy_commands(app)  # mine, review, doctor: imported when first needed


def command() -> Any:
    """The click command behind ``app``, with help that shows plain value names (N, PATH,
    TEXT) instead of Python types such as ``<list[str]>``."""
    cmd = typer.main.get_command(app)
    plain_help(cmd)
    return cmd


# commands registered eagerly above: running one of them imports no mining or review code
_EAGER = {"run", "report", "parse", "rescore", "datasets", "models", "tasks"}


def main() -> None:
    """The ``medmine`` entry point (builds only what the invoked command needs)."""
    if needs_lazy(sys.argv[1:], _EAGER):
        command()()
        return
    with eager_only(app):
        command()()


if __name__ == "__main__":  # pragma: no cover
    main()
