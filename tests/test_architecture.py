"""The layer contracts of docs/architecture.md hold, and the checker CI runs really catches
a module that imports a higher layer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
    "lint-imports"
)
pytestmark = pytest.mark.skipif(LINT is None, reason="pip install import-linter")


def _lint(src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT), str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ci_runs_the_import_checker() -> None:
    assert "lint-imports" in (ROOT / ".ci" / "run").read_text()


def test_the_tree_keeps_its_layers() -> None:
    result = _lint(ROOT / "src")
    assert result.returncode == 0, result.stdout[-3000:]


def test_an_upward_import_breaks_the_build(tmp_path: Path) -> None:
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "medmine", copy / "medmine")
    metric = copy / "medmine" / "metrics" / "classification.py"
    metric.write_text(metric.read_text() + "\nfrom medmine.run import runner  # noqa\n")
    result = _lint(copy)
    assert result.returncode != 0
    assert "medmine.metrics is not allowed to import medmine.run" in result.stdout
