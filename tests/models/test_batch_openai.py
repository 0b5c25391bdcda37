"""OpenAI Batch API channel against a local fake of /v1/files and /v1/batches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakebatch import (
    Fail,
    FakeOpenAIBatch,
    Ok,
    batch_run,
    by_sample,
    right_answer,
    stored,
    toy_samples,
)

from medmine.models.openai_chat import OpenAIChatModel
from medmine.models.presets import Preset
from medmine.models.retry import RetryPolicy

PRICE_IN, PRICE_OUT = 2.5, 10.0


def _model(server: FakeOpenAIBatch, fast_policy: RetryPolicy, **overrides: Any) -> OpenAIChatModel:
    fields: dict[str, Any] = {
        "name": "gpt-batch",
        "provider": "openai",
        "model_id": "gpt-4o",
        "base_url": server.url + "/v1",
        "api_key_env": "MEDMINE_TEST_OPENAI_KEY",
        "price_input_per_mtok": PRICE_IN,
        "price_output_per_mtok": PRICE_OUT,
        "max_image_edge": 64,
        "timeout_s": 5,
    }
    fields.update(overrides)
    return OpenAIChatModel(Preset.model_validate(fields), retry_policy=fast_policy)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_TEST_OPENAI_KEY", "sk-test-secret-key-123456")


def _batch_jobs(run_dir: Path) -> list[Any]:
    """The batch jobs the driver recorded in the run store."""
    from medmine.run.store import RunStore

    store = RunStore(run_dir)
    try:
        return store.batch_jobs()
    finally:
        store.close()


def test_normal_completion_wire_format_and_batch_price(
    tmp_path: Path, fast_policy: RetryPolicy
) -> None:
    run_dir = tmp_path / "run"
    plan = by_sample(run_dir, lambda i, sid, line: Ok(right_answer(sid), 300, 7))
    with FakeOpenAIBatch(plan=plan, polls=2) as server:
        summary, runner, waits = batch_run(
            run_dir, _model(server, fast_policy), toy_samples(tmp_path)
        )
        assert server.count("POST", r"^/v1/files$") == 1
        assert server.count("POST", r"^/v1/batches$") == 1
        upload = server.uploads[0]
        assert upload["purpose"] == b"batch" and upload["filename"].endswith(".jsonl")
        created = server.requests[[r.path for r in server.requests].index("/v1/batches")]
        assert created.body["endpoint"] == "/v1/chat/completions"
        assert created.body["completion_window"] == "24h"
        assert created.body["input_file_id"] == upload["id"]
        assert created.headers["authorization"] == "Bearer sk-test-secret-key-123456"
        lines = [json.loads(x) for x in upload["file"].decode().splitlines()]
    assert len(lines) == 4 and len({x["custom_id"] for x in lines}) == 4
    for line in lines:
        assert line["method"] == "POST" and line["url"] == "/v1/chat/completions"
        body = line["body"]
        assert body["model"] == "gpt-4o" and "stream" not in body
        assert body["max_completion_tokens"] == 256 and body["temperature"] == 0.0
        parts = body["messages"][0]["content"]
        assert parts[0]["type"] == "image_url"
        assert parts[0]["image_url"]["url"].startswith("data:image/")
    assert waits == [0.5, 1.0]
    assert summary.answered == 4 and runner.summary.errors == 0
    rows = stored(run_dir)
    for row in rows.values():
        r = row.response
        assert row.prediction.status.value == "ok"
        assert r.extra["batch"] is True and r.extra["batch_id"] == "batch_1"
        assert r.latency_s is None
        assert r.usage.input_tokens == 300 and r.usage.output_tokens == 7
        assert r.cost_usd == pytest.approx(0.5 * (300 * PRICE_IN + 7 * PRICE_OUT) / 1e6)


def test_expired_batch_keeps_answers_and_resubmits_the_rest(
    tmp_path: Path, fast_policy: RetryPolicy
) -> None:
    run_dir = tmp_path / "run"

    def decide(index: int, sid: str, line: Any) -> Ok | None:
        if index == 0 and sid in ("s0", "s2"):
            return None  # not run before the window ended: error file says batch_expired
        return Ok(right_answer(sid), 100 + index, 5)

    final = {0: "expired"}
    with FakeOpenAIBatch(
        plan=by_sample(run_dir, decide), final=lambda i: final.get(i, "completed")
    ) as server:
        summary, runner, _ = batch_run(run_dir, _model(server, fast_policy), toy_samples(tmp_path))
        assert server.count("POST", r"^/v1/batches$") == 2
        second = server.batches["batch_2"].entries
        sample_of = {it.custom_id: it.sample_id for job in _batch_jobs(run_dir) for it in job.items}
        assert sorted(sample_of[cid] for cid, _ in second) == ["s0", "s2"]
    rows = stored(run_dir)
    assert {s: r.response.extra["batch_id"] for s, r in rows.items()} == {
        "s0": "batch_2",
        "s1": "batch_1",
        "s2": "batch_2",
        "s3": "batch_1",
    }
    assert all(r.prediction.status.value == "ok" for r in rows.values())
    assert summary.resubmitted == 2 and runner.summary.errors == 0


def test_interrupted_run_polls_the_stored_batch(tmp_path: Path, fast_policy: RetryPolicy) -> None:
    run_dir = tmp_path / "run"
    samples = toy_samples(tmp_path)

    class Stop(Exception):
        pass

    async def stop(seconds: float) -> None:
        raise Stop

    plan = by_sample(run_dir, lambda i, sid, line: Ok(right_answer(sid)))
    with FakeOpenAIBatch(plan=plan, polls=2) as server:
        with pytest.raises(Stop):
            batch_run(run_dir, _model(server, fast_policy), samples, sleep=stop)
        assert stored(run_dir) == {}
        summary, runner, _ = batch_run(run_dir, _model(server, fast_policy), samples)
        assert server.count("POST", r"^/v1/batches$") == 1  # exactly one create
        assert server.count("POST", r"^/v1/files$") == 1
        assert server.count("GET", r"^/v1/batches/batch_1$") >= 3
    assert summary.batches_resumed == 1 and summary.batches_submitted == 0
    assert runner.summary.asked == 4 and len(stored(run_dir)) == 4


def test_error_lines_are_recorded_per_sample(tmp_path: Path, fast_policy: RetryPolicy) -> None:
    run_dir = tmp_path / "run"

    def decide(index: int, sid: str, line: Any) -> Ok | Fail:
        if sid == "s1":
            return Fail(400, "Invalid image for sk-leaked-key-0000000")
        if sid == "s2" and index == 0:
            return Fail(500, "internal error")  # retryable: resubmitted
        return Ok(right_answer(sid))

    with FakeOpenAIBatch(plan=by_sample(run_dir, decide)) as server:
        summary, runner, _ = batch_run(run_dir, _model(server, fast_policy), toy_samples(tmp_path))
        assert server.count("POST", r"^/v1/batches$") == 2
    rows = stored(run_dir)
    bad = rows["s1"].response
    assert rows["s1"].prediction.status.value == "error"
    assert bad.error_kind == "client" and "HTTP 400" in (bad.error or "")
    assert "Invalid image" in (bad.error or "") and "sk-leaked" not in (bad.error or "")
    assert rows["s2"].prediction.status.value == "ok"
    assert summary.request_errors == 1 and runner.summary.errors == 1


def test_failed_batch_reports_the_validation_error(
    tmp_path: Path, fast_policy: RetryPolicy
) -> None:
    run_dir = tmp_path / "run"
    with FakeOpenAIBatch(final=lambda i: "failed") as server:
        batch_run(run_dir, _model(server, fast_policy), toy_samples(tmp_path, 2))
    rows = stored(run_dir)
    assert {r.response.error_kind for r in rows.values()} == {"batch_failed"}
    assert all("line 1: bad model" in (r.response.error or "") for r in rows.values())


def test_transient_poll_failure_is_retried(tmp_path: Path, fast_policy: RetryPolicy) -> None:
    run_dir = tmp_path / "run"
    plan = by_sample(run_dir, lambda i, sid, line: Ok(right_answer(sid)))
    with FakeOpenAIBatch(plan=plan) as server:
        server.faults.append(("/v1/batches/batch_1", 503, {"error": {"message": "busy"}}))
        summary, _, _ = batch_run(run_dir, _model(server, fast_policy), toy_samples(tmp_path, 2))
    assert summary.answered == 2


def test_compatible_servers_and_baselines_have_no_channel(fast_policy: RetryPolicy) -> None:
    from medmine.baselines.classifiers import MajorityClass
    from medmine.run.batch import default_channel

    preset = Preset(name="local", provider="openai_compatible", model_id="m", base_url="http://x")
    assert default_channel(OpenAIChatModel(preset)) is None
    assert default_channel(MajorityClass()) is None
