"""The command line as a new user meets it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from medmine.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))


def test_demo_run_prints_a_leaderboard_and_writes_the_run_directory(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["run", "--task", "classification", "--limit", "4", "--out", str(out), "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.output
    assert "classification" in result.output and "nearest-centroid" in result.output
    for name in ("run.sqlite", "leaderboard.md", "leaderboard.csv"):
        assert (out / name).exists()
    again = runner.invoke(app, args)
    assert again.exit_code == 0
    assert "asked 0" in again.output and "resumed 40" in again.output


def test_suite_yaml_errors_name_the_offending_key(tmp_path: Path) -> None:
    bad = tmp_path / "suite.yaml"
    bad.write_text(
        "name: x\nmodels: [majority]\ntasks: [classification]\n"
        "datasets:\n  - name: demo-radiology\n    limt: 3\n"
    )
    result = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "datasets.0.limt" in result.output


def test_unknown_suite_and_unknown_filter_are_clear(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "nosuch"])
    assert result.exit_code == 2 and "no built-in suite or file named 'nosuch'" in result.output
    result = runner.invoke(app, ["run", "--task", "nosuch", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "--task nosuch not in this suite" in result.output


def test_report_on_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "no run.sqlite" in result.output


def test_list_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-value")
    for what, expected in (
        ("datasets", "ham10000"),
        ("models", "majority"),
        ("tasks", "classification"),
    ):
        result = runner.invoke(app, [what, "list"])
        assert result.exit_code == 0, result.output
        assert expected in result.output
        assert "sk-test-secret-value" not in result.output


def test_suite_paths_are_relative_to_the_suite_file(tmp_path: Path) -> None:
    from medmine.run.suite import load_suite

    folder = tmp_path / "suites"
    folder.mkdir()
    (folder / "s.yaml").write_text(
        "name: s\nmodels: [majority]\ntasks: [classification]\n"
        "datasets:\n  - name: ham10000\n    root: data/ham\npresets: [p.yaml]\n"
    )
    suite = load_suite(str(folder / "s.yaml"))
    assert suite.datasets[0].root == folder / "data" / "ham"
    assert suite.presets == [folder / "p.yaml"]
