"""The ``medmine`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(
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
    model: Annotated[list[str], typer.Option("--model", "-m", help="Only these models.")] = [],  # noqa: B006
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
        str, typer.Option(help="Where models answer: local, or ray (pip install 'medmine[ray]').")
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
    """Run (or resume) a suite, then print its leaderboard. Rerun the same command to resume."""
    from medmine.report.leaderboard import load_leaderboard, render_terminal, write_reports
    from medmine.run.execute import RunOptions, execute
    from medmine.run.suite import SuiteError, load_suite

    try:
        cfg = load_suite(suite_option or suite)
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
        outcome = execute(cfg, opts)
    except (ValueError, FileNotFoundError, PermissionError) as exc:
        raise _fail(str(exc)) from None
    s = outcome.summary
    for notice in outcome.notices:
        if notice.startswith(("skipped dataset", "metric unavailable")):
            console.print(f"[yellow]{escape(notice)}[/]")
    console.print(
        f"asked {s.asked}, from cache {s.from_cache}, resumed {s.resumed}, "
        f"errors {s.errors}, unreadable samples {s.bad_samples}"
    )
    for name, why in s.stopped_models.items():
        console.print(f"[red]{name} stopped: {why}. Rerun the same command later to resume.[/]")
    board = load_leaderboard(run_dir)
    render_terminal(board, console)
    paths = write_reports(board, run_dir)
    from medmine.report.build import build_report

    html = build_report([run_dir], run_dir / "report", data_root=data_root)["html"]
    console.print(f"run directory: {run_dir}  ({', '.join(p.name for p in paths)})")
    console.print(f"report: {html}")


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
    LaTeX tables; several run directories are merged into one comparison."""
    from medmine.report.build import build_report
    from medmine.report.leaderboard import load_leaderboard, render_terminal, write_reports

    for run_dir in run_dirs:
        try:
            board = load_leaderboard(run_dir)
        except FileNotFoundError as exc:
            raise _fail(str(exc)) from None
        render_terminal(board, console)
        write_reports(board, run_dir)
    target = out or run_dirs[0] / "report"
    try:
        paths = build_report(
            run_dirs, target, gallery_per_task=gallery, seed=seed, data_root=data_root
        )
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    console.print("wrote " + ", ".join(str(p) for p in paths.values()))


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
    from medmine.baselines.registry import baseline_names, default_baselines, make_baseline

    table = Table(title="models")
    for col in ("name", "provider", "modality", "price in/out $/Mtok (read on)", "credentials"):
        table.add_column(col)
    defaults = default_baselines()
    for name in baseline_names():
        model = make_baseline(name)
        tasks = ", ".join(sorted(getattr(model, "tasks", ()))) or "all"
        default = " (default)" if name in defaults else ""
        table.add_row(
            escape(f"{name}{default} [{tasks}]"),
            "baseline",
            getattr(model, "modality", "vision"),
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
    from medmine.tasks.registry import make_task, task_names

    table = Table(title="tasks")
    table.add_column("name")
    table.add_column("version")
    table.add_column("description")
    for name in task_names():
        t = make_task(name)
        table.add_row(name, t.version, (type(t).__doc__ or "").strip().splitlines()[0])
    console.print(table)


def _register_mine() -> None:
    """``medmine mine``: image folders, DICOM trees and report archives (see mine/command.py)."""
    from medmine.mine.command import mine_command

    app.command("mine")(mine_command)


_register_mine()


if __name__ == "__main__":  # pragma: no cover
    app()
