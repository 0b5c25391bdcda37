"""Start-up of the command line: heavy commands are registered lazily, yet always present."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

from medmine.cli import app

SRC = Path(__file__).resolve().parents[1] / "src"
PROBE = """
import sys
sys.argv = ["medmine", *sys.argv[1:]]
from medmine.cli import main
try:
    main()
except SystemExit:
    pass
heavy = ("medmine.review.command", "medmine.mine.cli_command", "scipy.stats", "scipy.sparse")
print("LOADED", *sorted(m for m in heavy if m in sys.modules), file=sys.stderr)
"""


def _loaded(*argv: str) -> list[str]:
    """The heavy modules a ``medmine ARGV`` process imported."""
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, env=env, timeout=120
    )
    line = [x for x in done.stderr.splitlines() if x.startswith("LOADED")][-1]
    return line.split()[1:]


def test_the_app_holds_every_command_in_order() -> None:
    names = list(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert names[:7] == ["run", "report", "parse", "rescore", "mine", "review", "doctor"]


def test_listing_models_imports_no_mining_review_or_scipy_stats() -> None:
    assert _loaded("models", "list") == []


def test_help_and_the_heavy_commands_still_load_them() -> None:
    assert "medmine.review.command" in _loaded("--help")
    assert "medmine.mine.cli_command" in _loaded("mine", "--help")
