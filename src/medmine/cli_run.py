"""What ``medmine run`` and ``medmine report`` do after parsing options: run, report, judge.

Kept out of cli.py so the command table stays short. Exit statuses: 0 every requested model
answered; 1 a requested model produced no usable answer or medmine itself failed (with a
one-paragraph summary and the command that resumes); 2 bad input; 130 stopped by Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from medmine.run.execute import RunOptions
    from medmine.run.suite import SuiteConfig

EXIT_FAILED = 1  # as medmine.run.verdict.EXIT_FAILED (not imported: `medmine` starts fast)
EXIT_INTERRUPTED = 130


def run_and_report(
    cfg: SuiteConfig, opts: RunOptions, console: Console, err: Console, data_root: Path | None
) -> int:
    """Run a suite, print its leaderboard, write its report; returns the exit status."""
    from medmine.report.build import build_report
    from medmine.report.leaderboard import load_leaderboard, render_terminal, write_reports
    from medmine.run.execute import execute
    from medmine.run.progress import StatusLine
    from medmine.run.verdict import judge, resume_command

    status = StatusLine(err)
    opts.status = status
    opts.say = lambda m: err.print(f"[bold red]{escape(m)}[/]", highlight=False)
    outcome = execute(cfg, opts)
    s = outcome.summary
    if s.resent:
        err.print(
            f"[yellow]{s.resent} request(s) were in flight when the previous run stopped and "
            "were sent again (their answers had not been recorded).[/]"
        )
    if s.interrupted:
        err.print(
            f"[bold yellow]stopped by Ctrl-C.[/] Saved: {s.asked} new answer(s) this run "
            f"(plus {s.resumed} from earlier runs); {s.not_sent} request(s) not sent. Every "
            f"answer is in {opts.out / 'run.sqlite'}. Resume with: {escape(resume_command())}"
        )
        return EXIT_INTERRUPTED
    for notice in outcome.notices:
        if notice.startswith(("skipped dataset", "leaderboard rows", "metric unavailable")):
            console.print(f"[yellow]{escape(notice)}[/]", soft_wrap=True)
    console.print(
        f"asked {s.asked}, from cache {s.from_cache}, resumed {s.resumed}, "
        f"errors {s.errors}, not sent {s.not_sent}, medmine errors {s.medmine_errors}, "
        f"unreadable samples {s.bad_samples}"
    )
    for name, why in s.stopped_models.items():
        console.print(f"[red]{name} stopped: {why}. Rerun the same command later to resume.[/]")
    board = load_leaderboard(opts.out)
    render_terminal(board, console)
    paths = write_reports(board, opts.out)
    html = opts.out / "report" / "report.html"
    stamp = report_inputs([opts.out], data_root)
    mark = opts.out / "report" / ".inputs"
    if html.exists() and mark.exists() and mark.read_text(encoding="utf-8") == stamp:
        status("report unchanged (same scores and recipe): not rebuilt")
    else:
        status("building the report (tables, figures, gallery)…")
        html = build_report(
            [opts.out],
            opts.out / "report",
            data_root=data_root,
            loaded={d.name: d for d in outcome.datasets},
        )["html"]
        mark.write_text(stamp, encoding="utf-8")
    console.print(f"run directory: {opts.out}  ({', '.join(p.name for p in paths)})")
    console.print(f"report: {html}")
    requested = list(opts.models) or outcome.models
    return judge([opts.out], requested, err)


VOLATILE = ("started", "finished", "environment")


def report_inputs(run_dirs: Sequence[Path], data_root: Path | None) -> str:
    """A hash of everything a default report is built from (scores, per-sample answers'
    hashes, unreadable and skipped samples, the recipe without timestamps), so an unchanged
    rerun does not rebuild its figures."""
    from medmine import __version__
    from medmine.core import stable_hash
    from medmine.run.store import RunStore

    parts: list[object] = [__version__, str(data_root)]
    for run_dir in run_dirs:
        store = RunStore(run_dir)
        try:
            manifest = {k: v for k, v in store.manifest().items() if k not in VOLATILE}
            answers = list(store.con.execute("SELECT request_hash, status FROM results ORDER BY 1"))
            parts += [store.scores(), manifest, answers, store.skipped()]
            parts.append([(b.dataset, b.id, b.reason) for b in store.bad_samples()])
        finally:
            store.close()
    return stable_hash(parts)


def doctor_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory holding run.sqlite.")],
) -> None:
    """Check a run database's integrity; if damaged, copy every readable row into
    run.salvaged.sqlite next to it (the original is never modified)."""
    from medmine.run.salvage import salvage

    err = Console(stderr=True, soft_wrap=True)
    try:
        report = salvage(run_dir)
    except (FileNotFoundError, FileExistsError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    for line in report.lines():
        print(line)
    if report.problem is not None:
        raise typer.Exit(EXIT_FAILED)
