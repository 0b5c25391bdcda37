"""Suites end to end: data-use rules before anything is sent, the study suite on real data."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medmine.cli import app

sys.path.insert(0, str(Path(__file__).parents[1] / "models"))
from fakeservers import FakeServer

REALDATA = Path(os.environ.get("MEDMINE_REALDATA", Path(__file__).parents[3] / "shared/realdata"))
runner = CliRunner()


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MEDMINE_TEST_KEY", "sk-secret-never-stored")


def _mimic(tmp_path: Path) -> Path:
    root = tmp_path / "mimic"
    study = root / "files" / "p10" / "p10000032" / "s50414267.txt"
    study.parent.mkdir(parents=True)
    study.write_text("FINAL REPORT\nFINDINGS: No pleural effusion.\nIMPRESSION: Normal.\n")
    return root


def _suite(tmp_path: Path, server: FakeServer, provider: str) -> Path:
    presets = tmp_path / "presets.yaml"
    presets.write_text(
        "presets:\n"
        f"  - name: remote-model\n    provider: {provider}\n    model_id: gpt-4o\n"
        f"    base_url: {server.url}/v1\n    api_key_env: MEDMINE_TEST_KEY\n    modality: vision\n"
    )
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: dua\nmodels: [remote-model]\ntasks: [diagnosis]\n"
        f"datasets:\n  - name: mimic_cxr\n    root: {_mimic(tmp_path)}\n"
        f"presets: [{presets}]\n"
    )
    return suite


def test_credentialed_data_is_not_sent_to_a_cloud_model_without_acknowledgement(
    tmp_path: Path,
) -> None:
    with FakeServer() as server:
        suite = _suite(tmp_path, server, "openai")
        result = runner.invoke(app, ["run", str(suite), "--out", str(tmp_path / "r")])
        assert result.exit_code == 2, result.output
        assert "credentialed" in result.output
        assert "--ack-data-use mimic_cxr=openai" in result.output
        assert server.requests == []  # stopped before sending anything
        assert not (tmp_path / "r" / "run.sqlite").exists()

        ok = runner.invoke(
            app,
            [
                "run",
                str(suite),
                "--out",
                str(tmp_path / "r2"),
                "--no-progress",
                "--ack-data-use",
                "mimic_cxr=openai",
            ],
        )
        assert ok.exit_code == 0, ok.output
    con = sqlite3.connect(tmp_path / "r2" / "run.sqlite")
    (ack,) = con.execute("SELECT value FROM manifest WHERE key='acknowledged_data_use'").fetchone()
    dump = "\n".join(v for (v,) in con.execute("SELECT value FROM manifest"))
    con.close()
    assert "mimic_cxr=openai" in ack
    assert "sk-secret-never-stored" not in dump


def test_a_server_on_this_machine_may_read_credentialed_data(tmp_path: Path) -> None:
    with FakeServer() as server:
        suite = _suite(tmp_path, server, "openai_compatible")
        result = runner.invoke(
            app, ["run", str(suite), "--out", str(tmp_path / "r"), "--no-progress"]
        )
    assert result.exit_code == 0, result.output


@pytest.mark.skipif(not REALDATA.is_dir(), reason=f"real data not found at {REALDATA}")
def test_study_suite_runs_what_is_found_and_lists_what_is_not(tmp_path: Path) -> None:
    out = tmp_path / "study"
    result = runner.invoke(
        app,
        [
            "run",
            "--suite",
            "study",
            "--data-root",
            str(REALDATA),
            "--task",
            "segmentation",
            "--model",
            "otsu-lcc",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "skipped dataset: dataset 'refuge' not found under" in result.output
    con = sqlite3.connect(out / "run.sqlite")
    rows = con.execute("SELECT dataset, task FROM scores ORDER BY 1").fetchall()
    con.close()
    assert rows == [("isic2017", "segmentation"), ("kvasir_seg", "segmentation")]
