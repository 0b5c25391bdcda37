"""``medmine run --batch --structured`` end to end against batch APIs that enforce the rules.

Each family's built-in preset is pointed (a user presets file overriding only ``base_url``) at
a local fake of its provider's batch API: OpenAI Files + Batches (a JSONL input file validated
line by line), Anthropic Message Batches and Gemini batch mode with inline requests. Every
request is checked with the live API's documented rules and answered by a simulated model
that spends reasoning/thinking inside the output limit, so a default budget too small for a
reasoning model would come back empty and cut. The run must complete with nothing rejected,
every answer non-empty, and the batch price in the manifest and the report.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fakebatch import Body, FakeBatchServer
from providerfakes import Sim
from simbatch import SimAnthropicBatch, SimGeminiBatch, SimOpenAIBatch
from typer.testing import CliRunner

from medmine.cli import app

FAMILIES = ["gpt-4o", "gpt-5", "claude-sonnet-4", "gemini-2.5-pro", "gemini-2.5-flash"]
N = 3
runner = CliRunner()


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", "openai-key-0123456789")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "anthropic-key-0123456789")
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key-0123456789")
    monkeypatch.delenv("MEDMINE_PRESETS", raising=False)


@pytest.fixture
def servers() -> Iterator[dict[str, FakeBatchServer]]:
    """One running batch fake per provider; polls=0: a batch has ended at its first poll
    (the CLI polls 15 s apart)."""
    sim = Sim()
    with ExitStack() as stack:
        yield {
            "openai": stack.enter_context(SimOpenAIBatch(sim, polls=0)),
            "anthropic": stack.enter_context(SimAnthropicBatch(sim, polls=0)),
            "gemini": stack.enter_context(SimGeminiBatch(sim, polls=0)),
        }


def _provider(name: str) -> str:
    return "openai" if name.startswith("gpt") else "anthropic" if "claude" in name else "gemini"


def _run(tmp_path: Path, servers: dict[str, FakeBatchServer], models: list[str]) -> str:
    presets = tmp_path / "presets.yaml"
    presets.write_text(
        "".join(
            f"{name}:\n  base_url: {servers[_provider(name)].url}"
            f"{'/v1' if name.startswith('gpt') else ''}\n"
            for name in models
        )
    )
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"name: batch-families\nmodels: [{', '.join(models)}]\ntasks: [classification]\n"
        f"datasets: [demo-dermatology]\npresets: [{presets}]\n"
    )
    out = tmp_path / "run"
    args = ["run", str(suite), "--out", str(out), "--no-progress", "--structured", "--batch"]
    result = runner.invoke(app, [*args, "--limit", str(N)])
    assert result.exit_code == 0, result.output
    return result.output


def test_every_family_runs_batch_structured_with_nothing_rejected(
    tmp_path: Path, servers: dict[str, FakeBatchServer]
) -> None:
    output = _run(tmp_path, servers, FAMILIES)
    assert "errors 0" in output, output
    for provider, server in servers.items():
        # every call the SDKs made was accepted (no 4xx on create, status or results)
        assert all(r.method in ("GET", "POST") for r in server.requests)
        outcomes = [o for b in server.batches.values() for o in b.outcomes.values()]
        assert outcomes and all(isinstance(o, Body) for o in outcomes), (provider, outcomes)
        assert all(b.final not in ("failed",) for b in server.batches.values())
    assert len(servers["openai"].batches) == 2  # one input file per model, as required
    assert len(servers["gemini"].batches) == 2

    con = sqlite3.connect(tmp_path / "run" / "run.sqlite")
    rows = con.execute("SELECT model, status, response FROM results").fetchall()
    manifest = dict(con.execute("SELECT key, value FROM manifest").fetchall())
    con.close()
    assert sorted(m for m, _, _ in rows) == sorted(FAMILIES * N)
    assert {s for _, s, _ in rows} == {"ok"}, rows
    for model, _, stored in rows:
        response = json.loads(stored)
        assert response["text"].strip(), model  # reasoning models answered within budget
        assert response["finish_reason"] not in ("length", "MAX_TOKENS", "max_tokens"), model
        assert response["extra"]["batch"] is True
        assert response["extra"]["batch_discount"] == 0.5
        assert response["cost_usd"] > 0

    figures = json.loads(manifest["batch"])
    assert figures["answered"] == N * len(FAMILIES) and figures["request_errors"] == 0
    models = json.loads(manifest["models"])
    assert {models[m]["batch_discount"] for m in FAMILIES} == {0.5}

    report = (tmp_path / "run" / "report" / "report.md").read_text()
    assert "costed at the batch price" in report and "gpt-5 50%" in report, report
    board = (tmp_path / "run" / "leaderboard.md").read_text()
    assert "costed at the batch price" in board, board


def test_a_too_small_budget_is_caught_in_a_batch_too(
    tmp_path: Path, servers: dict[str, FakeBatchServer]
) -> None:
    """The simulation is not lenient: gpt-5 with no reasoning reserve, only the task's answer
    budget, spends it on reasoning and comes back empty and cut, recorded as truncated."""
    presets = tmp_path / "presets.yaml"
    presets.write_text(f"gpt-5:\n  base_url: {servers['openai'].url}/v1\n  reasoning_tokens: 0\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: small\nmodels: [gpt-5]\ntasks: [classification]\n"
        f"datasets: [demo-dermatology]\npresets: [{presets}]\n"
    )
    out = tmp_path / "run"
    args = ["run", str(suite), "--out", str(out), "--no-progress", "--structured", "--batch"]
    runner.invoke(app, [*args, "--limit", "2"])
    con = sqlite3.connect(out / "run.sqlite")
    rows = con.execute("SELECT status, response FROM results").fetchall()
    con.close()
    assert len(rows) == 2
    for status, stored in rows:
        response = json.loads(stored)
        assert response["finish_reason"] == "length" and not response["text"], response
        assert status == "truncated"  # its own outcome, not a parse failure
