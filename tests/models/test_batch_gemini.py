"""Gemini batch mode channel against a local fake of batchGenerateContent and batches.get."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakebatch import (
    Fail,
    FakeGeminiBatch,
    Ok,
    batch_run,
    by_sample,
    right_answer,
    stored,
    toy_samples,
)

from medmine.models.gemini import GeminiModel
from medmine.models.presets import Preset
from medmine.models.retry import RetryPolicy
from medmine.run.store import RunStore

PRICE_IN, PRICE_OUT = 0.3, 2.5


def _model(server: FakeGeminiBatch, fast_policy: RetryPolicy, **overrides: Any) -> GeminiModel:
    fields: dict[str, Any] = {
        "name": "gemini-batch",
        "provider": "gemini",
        "model_id": "gemini-2.5-flash",
        "base_url": server.url,
        "api_key_env": "MEDMINE_TEST_GEMINI_KEY",
        "price_input_per_mtok": PRICE_IN,
        "price_output_per_mtok": PRICE_OUT,
        "max_image_edge": 64,
        "stream": False,
        "timeout_s": 5,
    }
    fields.update(overrides)
    return GeminiModel(Preset.model_validate(fields), retry_policy=fast_policy)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_TEST_GEMINI_KEY", "AIzaTestSecretKey1234567")


def test_normal_completion_wire_format_and_batch_price(
    tmp_path: Path, fast_policy: RetryPolicy
) -> None:
    run_dir = tmp_path / "run"
    plan = by_sample(run_dir, lambda i, sid, r: Ok(right_answer(sid), 250, 4))
    with FakeGeminiBatch(plan=plan, polls=2) as server:
        summary, runner, waits = batch_run(
            run_dir, _model(server, fast_policy), toy_samples(tmp_path)
        )
        (create,) = [r for r in server.requests if r.method == "POST"]
        assert create.path.endswith("/models/gemini-2.5-flash:batchGenerateContent")
        assert create.headers["x-goog-api-key"] == "AIzaTestSecretKey1234567"
        assert create.body["batch"]["displayName"] == "medmine-gemini-batch"
        inline = create.body["batch"]["inputConfig"]["requests"]["requests"]
        assert server.count("GET", r"/batches/b1$") == 4  # 3 status polls + the results
    assert len(inline) == 4 and len({r["metadata"]["key"] for r in inline}) == 4
    for item in inline:
        request = item["request"]
        config = request["generationConfig"]
        assert config["temperature"] == 0.0 and config["maxOutputTokens"] == 256
        parts = request["contents"][0]["parts"]
        assert "inlineData" in parts[0] and "text" in parts[1]
    assert waits == [0.5, 1.0]
    assert summary.answered == 4 and runner.summary.errors == 0
    for row in stored(run_dir).values():
        r = row.response
        assert row.prediction.status.value == "ok"
        assert r.extra["batch"] is True and r.extra["batch_id"] == "batches/b1"
        assert r.latency_s is None and r.finish_reason == "STOP"
        assert r.cost_usd == pytest.approx(0.5 * (250 * PRICE_IN + 4 * PRICE_OUT) / 1e6)


def test_responses_without_metadata_are_matched_by_position(
    tmp_path: Path, fast_policy: RetryPolicy
) -> None:
    run_dir = tmp_path / "run"
    plan = by_sample(run_dir, lambda i, sid, r: Ok(right_answer(sid)))
    with FakeGeminiBatch(plan=plan, echo_metadata=False) as server:
        batch_run(run_dir, _model(server, fast_policy), toy_samples(tmp_path))
    store = RunStore(run_dir)
    (scores,) = store.scores()
    store.close()
    assert scores["metrics"]["accuracy"] == 1.0  # every answer reached its own sample


def test_expired_job_keeps_answers_and_resubmits_the_rest(
    tmp_path: Path, fast_policy: RetryPolicy
) -> None:
    run_dir = tmp_path / "run"

    def decide(index: int, sid: str, request: Any) -> Ok | None:
        if index == 0 and sid in ("s1", "s2"):
            return None
        return Ok(right_answer(sid))

    final = {0: "BATCH_STATE_EXPIRED"}
    with FakeGeminiBatch(
        plan=by_sample(run_dir, decide), final=lambda i: final.get(i, "BATCH_STATE_SUCCEEDED")
    ) as server:
        summary, _, _ = batch_run(run_dir, _model(server, fast_policy), toy_samples(tmp_path))
        assert server.count("POST", r"batchGenerateContent$") == 2
        assert len(server.batches["batches/b2"].entries) == 2
    rows = stored(run_dir)
    assert {s: r.response.extra["batch_id"] for s, r in rows.items()} == {
        "s0": "batches/b1",
        "s1": "batches/b2",
        "s2": "batches/b2",
        "s3": "batches/b1",
    }
    assert all(r.prediction.status.value == "ok" for r in rows.values())
    assert summary.resubmitted == 2


def test_interrupted_run_polls_the_stored_job(tmp_path: Path, fast_policy: RetryPolicy) -> None:
    run_dir = tmp_path / "run"
    samples = toy_samples(tmp_path)

    class Stop(Exception):
        pass

    async def stop(seconds: float) -> None:
        raise Stop

    plan = by_sample(run_dir, lambda i, sid, r: Ok(right_answer(sid)))
    with FakeGeminiBatch(plan=plan, polls=3) as server:
        with pytest.raises(Stop):
            batch_run(run_dir, _model(server, fast_policy), samples, sleep=stop)
        summary, runner, _ = batch_run(run_dir, _model(server, fast_policy), samples)
        assert server.count("POST", r"batchGenerateContent$") == 1  # exactly one create
    assert summary.batches_resumed == 1 and runner.summary.asked == 4


def test_request_errors_and_failed_jobs(tmp_path: Path, fast_policy: RetryPolicy) -> None:
    run_dir = tmp_path / "run"

    def decide(index: int, sid: str, request: Any) -> Ok | Fail:
        return Fail(400, "Request contains an invalid argument.") if sid == "s2" else Ok("{}")

    with FakeGeminiBatch(plan=by_sample(run_dir, decide)) as server:
        summary, _, _ = batch_run(run_dir, _model(server, fast_policy), toy_samples(tmp_path))
    rows = stored(run_dir)
    assert rows["s2"].response.error_kind == "client"
    assert "invalid argument" in (rows["s2"].response.error or "")
    assert summary.request_errors == 1

    run_dir = tmp_path / "run2"
    with FakeGeminiBatch(final=lambda i: "BATCH_STATE_FAILED") as server:
        batch_run(run_dir, _model(server, fast_policy), toy_samples(tmp_path, 2))
    assert {r.response.error_kind for r in stored(run_dir).values()} == {"batch_failed"}


def test_preset_extra_body_is_refused_for_batch(fast_policy: RetryPolicy) -> None:
    from medmine.models.batch_gemini import GeminiBatchChannel

    preset = Preset(
        name="g", provider="gemini", model_id="gemini-2.5-flash", extra_body={"labels": {}}
    )
    with pytest.raises(ValueError, match="extra_body"):
        GeminiBatchChannel(GeminiModel(preset))
