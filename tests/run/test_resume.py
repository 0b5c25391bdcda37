"""Kill a run with SIGKILL, rerun the same command, and check nothing is asked twice or lost."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
VOLATILE = ("latency", "ttft", "tokens_per_s", "cached_share")


def _command(out: Path) -> list[str]:
    script = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import slow_model; slow_model.install(); "
        "from medmine.cli import app; app()"
    )
    return [
        sys.executable,
        "-c",
        script,
        "run",
        "--model",
        "slow-centroid",
        "--task",
        "classification",
        "--out",
        str(out),
        "--no-cache",
        "--no-progress",
    ]


def _env(tmp_path: Path, log: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MEDMINE_CACHE_DIR": str(tmp_path / "cache"),
        "MEDMINE_TEST_LOG": str(log),
        "MEDMINE_TEST_DELAY": "0.02",
    }


def _answered(run_dir: Path) -> set[tuple[str, str]]:
    con = sqlite3.connect(run_dir / "run.sqlite")
    rows = con.execute("SELECT task, sample_id FROM results").fetchall()
    con.close()
    return {(t, s) for t, s in rows}


def _quality(run_dir: Path) -> dict[str, dict[str, float]]:
    con = sqlite3.connect(run_dir / "run.sqlite")
    rows = con.execute("SELECT model, task, dataset, metrics FROM scores").fetchall()
    con.close()
    return {
        f"{m}/{t}/{d}": {
            k: v for k, v in json.loads(x).items() if not any(k.startswith(p) for p in VOLATILE)
        }
        for m, t, d, x in rows
    }


def _lines(log: Path) -> list[tuple[str, str]]:
    if not log.exists():
        return []
    return [tuple(line.split(" ", 1)) for line in log.read_text().splitlines()]  # type: ignore[misc]


def test_sigkill_then_rerun_resumes_without_asking_again(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    log1, log2 = tmp_path / "asked1.log", tmp_path / "asked2.log"
    proc = subprocess.Popen(
        _command(run_dir),
        env=_env(tmp_path, log1),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    # Answers are committed in batches (at most 256 rows or 0.5 s apart): wait for the first
    # batch to be in the store, then kill mid-run.
    while len(_lines(log1)) < 20 or not _answered(run_dir):
        assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    answered_before = _answered(run_dir)
    assert 0 < len(answered_before) < 72, "the kill should land partway"

    done = subprocess.run(
        _command(run_dir), env=_env(tmp_path, log2), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    asked_again = set(_lines(log2))
    assert not (asked_again & answered_before), "an answered request was sent again"
    assert _answered(run_dir) == answered_before | asked_again
    assert len(_answered(run_dir)) == 72

    fresh = tmp_path / "fresh"
    done = subprocess.run(
        _command(fresh),
        env=_env(tmp_path, tmp_path / "asked3.log"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert _quality(run_dir) == _quality(fresh)
    assert len(_quality(fresh)) == 5
