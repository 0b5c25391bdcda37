"""The LLM judge on open VQA answers: the grade reader on the styles judges really answer in,
and `medmine run demo --task vqa --judge PRESET` against a local OpenAI-compatible judge
(offline): grades join the VQA scores, cost and repeat agreement are reported, resume asks
nothing again, the budget stops judge calls."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medmine.cli import app
from medmine.core import ParseStatus, Response, Sample, TaskKind
from medmine.datasets.readers.vqa_common import VqaTarget
from medmine.tasks.vqa_judge import VqaJudgeTask, parse_grade, vqa_judge_sample

sys.path.insert(0, str(Path(__file__).parents[1] / "run"))
from fakejudge import FakeJudge

runner = CliRunner()
KEY = "sk-vqa-judge-never-stored"


@pytest.mark.parametrize(
    ("text", "grade"),
    [
        ("[Explanation]: Same finding, other words.\n[Grade]: correct", "correct"),
        (
            "**[Explanation]:** Right lesion, wrong side.\n\n**[Grade]:** Partially correct",
            "partially correct",
        ),
        ("[Explanation]: The answer names another disease.\n[Grade]: Incorrect.", "incorrect"),
        ("Explanation: synonyms.\nGrade: `correct`", "correct"),
        ("[Explanation]: partly right\n[Grade]: partly correct", "partially correct"),
    ],
)  # fmt: skip
def test_reads_the_grade_in_real_answer_styles(text: str, grade: str) -> None:
    assert parse_grade(text) == (grade, "ok")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("The candidate is close to the reference.", "no [Grade]"),
        ("[Grade]: correct\n... on reflection\n[Grade]: incorrect", "two different grades"),
    ],
)
def test_undecided_answers_are_unparseable(text: str, why: str) -> None:
    grade, detail = parse_grade(text)
    assert grade is None and why in detail


def _open_sample() -> Sample:
    t = VqaTarget(
        question="What is the main finding?", answer="pleural effusion", answer_type="open"
    )
    return Sample("q1", "d", targets={TaskKind.VQA: t}, images=())


def test_task_asks_text_only_and_keeps_failures() -> None:
    s = vqa_judge_sample("model-a", _open_sample(), "fluid in the pleural space")
    task = VqaJudgeTask()
    req = task.request(s)
    assert req.images() == [] and s.id == "model-a::q1"
    prompt = req.messages[0].text
    assert "REFERENCE ANSWER:\npleural effusion" in prompt
    assert "CANDIDATE ANSWER:\nfluid in the pleural space" in prompt
    ok = task.parse(Response("[Explanation]: synonym\n[Grade]: correct", "m"), s)
    assert ok.value == {"grade": "correct", "score": 1.0}
    assert task.parse(Response("", "m", error="HTTP 500"), s).status is ParseStatus.ERROR
    assert task.parse(Response("looks fine", "m"), s).status is ParseStatus.UNPARSEABLE
    closed = Sample("q2", "d", targets={TaskKind.VQA: VqaTarget("Is it?", "yes", "closed")})
    with pytest.raises(ValueError, match="only open questions"):
        vqa_judge_sample("m", closed, "yes")


def _field(prompt: str, name: str) -> str:
    m = re.search(rf"{name}:\n(.*?)\n\n", prompt, re.S)
    return m.group(1).strip().lower() if m else ""


def vqa_judge_answer(prompt: str, rng: random.Random, temperature: float, style: int) -> str:
    """A grading judge: same words -> correct, shared words -> partially, else incorrect;
    sampled (temperature > 0) it sometimes moves one grade, as sampled judges do; it answers
    in plain, markdown and loose styles."""
    ref, cand = _field(prompt, "REFERENCE ANSWER"), _field(prompt, "CANDIDATE ANSWER")
    if not ref or "CANDIDATE ANSWER" not in prompt:
        return "Please provide the question and both answers."
    r, c = set(ref.split()), set(cand.split())
    level = 2 if r == c else 1 if r & c else 0
    if temperature > 0 and rng.random() < 0.25:
        level = min(2, max(0, level + rng.choice([-1, 1])))
    grade = ("incorrect", "partially correct", "correct")[level]
    why = f"The candidate says '{cand}' and the reference says '{ref}'."
    if style % 3 == 0:
        return f"**[Explanation]:** {why}\n\n**[Grade]:** {grade.capitalize()}"
    if style % 3 == 1:
        return f"[Explanation]: {why}\n[Grade]: {grade}"
    return f"Explanation: {why}\nGrade: {grade}."


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MEDMINE_JUDGE_KEY", KEY)


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


def _db(run: Path) -> sqlite3.Connection:
    return sqlite3.connect(run / "run.sqlite")


def test_demo_vqa_with_a_local_judge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    with FakeJudge(KEY, answer=vqa_judge_answer) as server:
        monkeypatch.setenv("MEDMINE_PRESETS", str(_presets(tmp_path, server)))
        args = ["run", "demo", "--task", "vqa", "--judge", "local-judge", "--out", str(run),
                "--no-progress"]  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        asked = len(server.requests)
        prompts = [b["messages"][-1]["content"] for b in server.requests]
        again = runner.invoke(app, args)  # resume: nothing is asked again
        assert again.exit_code == 0, again.output
        assert len(server.requests) == asked
    text = [p if isinstance(p, str) else p[0]["text"] for p in prompts]
    assert all("QUESTION:\nWhat is the main finding" in p for p in text)  # open questions only
    assert all(b["temperature"] == 0.7 for b in server.requests)
    con = _db(run)
    judged = con.execute(
        "SELECT sample_id, repeat, prediction FROM results WHERE task='vqa_judge'"
    ).fetchall()
    open_ids = {
        sid for (sid, pred) in con.execute(
            "SELECT sample_id, prediction FROM results WHERE task='vqa' AND model='vqa-prior'"
        ) if json.loads(pred)["answer"] not in ("yes", "no", "A", "B", "C", "D")
    }  # fmt: skip
    scores = {
        ds: (json.loads(m), json.loads(p))
        for ds, m, p in con.execute(
            "SELECT dataset, metrics, per_sample FROM scores WHERE task='vqa'"
        )
    }
    manifest = dict(con.execute("SELECT key, value FROM manifest"))
    con.close()
    assert len(judged) == 2 * len(open_ids) == 48  # 24 open answers x 2 repeats
    assert {json.loads(p)["grade"] for _, _, p in judged} <= {
        "correct",
        "partially correct",
        "incorrect",
    }
    for metrics, per in scores.values():
        graded = {sid: row["judge_score"] for sid, row in per.items() if "judge_score" in row}
        assert set(graded) <= open_ids and len(graded) == metrics["judge_n"] > 0
        assert metrics["judge_score"] == pytest.approx(sum(graded.values()) / len(graded))
        assert metrics["judge_cost_usd"] > 0 and metrics["judge_unscored"] == 0
    judge = json.loads(manifest["judge"])
    vqa = judge["vqa"]
    assert vqa["graded_answers"] == 24 and vqa["repeat_answers"] == 24
    assert vqa["cost_usd"] > 0 and judge["cost_usd"] == pytest.approx(vqa["cost_usd"])
    assert -1.0 <= vqa["repeat_icc"] <= 1.0 and 0.0 <= vqa["repeat_exact_grade"] <= 1.0
    assert KEY.encode() not in (run / "run.sqlite").read_bytes()
    assert "| Open judge |" in (run / "leaderboard.md").read_text()
    md = (run / "report" / "report.md").read_text()
    assert "repeat agreement: ICC(1,1) of the judge score" not in md  # no report was judged
    assert "open VQA answers graded against the reference answer: 24" in md
    assert "identical grade in" in md


def test_vqa_judge_calls_obey_the_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    with FakeJudge(KEY, answer=vqa_judge_answer) as server:
        monkeypatch.setenv("MEDMINE_PRESETS", str(_presets(tmp_path, server)))
        args = ["run", "demo", "--task", "vqa", "--judge", "local-judge", "--out", str(run),
                "--no-progress", "--max-cost", "0.0005", "--concurrency", "1"]  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        sent = len(server.requests)
    assert 0 < sent < 48
    con = _db(run)
    metrics = [json.loads(m) for (m,) in con.execute("SELECT metrics FROM scores WHERE task='vqa'")]
    judge = json.loads(dict(con.execute("SELECT key, value FROM manifest"))["judge"])
    con.close()
    assert "budget" in judge["stopped"]
    assert sum(m["judge_unscored"] for m in metrics) > 0  # not graded: counted, not scored
