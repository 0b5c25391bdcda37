"""Exception text the runner stores or prints passes through the shared secrets redaction.

A backend raises an exception whose message carries the value of its key variable, one with
no known key shape under a variable name that does not say "key": only the redaction of every
key value in use can catch it. It must appear nowhere in the run directory (run.sqlite and its
journal, leaderboards, report) nor in what the command prints.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medmine.cli import app
from medmine.core import Request, Response
from medmine.models import factory
from medmine.models.openai_chat import OpenAIChatModel
from medmine.models.presets import Preset

KEY = "Zq7plainValue998877xx"  # no provider prefix: not caught by shape


class Raising(OpenAIChatModel):
    """An OpenAI backend with a bug: it raises with the key in the message."""

    async def generate(self, request: Request) -> Response:
        raise RuntimeError(f"proxy refused credentials {self.preset.api_key()} for gpt-4o")


def test_a_backend_exception_with_the_key_is_redacted_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MY_LAB_ACCESS", KEY)
    monkeypatch.delenv("MEDMINE_PRESETS", raising=False)

    def build(preset: Preset) -> Raising:
        return Raising(preset)

    monkeypatch.setitem(factory.PROVIDERS, "openai", build)
    presets = tmp_path / "presets.yaml"
    presets.write_text(
        "lab-gpt:\n  provider: openai\n  model_id: gpt-4o\n  base_url: http://127.0.0.1:9/v1\n"
        "  api_key_env: MY_LAB_ACCESS\n"
    )
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: leak\nmodels: [lab-gpt]\ntasks: [classification]\n"
        f"datasets: [demo-dermatology]\npresets: [{presets}]\n"
    )
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["run", str(suite), "--out", str(out), "--no-progress", "--limit", "3"]
    )
    assert KEY not in result.output
    con = sqlite3.connect(out / "run.sqlite")
    rows = con.execute("SELECT status, response, detail FROM results").fetchall()
    outcomes = con.execute("SELECT detail FROM outcomes").fetchall()
    con.close()
    assert len(rows) == 3
    for _, response, _ in rows:
        assert "RuntimeError: proxy refused credentials *** for gpt-4o" in response
    assert all("***" in (d or "") for (d,) in outcomes), outcomes
    leaked = [p for p in out.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert not leaked
    assert (out / "report" / "report.html").is_file()  # the report was written, and is clean
