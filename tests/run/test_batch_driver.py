"""The --batch driver against an in-memory batch provider: submit, poll, ingest, resubmit, resume.

The provider channels themselves are tested against local HTTP servers in tests/models; here
the channel is a plain object so the driver's bookkeeping can be checked exactly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from medmine.baselines.classifiers import MajorityClass
from medmine.core import ImageRef, LabelTarget, Request, Sample
from medmine.models.base import CallResult
from medmine.models.openai_chat import OpenAIChatModel
from medmine.models.presets import Preset
from medmine.models.retry import ProviderError, RetryPolicy
from medmine.run.batch import BatchStatus, ItemError, run_batch
from medmine.run.runner import Job, Runner
from medmine.run.store import ResponseCache, RunStore
from medmine.tasks.classification import ClassificationTask

LABELS = ("dark", "bright")
PRICE_IN, PRICE_OUT = 2.0, 8.0


# --------------------------------------------------------------------------- fixtures


def _samples(tmp_path: Path, n: int = 5) -> list[Sample]:
    """n small images, alternately dark and bright."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        label = LABELS[i % 2]
        path = tmp_path / f"img_{i}.png"
        level = 40 if label == "dark" else 210
        pixels = rng.normal(level, 10, (16, 16, 3)).clip(0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(path)
        out.append(
            Sample(
                f"s{i}",
                "toy",
                (ImageRef(path),),
                targets={"classification": LabelTarget(label, LABELS)},
            )
        )
    return out


def _model(**overrides: Any) -> OpenAIChatModel:
    sleeps: list[float] = []

    async def no_wait(seconds: float) -> None:
        sleeps.append(seconds)

    fields: dict[str, Any] = {
        "name": "gpt-test",
        "provider": "openai",
        "model_id": "gpt-test-1",
        "price_input_per_mtok": PRICE_IN,
        "price_output_per_mtok": PRICE_OUT,
    }
    fields.update(overrides)
    policy = RetryPolicy(max_attempts=3, initial_s=0.01, max_s=0.02, jitter=False, sleep=no_wait)
    return OpenAIChatModel(Preset.model_validate(fields), retry_policy=policy)


def _label_of(request: Request) -> str:
    """The right answer for a toy request (read from the image's brightness)."""
    image = request.images()[0]
    return "dark" if np.asarray(Image.open(image.path)).mean() < 128 else "bright"


@dataclass
class Provider:
    """An in-memory batch provider shared by channels (survives a 'restart')."""

    plan: Callable[[int, str, Request], CallResult | ItemError | None] = lambda i, cid, r: (
        CallResult(json.dumps({"label": _label_of(r)}), 120, 6)
    )
    final: Callable[[int], str] = lambda index: "completed"
    polls: int = 2
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    creates: int = 0
    status_calls: int = 0
    fail_create: ProviderError | None = None
    fail_status: ProviderError | None = None


class MemoryChannel:
    """A BatchChannel over a Provider."""

    provider = "openai"

    def __init__(self, model: OpenAIChatModel, state: Provider, max_requests: int = 100) -> None:
        self.model = model
        self.state = state
        self.max_requests = max_requests
        self.max_bytes = 10**9

    def build(self, custom_id: str, request: Request) -> tuple[Any, int]:
        self.model._encode_images(request)  # as a real channel would (raises on bad images)
        return (custom_id, request), 100

    async def create(self, entries: Sequence[Any]) -> str:
        if self.state.fail_create is not None:
            raise self.state.fail_create
        self.state.creates += 1
        batch_id = f"mem-{len(self.state.batches) + 1}"
        index = len(self.state.batches)
        self.state.batches[batch_id] = {
            "index": index,
            "entries": list(entries),
            "polls_left": self.state.polls,
        }
        return batch_id

    async def status(self, batch_id: str) -> BatchStatus:
        self.state.status_calls += 1
        if self.state.fail_status is not None:
            raise self.state.fail_status
        batch = self.state.batches[batch_id]
        if batch["polls_left"] > 0:
            batch["polls_left"] -= 1
            return BatchStatus("in_progress")
        final = self.state.final(batch["index"])
        return BatchStatus(final, final)  # type: ignore[arg-type]

    async def results(
        self, batch_id: str, custom_ids: Sequence[str]
    ) -> dict[str, CallResult | ItemError]:
        batch = self.state.batches[batch_id]
        assert [cid for cid, _ in batch["entries"]] == list(custom_ids)
        out: dict[str, CallResult | ItemError] = {}
        for cid, request in batch["entries"]:
            result = self.state.plan(batch["index"], cid, request)
            if result is not None:
                out[cid] = result
        return out


def _run(
    run_dir: Path,
    samples: list[Sample],
    state: Provider,
    *,
    model: OpenAIChatModel | None = None,
    cache: ResponseCache | None = None,
    sleep: Any = None,
    max_rounds: int = 3,
    max_requests: int = 100,
    extra_jobs: Sequence[Job] = (),
) -> tuple[Any, Runner, list[float]]:
    """One run with --batch; returns (summary, runner, poll waits)."""
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    model = model or _model()
    store = RunStore(run_dir)
    runner = Runner(store, cache, progress=False)
    job = Job(model, ClassificationTask(), "toy", samples)
    try:
        summary = asyncio.run(
            run_batch(
                runner,
                [job, *extra_jobs],
                poll_initial_s=1.0,
                poll_max_s=3.0,
                max_rounds=max_rounds,
                sleep=sleep or record,
                channel_for=lambda m: (
                    MemoryChannel(m, state, max_requests)
                    if isinstance(m, OpenAIChatModel)
                    else None
                ),
            )
        )
        runner.score(summary.jobs)
    finally:
        store.close()
    return summary, runner, waits


def _rows(run_dir: Path) -> dict[str, Any]:
    store = RunStore(run_dir)
    try:
        return {r.sample_id: r for r in store.results(model="gpt-test")}
    finally:
        store.close()


# --------------------------------------------------------------------------- tests


def test_normal_completion_stores_parsed_answers_at_the_batch_price(tmp_path: Path) -> None:
    state = Provider()
    summary, runner, waits = _run(tmp_path / "run", _samples(tmp_path), state)
    assert state.creates == 1 and summary.batches_submitted == 1
    assert summary.requests_submitted == 5 and summary.answered == 5
    assert runner.summary.asked == 5 and runner.summary.errors == 0
    assert waits == [1.0, 2.0]  # two 'in progress' polls: exponential backoff 1 s, 2 s

    rows = _rows(tmp_path / "run")
    assert len(rows) == 5
    for row in rows.values():
        r = row.response
        assert row.prediction.status.value == "ok"
        assert r.extra["batch"] is True and r.extra["batch_id"] == "mem-1"
        assert r.extra["batch_round"] == 0 and r.extra["batch_discount"] == 0.5
        assert r.latency_s is None and r.ttft_s is None
        assert r.usage.input_tokens == 120 and r.usage.output_tokens == 6
        assert r.cost_usd == pytest.approx(0.5 * (120 * PRICE_IN + 6 * PRICE_OUT) / 1e6)
    store = RunStore(tmp_path / "run")
    (scores,) = store.scores()
    assert scores["metrics"]["accuracy"] == 1.0
    assert "latency_mean_s" not in scores["metrics"]  # batch answers have no latency
    assert scores["metrics"]["cost_usd"] == pytest.approx(
        5 * 0.5 * (120 * PRICE_IN + 6 * PRICE_OUT) / 1e6
    )
    (job,) = store.batch_jobs()
    assert job.state == "ingested" and job.round == 0 and len(job.items) == 5
    assert {it.sample_id for it in job.items} == {f"s{i}" for i in range(5)}
    store.close()


def test_preset_batch_discount_sets_the_price(tmp_path: Path) -> None:
    state = Provider()
    _run(tmp_path / "run", _samples(tmp_path, 2), state, model=_model(batch_discount=0.4))
    for row in _rows(tmp_path / "run").values():
        assert row.response.cost_usd == pytest.approx(0.4 * (120 * PRICE_IN + 6 * PRICE_OUT) / 1e6)


def test_expired_batch_keeps_answers_and_resubmits_the_rest(tmp_path: Path) -> None:
    def plan(index: int, cid: str, request: Request) -> CallResult | None:
        if index == 0 and request.intent.sample_id in ("s1", "s3"):
            return None  # the first batch expires before these two ran
        return CallResult(json.dumps({"label": _label_of(request)}), 100 + index, 5)

    state = Provider(plan=plan, final=lambda i: "expired" if i == 0 else "completed")
    summary, runner, _ = _run(tmp_path / "run", _samples(tmp_path), state)
    assert state.creates == 2 and summary.resubmitted == 2
    second = state.batches["mem-2"]["entries"]
    assert sorted(r.intent.sample_id for _, r in second) == ["s1", "s3"]
    rows = _rows(tmp_path / "run")
    assert {s: r.response.extra["batch_id"] for s, r in rows.items()} == {
        "s0": "mem-1",
        "s1": "mem-2",
        "s2": "mem-1",
        "s3": "mem-2",
        "s4": "mem-1",
    }
    assert rows["s1"].response.extra["batch_round"] == 1
    assert rows["s1"].response.usage.input_tokens == 101  # the resubmitted answer is kept
    assert runner.summary.errors == 0 and summary.answered == 5


def test_requests_unanswered_after_the_last_round_are_errors(tmp_path: Path) -> None:
    def plan(index: int, cid: str, request: Request) -> CallResult | None:
        if request.intent.sample_id == "s0":
            return None  # never answered
        return CallResult(json.dumps({"label": _label_of(request)}), 100, 5)

    state = Provider(plan=plan, final=lambda i: "expired")
    summary, runner, _ = _run(tmp_path / "run", _samples(tmp_path, 3), state, max_rounds=2)
    assert state.creates == 2 and summary.gave_up == 1 and runner.summary.errors == 1
    rows = _rows(tmp_path / "run")
    assert rows["s0"].prediction.status.value == "error"
    assert rows["s0"].response.error_kind == "batch_expired"
    assert "2 batch round(s)" in (rows["s0"].response.error or "")
    assert rows["s1"].prediction.status.value == "ok"
    # an error is not an answer: a rerun asks s0 again (and only s0)
    state.plan = lambda i, cid, r: CallResult(json.dumps({"label": _label_of(r)}), 100, 5)
    state.final = lambda i: "completed"
    _run(tmp_path / "run", _samples(tmp_path, 3), state)
    assert state.creates == 3 and len(state.batches["mem-3"]["entries"]) == 1
    assert _rows(tmp_path / "run")["s0"].prediction.status.value == "ok"


def test_request_level_errors_are_recorded_per_sample(tmp_path: Path) -> None:
    def plan(index: int, cid: str, request: Request) -> CallResult | ItemError | None:
        sid = request.intent.sample_id
        if sid == "s2":
            return ItemError("client", "client (HTTP 400): image too large")
        if sid == "s3" and index == 0:
            return ItemError("server", "server (HTTP 500): oops", retry=True)
        return CallResult(json.dumps({"label": _label_of(request)}), 100, 5)

    state = Provider(plan=plan)
    summary, runner, _ = _run(tmp_path / "run", _samples(tmp_path), state)
    rows = _rows(tmp_path / "run")
    assert rows["s2"].prediction.status.value == "error"
    assert rows["s2"].response.error_kind == "client"
    assert "image too large" in (rows["s2"].response.error or "")
    assert rows["s2"].response.extra["batch_id"] == "mem-1"
    assert rows["s3"].prediction.status.value == "ok"  # retryable: resubmitted and answered
    assert rows["s3"].response.extra["batch_id"] == "mem-2"
    assert summary.request_errors == 1 and runner.summary.errors == 1


class Interrupted(Exception):
    """Stands for Ctrl-C / SIGKILL while the driver waits between polls."""


def test_interrupted_run_resumes_by_polling_the_stored_job(tmp_path: Path) -> None:
    state = Provider(polls=3)
    samples = _samples(tmp_path)

    async def die(seconds: float) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        _run(tmp_path / "run", samples, state, sleep=die)
    assert state.creates == 1
    store = RunStore(tmp_path / "run")
    (job,) = store.batch_jobs("submitted")
    assert job.batch_id == "mem-1" and len(job.items) == 5
    assert list(store.results()) == []
    store.close()

    summary, runner, _ = _run(tmp_path / "run", samples, state)
    assert state.creates == 1  # polled the stored job, did not resubmit
    assert summary.batches_resumed == 1 and summary.batches_submitted == 0
    assert runner.summary.asked == 5
    assert {r.response.extra["batch_id"] for r in _rows(tmp_path / "run").values()} == {"mem-1"}

    summary, runner, _ = _run(tmp_path / "run", samples, state)  # all answered: nothing to do
    assert state.creates == 1 and runner.summary.resumed == 5 and summary.batches_resumed == 0


def test_a_changed_prompt_is_not_taken_from_an_old_job(tmp_path: Path) -> None:
    state = Provider(polls=3)
    samples = _samples(tmp_path, 2)

    async def die(seconds: float) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        _run(tmp_path / "run", samples, state, sleep=die)
    # another model id -> another request hash: the stored job no longer answers it
    summary, _, _ = _run(tmp_path / "run", samples, state, model=_model(model_id="gpt-test-2"))
    assert state.creates == 2 and summary.batches_resumed == 0


def test_batches_are_split_at_the_provider_limit(tmp_path: Path) -> None:
    state = Provider()
    summary, _, _ = _run(tmp_path / "run", _samples(tmp_path), state, max_requests=2)
    assert state.creates == 3 and summary.batches_submitted == 3
    assert [len(b["entries"]) for b in state.batches.values()] == [2, 2, 1]
    assert summary.answered == 5


def test_cached_answers_are_not_sent_and_non_batch_models_run_live(tmp_path: Path) -> None:
    samples = _samples(tmp_path, 4)
    cache = ResponseCache(tmp_path / "cache")
    state = Provider()
    _run(tmp_path / "a", samples, state, cache=cache)
    assert state.creates == 1
    baseline = Job(MajorityClass(), ClassificationTask(), "toy", samples, samples)
    summary, runner, _ = _run(tmp_path / "b", samples, state, cache=cache, extra_jobs=[baseline])
    assert state.creates == 1  # every batch request came from the shared cache
    assert runner.summary.from_cache == 4 and summary.live == 4
    store = RunStore(tmp_path / "b")
    assert len(list(store.results(model="majority"))) == 4
    assert all(r.cached for r in store.results(model="gpt-test"))
    store.close()
    cache.close()


def test_failed_submission_is_recorded_per_sample(tmp_path: Path) -> None:
    state = Provider(fail_create=ProviderError("client", "invalid file", 400))
    summary, runner, _ = _run(tmp_path / "run", _samples(tmp_path, 2), state)
    rows = _rows(tmp_path / "run")
    assert {r.response.error_kind for r in rows.values()} == {"client"}
    assert all("batch submission failed" in (r.response.error or "") for r in rows.values())
    assert summary.request_errors == 2 and runner.summary.errors == 2


def test_quota_on_submission_stops_the_model(tmp_path: Path) -> None:
    state = Provider(fail_create=ProviderError("quota", "insufficient_quota", 429))
    _, runner, _ = _run(tmp_path / "run", _samples(tmp_path, 4), state, max_requests=2)
    assert "gpt-test" in runner.summary.stopped_models
    assert len(_rows(tmp_path / "run")) == 2  # the second chunk was not submitted


def test_polling_that_keeps_failing_leaves_the_job_for_the_next_run(tmp_path: Path) -> None:
    state = Provider(fail_status=ProviderError("server", "unavailable", 503))
    summary, _, _ = _run(tmp_path / "run", _samples(tmp_path, 2), state)
    assert summary.unfinished == 2 and state.status_calls == 3  # retried 3 times
    assert _rows(tmp_path / "run") == {}
    state.fail_status = None
    summary, _, _ = _run(tmp_path / "run", _samples(tmp_path, 2), state)
    assert state.creates == 1 and summary.answered == 2


def test_a_job_the_provider_lost_is_asked_again(tmp_path: Path) -> None:
    state = Provider(fail_status=ProviderError("client", "No batch found", 404))
    summary, _, _ = _run(tmp_path / "run", _samples(tmp_path, 2), state, max_rounds=1)
    rows = _rows(tmp_path / "run")
    assert {r.response.error_kind for r in rows.values()} == {"batch_expired"}
    assert summary.gave_up == 2 and summary.unfinished == 0
    store = RunStore(tmp_path / "run")
    assert [j.state for j in store.batch_jobs()] == ["lost"]
    store.close()


def test_failed_batch_records_every_request(tmp_path: Path) -> None:
    state = Provider(final=lambda i: "failed")
    summary, _, _ = _run(tmp_path / "run", _samples(tmp_path, 2), state)
    rows = _rows(tmp_path / "run")
    assert {r.response.error_kind for r in rows.values()} == {"batch_failed"}
    assert state.creates == 1 and summary.request_errors == 2


def test_bad_poll_settings_are_refused(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    runner = Runner(store, None, progress=False)
    with pytest.raises(ValueError, match="poll_max_s"):
        asyncio.run(run_batch(runner, [], poll_initial_s=5, poll_max_s=1))
    with pytest.raises(ValueError, match="max_rounds"):
        asyncio.run(run_batch(runner, [], poll_initial_s=1, poll_max_s=1, max_rounds=0))
    store.close()
