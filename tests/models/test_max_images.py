"""``max_images``: the providers' documented per-request image limits, checked before sending.

A request carrying more images than the preset's ``max_images`` (a few-shot or multi-image
prompt) is never sent: the runner records it per sample as medmine's failure naming the
sample (outcome medmine_error, not a provider error, never scored), and the backend refuses
it too when asked directly.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from conftest import make_request
from fakeservers import FakeServer
from PIL import Image
from providerfakes import Sim, openai_responder

from medmine.core import ImageRef, LabelTarget, Sample
from medmine.models.openai_chat import OpenAIChatModel
from medmine.models.presets import Preset, load_presets
from medmine.models.retry import RetryPolicy
from medmine.run.runner import Job, Runner
from medmine.run.store import RunStore
from medmine.tasks.classification import ClassificationTask

LABELS = ("dark", "bright")


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "openai-key-0123456789")


def _model(server: FakeServer, cap: int) -> OpenAIChatModel:
    preset = load_presets()["gpt-4o"].model_copy(
        update={"base_url": server.url + "/v1", "max_images": cap}
    )
    return OpenAIChatModel(preset, retry_policy=RetryPolicy(max_attempts=1))


def _image(path: Path, level: int) -> ImageRef:
    Image.fromarray(np.full((16, 16, 3), level, np.uint8)).save(path)
    return ImageRef(path)


def test_documented_limits_are_on_the_cloud_presets() -> None:
    presets = load_presets()
    expected = {"openai": 500, "anthropic": 100, "gemini": 3000}
    for name in ("gpt-4o", "gpt-5", "claude-sonnet-4", "gemini-2.5-pro", "gemini-2.5-flash"):
        assert presets[name].max_images == expected[presets[name].provider], name
    assert presets["llamacpp-server"].max_images is None  # the server's own setting
    with pytest.raises(ValueError):
        Preset(name="x", provider="openai", model_id="m", max_images=0)


def test_a_request_over_the_limit_is_never_sent(tmp_path: Path) -> None:
    server = FakeServer()
    server.responder = openai_responder(Sim())
    images = tuple(_image(tmp_path / f"i{i}.png", 40) for i in range(3))
    with server:
        response = asyncio.run(_model(server, 2).generate(make_request(images=images)))
        assert server.requests == []
    assert response.error_kind == "too_many_images"
    assert response.error is not None and response.error.startswith("sample s1:")
    assert "3 images" in response.error and "at most 2" in response.error


def test_the_runner_records_over_limit_samples_as_medmine_errors_naming_them(
    tmp_path: Path,
) -> None:
    """Samples 0 and 2 carry 3 images (over a limit of 2): not sent, medmine_error, named;
    samples 1 and 3 carry 1 image and are asked and scored."""
    samples = []
    for i in range(4):
        n = 3 if i % 2 == 0 else 1
        refs = tuple(_image(tmp_path / f"s{i}_{k}.png", 40 + k) for k in range(n))
        target = LabelTarget(LABELS[0], LABELS)
        samples.append(Sample(f"s{i}", "toy", refs, targets={"classification": target}))
    sim = Sim(answer=json.dumps({"label": "dark"}))
    server = FakeServer()
    server.responder = openai_responder(sim)
    run_dir = tmp_path / "run"
    with server:
        store = RunStore(run_dir)
        runner = Runner(store, None, progress=False)
        job = Job(_model(server, 2), ClassificationTask(), "toy", samples)
        runner.score(asyncio.run(runner.run([job])))
        store.close()
        sent = [len(r.body["messages"][-1]["content"]) for r in server.requests]
    assert len(sent) == 2  # only the two one-image samples were sent
    assert runner.summary.medmine_errors == 2 and runner.summary.errors == 0
    con = sqlite3.connect(run_dir / "run.sqlite")
    ends = dict(
        con.execute("SELECT sample_id, outcome || ' | ' || coalesce(detail, '') FROM outcomes")
    )
    scores = con.execute("SELECT metrics, tables FROM scores").fetchone()
    con.close()
    for sid in ("s0", "s2"):
        assert ends[sid].startswith(f"medmine_error | sample {sid}: its request carries 3 images")
        assert "takes at most 2 per request" in ends[sid]
    assert ends["s1"].startswith("ok") and ends["s3"].startswith("ok")
    metrics, tables = json.loads(scores[0]), json.loads(scores[1])
    assert metrics["n"] == 2 and metrics["n_not_run"] == 2  # never scored as the model's
    assert tables["outcomes"] == {"ok": 2, "medmine_error": 2}
