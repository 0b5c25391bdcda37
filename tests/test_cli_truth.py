"""Issue 14 as a user meets it: failures are outcomes, never scores; exit statuses; a
damaged store is refused untouched; numeric options are validated; help reads plainly."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import medmine
from medmine.cli import app
from medmine.core import ParseStatus, Prediction, Response
from medmine.run.store import RunStore

runner = CliRunner()
BASE = ["--task", "classification", "--dataset", "demo-dermatology", "--limit", "4"]


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(var, raising=False)


def _run(out: Path, *extra: str) -> object:
    return runner.invoke(app, ["run", *BASE, "--out", str(out), "--no-progress", *extra])


def _csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_a_model_without_its_key_is_never_sent_never_ranked_and_the_run_fails(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    result = _run(out, "--model", "gpt-4o")
    assert result.exit_code == 1, result.output
    assert "OPENAI_API_KEY" in result.output
    assert "gpt-4o produced no valid answers" in result.output
    assert "medmine run" in result.output  # the command that resumes
    con = sqlite3.connect(out / "run.sqlite")
    # Nothing was sent: no answer row, every sample recorded as not_sent_key.
    assert con.execute("SELECT COUNT(*) FROM results WHERE model='gpt-4o'").fetchone() == (0,)
    outcomes = dict(
        con.execute("SELECT outcome, COUNT(*) FROM outcomes WHERE model='gpt-4o' GROUP BY 1")
    )
    assert outcomes == {"not_sent_key": 4}
    con.close()
    # The baselines still ran and are scored.
    rows = _csv_rows(out / "leaderboard.csv")
    scored = {r["model"] for r in rows if r["status"] == "scored"}
    assert {"majority", "nearest-centroid"} <= scored
    (gpt,) = [r for r in rows if r["model"] == "gpt-4o"]
    assert gpt["value"] == "" and gpt["status"].startswith("no valid answers — not sent")
    # No view ranks it: HTML shows it only as a failed row, LaTeX/Markdown say why.
    html = (out / "report" / "report.html").read_text(encoding="utf-8")
    assert 'class="failed" data-model="gpt-4o"' in html
    assert '<tr class="" data-model="gpt-4o"' not in html
    assert 'class="best" data-model="gpt-4o"' not in html
    md = (out / "report" / "report.md").read_text(encoding="utf-8")
    assert "| gpt-4o | no valid answers —" in md
    tex = (out / "report" / "report.tex").read_text(encoding="utf-8")
    assert re.search(r"gpt-4o & \\multicolumn\{\d+\}\{l\}\{no valid answers", tex)


def test_max_cost_zero_gives_baselines_their_uncapped_scores(tmp_path: Path) -> None:
    free = _run(tmp_path / "free")
    capped = _run(tmp_path / "capped", "--max-cost", "0")
    assert free.exit_code == 0 and capped.exit_code == 0, capped.output
    a = {r["model"]: r["value"] for r in _csv_rows(tmp_path / "free" / "leaderboard.csv")}
    b = {r["model"]: r["value"] for r in _csv_rows(tmp_path / "capped" / "leaderboard.csv")}
    assert a == b and a["nearest-centroid"] not in ("", "0.0")


def _tree(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


@pytest.mark.parametrize("content", [b"", b"this is not a database at all" * 50])
def test_a_damaged_store_is_refused_by_name_and_left_untouched(
    tmp_path: Path, content: bytes
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.sqlite").write_bytes(content)
    before = _tree(out)
    for args in (["report", str(out)], ["run", *BASE, "--out", str(out), "--no-progress"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert str(out / "run.sqlite") in result.output.replace("\n", "")
        assert "medmine doctor" in result.output
        assert _tree(out) == before


def test_doctor_salvages_readable_rows_of_a_damaged_store(tmp_path: Path) -> None:
    out = tmp_path / "run"
    store = RunStore(out)
    for i in range(300):
        response = Response("x" * 400, "test:m")
        pred = Prediction("a", ParseStatus.OK)
        store.put_result("m", "t", "d", f"s{i:03d}", 0, "h", response, False, pred)
    store.close()
    con = sqlite3.connect(out / "run.sqlite")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode=DELETE")
    try:
        leaves = [
            p
            for (p,) in con.execute(
                "SELECT pageno FROM dbstat WHERE name='results' AND pagetype='leaf'"
            )
        ]
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no dbstat table to find a data page")
    con.close()
    sound = runner.invoke(app, ["doctor", str(out)])
    assert sound.exit_code == 0 and "sound" in sound.output
    db = out / "run.sqlite"
    data = bytearray(db.read_bytes())
    start = (leaves[len(leaves) // 2] - 1) * 4096
    data[start : start + 300] = b"\xff" * 300  # one data page garbled, the rest intact
    db.write_bytes(bytes(data))
    result = runner.invoke(app, ["doctor", str(out)])
    assert result.exit_code == 1, result.output
    assert "integrity check failed" in result.output
    con = sqlite3.connect(out / "run.salvaged.sqlite")
    (kept,) = con.execute("SELECT COUNT(*) FROM results").fetchone()
    con.close()
    assert 250 < kept < 300  # the rows of the damaged page are lost, the others kept


@pytest.mark.parametrize(
    ("flag", "value"), [("--concurrency", "0"), ("--concurrency", "-2"), ("--limit", "0")]
)
def test_numeric_options_are_validated(tmp_path: Path, flag: str, value: str) -> None:
    result = runner.invoke(app, ["run", flag, value, "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert f"{flag} must be a whole number of at least 1, got {value}" in result.output
    assert not (tmp_path / "r").exists()


def test_unknown_dataset_gets_a_suggestion(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", "--dataset", "demo-dermatolgy", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 2
    assert "did you mean 'demo-dermatology'" in result.output


def test_help_shows_value_names_and_the_ray_extra() -> None:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(Path(medmine.__file__).parents[1])}
    result = subprocess.run(
        [sys.executable, "-m", "medmine", "run", "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "medmine[ray]" in result.stdout
    assert "<list[str]>" not in result.stdout and "<int>" not in result.stdout
    assert "--limit" in result.stdout and " N " in result.stdout


def test_skipped_datasets_are_printed_with_their_expected_layout(tmp_path: Path) -> None:
    data = tmp_path / "empty"
    data.mkdir()
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: s\nmodels: [majority]\ntasks: [classification]\nskip_missing_datasets: true\n"
        "datasets:\n  - name: ham10000\n  - name: demo-dermatology\n    limit: 4\n"
    )
    result = runner.invoke(
        app,
        [
            "run",
            str(suite),
            "--data-root",
            str(data),
            "--out",
            str(tmp_path / "r"),
            "--no-progress",
        ],
    )
    assert "expected layout:" in result.output
    after = result.output.split("expected layout:", 1)[1].strip().splitlines()
    assert after and after[0].strip(), result.output  # the layout itself follows


def test_a_rerun_with_other_models_replaces_the_earlier_rows(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _run(out, "--model", "gpt-4o").exit_code == 1
    again = _run(out, "--model", "majority")
    assert again.exit_code == 0, again.output
    assert "leaderboard rows of models not in this run were removed (gpt-4o" in again.output
    models = {r["model"] for r in _csv_rows(out / "leaderboard.csv")}
    assert models == {"majority"}


def test_a_merged_report_keeps_every_run_s_rows_in_the_terminal(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert _run(tmp_path / name).exit_code == 0
    result = runner.invoke(app, ["report", str(tmp_path / "a"), str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    from medmine.report.leaderboard import load_leaderboard, merge_leaderboards

    boards = [(n, load_leaderboard(tmp_path / n)) for n in ("a", "b")]
    merged = merge_leaderboards(boards)
    assert len(merged.rows) == sum(len(b.rows) for _, b in boards) == 4
    assert {r.model for r in merged.rows} == {
        f"{m} ({n})" for m in ("majority", "nearest-centroid") for n in ("a", "b")
    }
