"""``medmine run --structured`` end to end against simulated providers that enforce the rules.

The built-in presets of each family are pointed at one local server (a user presets file that
overrides only ``base_url``) which answers OpenAI, Anthropic and Gemini paths like the real
APIs, rejecting what they reject. Every request must be accepted and every reasoning model must
answer within its default budgets; an echoed key must appear nowhere in the run directory.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fakeservers import FakeServer, Recorded, Reply
from providerfakes import Sim, anthropic_responder, gemini_responder, openai_responder
from typer.testing import CliRunner

from medmine.cli import app

FAMILIES = ["gpt-4o", "gpt-5", "claude-sonnet-4", "gemini-2.5-pro", "gemini-2.5-flash"]
runner = CliRunner()
ECHOED = "sk-live-Echo_of+a/KEY.value-778899"


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", "openai-key-0123456789")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "anthropic-key-0123456789")
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key-0123456789")
    monkeypatch.delenv("MEDMINE_PRESETS", raising=False)


def _server(sim: Sim, statuses: list[int] | None = None) -> FakeServer:
    """One server speaking the three providers' formats (by path); ``statuses`` collects the
    HTTP status of every answer."""
    server = FakeServer()
    seen = statuses if statuses is not None else []
    responders = {
        "openai": openai_responder(sim),
        "anthropic": anthropic_responder(sim),
        "gemini": gemini_responder(sim),
    }

    def route(req: Recorded) -> Reply:
        if req.path.startswith("/v1/chat/completions"):
            reply = responders["openai"](req)
        elif req.path.startswith("/v1/messages"):
            reply = responders["anthropic"](req)
        else:
            reply = responders["gemini"](req)
        seen.append(reply.status)
        return reply

    server.responder = route
    return server


def _presets(tmp_path: Path, server: FakeServer, names: list[str], **extra: str) -> Path:
    path = tmp_path / "presets.yaml"
    lines = []
    for name in names:
        base = server.url + ("/v1" if name.startswith("gpt") else "")
        lines.append(f"{name}:\n  base_url: {base}\n")
        lines += [f"  {k}: {v}\n" for k, v in extra.items()]
    path.write_text("".join(lines))
    return path


def _run(tmp_path: Path, presets: Path, models: list[str], out: Path) -> str:
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"name: families\nmodels: [{', '.join(models)}]\ntasks: [classification]\n"
        f"datasets: [demo-dermatology]\npresets: [{presets}]\n"
    )
    result = runner.invoke(
        app,
        ["run", str(suite), "--out", str(out), "--no-progress", "--structured", "--limit", "3"],
    )
    return result.output


def test_every_family_runs_structured_with_nothing_rejected(tmp_path: Path) -> None:
    statuses: list[int] = []
    with _server(Sim(), statuses) as server:
        presets = _presets(tmp_path, server, FAMILIES)
        output = _run(tmp_path, presets, FAMILIES, tmp_path / "run")
    assert "errors 0" in output, output
    assert statuses == [200] * 3 * len(FAMILIES)  # each request accepted at once
    con = sqlite3.connect(tmp_path / "run" / "run.sqlite")
    rows = con.execute("SELECT model, status FROM results").fetchall()
    con.close()
    assert {m for m, _ in rows} == set(FAMILIES)
    assert len(rows) == 3 * len(FAMILIES)
    assert {s for _, s in rows} == {"ok"}, rows


def test_an_echoed_key_is_stored_and_reported_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", ECHOED)
    with _server(Sim(echo_key=True)) as server:
        presets = _presets(tmp_path, server, ["gpt-4o"])
        _run(tmp_path, presets, ["gpt-4o"], tmp_path / "run")
    leaked = [
        p
        for p in (tmp_path / "run").rglob("*")
        if p.is_file() and ECHOED.encode() in p.read_bytes()
    ]
    assert not leaked
    con = sqlite3.connect(tmp_path / "run" / "run.sqlite")
    (errors,) = con.execute("SELECT count(*) FROM results WHERE status = 'error'").fetchone()
    con.close()
    assert errors == 3  # recorded as errors, with the key masked


def test_llamacpp_server_that_drops_images_gives_image_dropped_failures(tmp_path: Path) -> None:
    """llama-server without a vision projector answers from the text alone, streams no usage
    and serves one stream at a time: every answer is recorded as 'image dropped'."""
    sim = Sim(answer="Melanocytic nevus.", drop_images=True, usage_in_stream=False)
    with _server(sim) as server:
        presets = tmp_path / "presets.yaml"
        presets.write_text(f"llamacpp-server:\n  base_url: {server.url}/v1\n")
        output = _run(tmp_path, presets, ["llamacpp-server"], tmp_path / "run")
    # the single-slot warning is printed at run start, not only kept in the manifest
    assert "warning: llamacpp-server: the server answers one stream at a time" in output
    assert output.index("one stream at a time") < output.index("asked 3")
    report = (tmp_path / "run" / "report" / "report.md").read_text()
    assert "Warning (llamacpp-server): llamacpp-server: the server answers one stream" in report
    con = sqlite3.connect(tmp_path / "run" / "run.sqlite")
    rows = con.execute("SELECT status, detail FROM results").fetchall()
    con.close()
    assert len(rows) == 3
    assert all(s == "error" and d.startswith("image dropped") for s, d in rows), rows


def test_single_stream_warning_names_the_concurrency_asked() -> None:
    from medmine.models.factory import build_model
    from medmine.models.presets import load_presets

    model = build_model(load_presets()["llamacpp-server"])
    assert model.max_concurrency == 1
    (plain,) = model.warnings()
    assert "one request at a time (start it" in plain
    (asked,) = model.warnings(8)
    assert "one request at a time although 8 were asked" in asked
