"""What ``medmine run`` and ``medmine report`` do after parsing options: run, report, judge.

Kept out of cli.py so the command table stays short. Exit statuses: 0 every requested model
answered; 1 a requested model produced no usable answer or medmine itself failed (with a
one-paragraph summary and the command that resumes); 2 bad input; 130 stopped by Ctrl-C.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from medmine.run.execute import RunOptions, execute
from medmine.run.progress import StatusLine
from medmine.run.suite import SuiteConfig
from medmine.run.verdict import verdict

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def resume_command() -> str:
    """The command line that was typed, to rerun (which resumes)."""
    return shlex.join(["medmine", *sys.argv[1:]])


def run_and_report(
    cfg: SuiteConfig, opts: RunOptions, console: Console, err: Console, data_root: Path | None
) -> int:
    """Run a suite, print its leaderboard, write its report; returns the exit status."""
    from medmine.report.build import build_report
    from medmine.report.leaderboard import load_leaderboard, render_terminal, write_reports

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
        if notice.startswith("skipped dataset"):
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
    status("building the report (tables, figures, gallery)…")
    html = build_report([opts.out], opts.out / "report", data_root=data_root)["html"]
    console.print(f"run directory: {opts.out}  ({', '.join(p.name for p in paths)})")
    console.print(f"report: {html}")
    requested = list(opts.models) or outcome.models
    return judge([opts.out], requested, err)


def judge(run_dirs: Sequence[Path], models: Sequence[str], err: Console) -> int:
    """Print the failure paragraph of these runs when there is one; the exit status."""
    failed = False
    for run_dir in run_dirs:
        v = verdict(run_dir, models)
        if v.failed:
            failed = True
            err.print(f"[bold red]{escape(v.paragraph(resume_command()))}[/]", highlight=False)
    return EXIT_FAILED if failed else 0
