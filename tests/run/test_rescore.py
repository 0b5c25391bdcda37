"""`medmine rescore`: stored answers are read again with today's readers, asking no model."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import medmine.run.execute as execute_mod
from medmine.core import Request, Response
from medmine.run.execute import RunOptions, execute
from medmine.run.rescore import rescore
from medmine.run.suite import load_suite

# Free-text answers as vision models write them; "{L}" is the true label, "{O}" the other one.
ANSWERS = [
    '{{"label": "{L}"}}',
    "{O} is not present.",
    "Most likely {L}; the differential includes {O}.",
    "I'm not able to diagnose {O} from an image; a radiologist should review it.",
    "There is no evidence of {O}.",
    "Could be {L} or {O}.",
]


class ScriptedVLM:
    """Answers by sample position; counts every request so the test can see none is sent."""

    name = "scripted-vlm"
    max_concurrency = 2
    modality = "vision"
    asked = 0

    @property
    def cache_id(self) -> str:
        return "scripted-vlm-1"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "backend": "ScriptedVLM", "coord_convention": None}

    async def generate(self, request: Request) -> Response:
        ScriptedVLM.asked += 1
        sid = request.intent.sample_id
        labels = list(request.intent.labels)
        truth = next(lab for lab in labels if f"/{lab}_" in sid)
        other = next(lab for lab in labels if lab != truth)
        style = ANSWERS[int(sid.rsplit("_", 1)[1]) % len(ANSWERS)]
        return Response(text=style.format(L=truth, O=other), model=self.cache_id, latency_s=0.01)


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(execute_mod, "resolve_models", lambda *a, **k: [ScriptedVLM()])
    out = tmp_path / "run"
    opts = RunOptions(
        out=out,
        tasks=["classification"],
        datasets=["demo-radiology"],
        use_cache=False,
        progress=False,
    )
    execute(load_suite("demo"), opts)
    return out


def _rows(run_dir: Path) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(run_dir / "run.sqlite")
    try:
        return list(con.execute("SELECT * FROM results ORDER BY sample_id"))
    finally:
        con.close()


def test_rescore_rereads_changed_readings_and_keeps_raw_answers(run_dir: Path) -> None:
    fresh = _rows(run_dir)
    con = sqlite3.connect(run_dir / "run.sqlite")
    scores_before = con.execute("SELECT metrics FROM scores").fetchone()[0]
    # What the reader before issue 12 stored for negated answers: the label it denies.
    old = 0
    for row in fresh:
        text = json.loads(row[6])["text"]
        if text.endswith("is not present."):
            denied = text.split(" is not present")[0]
            con.execute(
                "UPDATE results SET status='repaired', prediction=? WHERE sample_id=?",
                (json.dumps({"label": denied, "probabilities": None}), row[3]),
            )
            old += 1
    con.execute(
        "UPDATE manifest SET value=? WHERE key='tasks'",
        (json.dumps({"classification": {"version": "1", "template_hash": "before"}}),),
    )
    con.execute("UPDATE scores SET metrics='{}'")
    con.commit()
    con.close()
    assert old >= 1
    asked = ScriptedVLM.asked

    summary = rescore(run_dir)

    assert ScriptedVLM.asked == asked, "rescore must not ask the model"
    assert len(summary.changed) == old
    assert all(c.after.startswith("repaired") for c in summary.changed)
    after = _rows(run_dir)
    assert [r[6] for r in after] == [r[6] for r in fresh], "raw answers are untouched"
    assert [r[8:11] for r in after] == [r[8:11] for r in fresh], "readings as a fresh run's"
    con = sqlite3.connect(run_dir / "run.sqlite")
    manifest = dict(con.execute("SELECT key, value FROM manifest"))
    metrics = con.execute("SELECT metrics FROM scores").fetchone()[0]
    con.close()
    entry = json.loads(manifest["rescore"])[-1]
    assert entry["readers_before"]["classification"]["version"] == "1"
    assert entry["readers_after"]["classification"]["version"] == "2"
    assert entry["changed"] == old
    strip = ("latency", "cost", "tokens", "cached")
    assert {k: v for k, v in json.loads(metrics).items() if not k.startswith(strip)} == {
        k: v for k, v in json.loads(scores_before).items() if not k.startswith(strip)
    }


def test_rescore_refuses_a_directory_without_a_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no run\.sqlite"):
        rescore(tmp_path)
