"""The LLM judge end to end: `medmine run demo --task report_generation --judge PRESET`
against a local OpenAI-compatible judge, offline; resume; budget; human ratings."""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medmine.cli import app

sys.path.insert(0, str(Path(__file__).parent))
from fakejudge import FakeJudge

runner = CliRunner()
KEY = "sk-judge-secret-never-stored"


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MEDMINE_JUDGE_KEY", KEY)
    for var in (
        "MEDMINE_CHEXBERT_WEIGHTS",
        "MEDMINE_BERTSCORE_WEIGHTS",
        "MEDMINE_RADGRAPH_WEIGHTS",
    ):
        monkeypatch.delenv(var, raising=False)


def _presets(tmp_path: Path, server: FakeJudge) -> Path:
    path = tmp_path / "presets.yaml"
    path.write_text(
        "presets:\n"
        "  - name: local-judge\n    provider: openai_compatible\n    model_id: judge-7b\n"
        f"    base_url: {server.url}/v1\n    api_key_env: MEDMINE_JUDGE_KEY\n"
        "    modality: text\n    price_input_per_mtok: 1.0\n    price_output_per_mtok: 2.0\n"
        '    price_date: "2026-01-01"\n    concurrency: 4\n'
    )
    return path


def _suite(tmp_path: Path) -> Path:
    """The demo's report cases without METEOR (its Java process is slow) for the quicker tests."""
    path = tmp_path / "suite.yaml"
    path.write_text(
        "name: judged\nmodels: [auto]\ndatasets: [demo-radiology]\n"
        "tasks:\n  - name: report_generation\n    options: {meteor: false}\n"
    )
    return path


def _manifest(run: Path) -> dict:
    con = sqlite3.connect(run / "run.sqlite")
    rows = dict(con.execute("SELECT key, value FROM manifest"))
    con.close()
    return {k: json.loads(v) for k, v in rows.items()}


def test_demo_run_with_a_local_judge_reports_scores_cost_and_agreement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    with FakeJudge(KEY) as server:
        monkeypatch.setenv("MEDMINE_PRESETS", str(_presets(tmp_path, server)))
        args = ["run", "demo", "--task", "report_generation", "--judge", "local-judge",
                "--out", str(run), "--no-progress"]  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        asked = len(server.requests)
        # 2 baseline models x 12 demo reports x 2 repeats (sampled at temperature 0.7); a
        # report both models wrote word for word is one request, answered from the cache
        assert 24 < asked <= 48
        assert all(r["temperature"] == 0.7 for r in server.requests)
        assert "metric unavailable: report_generation chexbert" in result.output
        assert "MEDMINE_CHEXBERT_WEIGHTS" in result.output
    judge = _manifest(run)["judge"]
    assert judge["model"] == "local-judge" and judge["repeats"] == 2
    assert judge["cost_usd"] > 0 and judge["cost_unknown_answers"] == 0
    assert judge["repeat_reports"] == 24
    assert -1.0 <= judge["repeat_icc"] <= 1.0
    assert 0.0 <= judge["repeat_exact_significant"] <= 1.0
    dump = (run / "run.sqlite").read_bytes()
    assert KEY.encode() not in dump
    con = sqlite3.connect(run / "run.sqlite")
    scores = {
        m: json.loads(x)
        for m, x in con.execute("SELECT model, metrics FROM scores WHERE task='report_generation'")
    }
    answers_cost = con.execute(
        "SELECT count(*) FROM results WHERE model='local-judge' AND task='report_judge'"
    ).fetchone()
    con.close()
    assert answers_cost == (48,)
    for m in scores.values():
        assert 0.0 <= m["judge_score"] <= 1.0 and m["judge_n"] == 12
        assert m["judge_cost_usd"] > 0 and m.get("cost_usd", 0.0) == 0.0  # baselines are free
    # retrieval copies training reports: the judge must prefer it to a fixed normal report
    assert scores["retrieval-report"]["judge_score"] > scores["normal-report"]["judge_score"]
    md = (run / "report" / "report.md").read_text()
    assert "## Report quality" in md
    assert "judge" in md and "repeat agreement" in md
    assert "chexbert" in md and "MEDMINE_CHEXBERT_WEIGHTS" in md
    assert "judge cost $" in md and "ICC(1,1)" in md
    page = (run / "report" / "report.html").read_text()
    assert 'id="report-quality"' in page and "repeat agreement" in page


def test_judge_truth_correlation_and_bad_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    truth = tmp_path / "ratings.csv"
    with FakeJudge(KEY) as server:
        monkeypatch.setenv("MEDMINE_PRESETS", str(_presets(tmp_path, server)))
        base = ["run", str(_suite(tmp_path)), "--judge", "local-judge",
                "--out", str(run), "--no-progress", "--judge-repeats", "1"]  # fmt: skip
        ok = runner.invoke(app, base)
        assert ok.exit_code == 0, ok.output
        asked = len(server.requests)
        again = runner.invoke(app, base)  # resume: nothing asked again
        assert again.exit_code == 0, again.output
        assert len(server.requests) == asked
        con = sqlite3.connect(run / "run.sqlite")
        rows = con.execute(
            "SELECT sample_id, prediction FROM results WHERE task='report_judge'"
        ).fetchall()
        con.close()
        with truth.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["model", "sample_id", "rating"])
            for jid, pred in rows:
                model, sid = jid.split("::")
                w.writerow([model, sid, json.loads(pred)["score"] * 5])
            w.writerow(["normal-report", "x", "not-a-number"])
        asked = len(server.requests)
        again = runner.invoke(app, [*base, "--judge-truth", str(truth)])
        assert again.exit_code == 0, again.output
        assert len(server.requests) == asked  # ratings need no new judge call
    judge = _manifest(run)["judge"]
    assert judge["human"]["n"] == 24
    assert judge["human"]["kendall_tau"] == pytest.approx(1.0)
    assert judge["truth_problems"] == [f"{truth}:26: rating 'not-a-number' is not a number"]
    bad = runner.invoke(app, ["run", str(_suite(tmp_path)), "--out", str(tmp_path / "r2"),
                              "--judge-truth", str(truth)])  # fmt: skip
    assert bad.exit_code != 0 and "--judge-truth needs a judge" in bad.output


def test_a_baseline_cannot_judge(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(_suite(tmp_path)), "--judge", "normal-report",
                                 "--out", str(tmp_path / "r")])  # fmt: skip
    assert result.exit_code != 0 and "cannot judge" in result.output


def test_judge_calls_obey_the_run_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    with FakeJudge(KEY) as server:
        monkeypatch.setenv("MEDMINE_PRESETS", str(_presets(tmp_path, server)))
        args = ["run", str(_suite(tmp_path)), "--judge", "local-judge", "--out", str(run),
                "--no-progress", "--max-cost", "0.001", "--concurrency", "1"]  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        sent = len(server.requests)
    assert 0 < sent < 48
    judge = _manifest(run)["judge"]
    assert "budget" in judge["stopped"]
    con = sqlite3.connect(run / "run.sqlite")
    metrics = [json.loads(m) for (m,) in con.execute("SELECT metrics FROM scores")]
    con.close()
    # reports the judge never saw are counted, not scored
    assert sum(m["judge_unscored"] for m in metrics) > 0
    assert all(m["judge_n"] + m["judge_unscored"] == 12 for m in metrics)
