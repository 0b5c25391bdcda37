"""The runner and store: bad inputs recorded by name, cache sharing, skipped work, recipe."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from medmine.baselines.classifiers import MajorityClass, NearestCentroid
from medmine.cli import app
from medmine.core import ImageRef, LabelTarget, Request, Response, Sample
from medmine.run.runner import Job, Runner
from medmine.run.store import ResponseCache, RunStore
from medmine.tasks.classification import ClassificationTask

LABELS = ("dark", "bright")


def _folder(tmp_path: Path) -> list[Sample]:
    """Eight readable images, one missing file and one truncated PNG."""
    rng = np.random.default_rng(0)
    samples = []
    for i in range(10):
        label = LABELS[i % 2]
        path = tmp_path / f"img_{i}.png"
        level = 40 if label == "dark" else 210
        Image.fromarray((rng.normal(level, 10, (16, 16, 3))).clip(0, 255).astype(np.uint8)).save(
            path
        )
        samples.append(
            Sample(
                f"img_{i}",
                "toy",
                (ImageRef(path),),
                split="test" if i < 6 else "train",
                targets={"classification": LabelTarget(label, LABELS)},
            )
        )
    (tmp_path / "img_0.png").unlink()  # missing
    data = (tmp_path / "img_1.png").read_bytes()
    (tmp_path / "img_1.png").write_bytes(data[: len(data) // 3])  # truncated
    return samples


def _run(tmp_path: Path, run_dir: Path, model, samples, cache: bool = True) -> Runner:
    store = RunStore(run_dir)
    rc = ResponseCache(tmp_path / "cache") if cache else None
    runner = Runner(store, rc, progress=False)
    job = Job(
        model,
        ClassificationTask(),
        "toy",
        [s for s in samples if s.split == "test"],
        [s for s in samples if s.split == "train"],
    )
    ready = asyncio.run(runner.run([job]))
    runner.score(ready)
    store.close()
    return runner


def test_missing_and_corrupt_images_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    samples = _folder(tmp_path)
    run_dir = tmp_path / "run"
    runner = _run(tmp_path, run_dir, NearestCentroid(k=2), samples)
    store = RunStore(run_dir)
    bad = {b.id: b for b in store.bad_samples()}
    assert set(bad) == {"img_0", "img_1"}
    assert "img_0.png" in bad["img_0"].path and "missing file" in bad["img_0"].reason
    assert "img_1.png" in bad["img_1"].reason or "img_1.png" in bad["img_1"].path
    assert "corrupt" in bad["img_1"].reason
    (scores,) = store.scores()
    assert scores["metrics"]["n"] == 4  # the four readable test images are scored
    assert scores["metrics"]["accuracy"] == 1.0
    store.close()
    assert runner.summary.bad_samples == 2

    result = CliRunner().invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "2 sample(s) skipped as unreadable" in result.output
    assert "img_0" in result.output and "img_1" in result.output


def test_shared_cache_answers_a_second_run_without_asking(tmp_path: Path) -> None:
    samples = _folder(tmp_path)
    first = _run(tmp_path, tmp_path / "a", MajorityClass(), samples)
    second = _run(tmp_path, tmp_path / "b", MajorityClass(), samples)
    assert first.summary.asked == 4 and first.summary.from_cache == 0
    assert second.summary.asked == 0 and second.summary.from_cache == 4
    third = _run(tmp_path, tmp_path / "c", MajorityClass(), samples, cache=False)
    assert third.summary.asked == 4


class _Exploding:
    """A backend with a bug: generate raises."""

    name = "exploding"
    max_concurrency = 2
    cache_id = "test:exploding"

    def describe(self) -> dict[str, str]:
        return {"provider": "test"}

    async def generate(self, request: Request) -> Response:
        raise RuntimeError("boom")


def test_a_backend_bug_is_a_medmine_error_never_a_score(tmp_path: Path) -> None:
    samples = [s for s in _folder(tmp_path) if s.id not in ("img_0", "img_1")]
    run_dir = tmp_path / "run"
    runner = _run(tmp_path, run_dir, _Exploding(), samples)
    assert runner.summary.medmine_errors == 4 and runner.summary.errors == 0
    store = RunStore(run_dir)
    rows = list(store.results())
    assert {r.prediction.status.value for r in rows} == {"error"}
    assert all("RuntimeError: boom" in (r.response.error or "") for r in rows)
    (scores,) = store.scores()
    # A bug in medmine is not the model's failure: no accuracy, the reason instead.
    assert math.isnan(scores["metrics"]["accuracy"])
    assert scores["tables"]["outcomes"] == {"medmine_error": 4}
    assert scores["tables"]["no_valid_answers"].startswith("medmine error for 4 of 4 samples")
    assert "RuntimeError: boom" in scores["tables"]["no_valid_answers"]
    store.close()
    # Errors are not answers: a rerun asks them again.
    again = _run(tmp_path, run_dir, _Exploding(), samples)
    assert again.summary.asked == 4 and again.summary.resumed == 0


class _TextOnly(_Exploding):
    name = "text-only"
    modality = "text"


def test_text_only_models_skip_image_tasks_with_a_reason(tmp_path: Path) -> None:
    samples = [s for s in _folder(tmp_path) if s.id not in ("img_0", "img_1")]
    run_dir = tmp_path / "run"
    runner = _run(tmp_path, run_dir, _TextOnly(), samples)
    assert runner.summary.asked == 0
    store = RunStore(run_dir)
    assert store.skipped() == [
        (
            "text-only",
            "classification",
            "toy",
            "text-only model: these samples' requests carry images",
            4,
        )
    ]
    store.close()


def test_changed_prompt_is_asked_again(tmp_path: Path) -> None:
    samples = [s for s in _folder(tmp_path) if s.id not in ("img_0", "img_1")]
    run_dir = tmp_path / "run"
    _run(tmp_path, run_dir, MajorityClass(), samples, cache=False)
    store = RunStore(run_dir)
    runner = Runner(store, None, progress=False)
    job = Job(
        MajorityClass(),
        ClassificationTask(ask_probabilities=True),
        "toy",
        [s for s in samples if s.split == "test"],
        [s for s in samples if s.split == "train"],
    )
    asyncio.run(runner.run([job]))
    store.close()
    assert runner.summary.asked == 4 and runner.summary.resumed == 0


@pytest.mark.parametrize("temperature", [0.0, 0.7])
def test_repeats_are_cached_per_index_only_when_sampling(temperature: float) -> None:
    from dataclasses import replace

    from medmine.core import GenerationSettings, Intent, Message, TextPart

    req = Request(
        (Message("user", (TextPart("hi"),)),),
        Intent("classification", "s"),
        GenerationSettings(temperature=temperature),
    )
    same = req.key("m") == replace(req, repeat=1).key("m")
    assert same is (temperature == 0.0)


class _Priced(_Exploding):
    """Answers 'dark' at $0.01 a request, logging what it was asked."""

    name = "priced"
    max_concurrency = 1

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def generate(self, request: Request) -> Response:
        self.asked.append(request.intent.sample_id)
        return Response('{"label": "dark"}', "test:priced", cost_usd=0.01)


def test_max_cost_stops_cleanly_and_a_higher_cap_finishes_the_rest(tmp_path: Path) -> None:
    samples = [s for s in _folder(tmp_path) if s.id not in ("img_0", "img_1")]
    test = [s for s in samples if s.split == "test"]
    run_dir = tmp_path / "run"

    def go(cap: float) -> tuple[Runner, _Priced]:
        model = _Priced()
        store = RunStore(run_dir)
        runner = Runner(store, None, progress=False, max_cost=cap)
        asyncio.run(runner.run([Job(model, ClassificationTask(), "toy", test)]))
        store.close()
        return runner, model

    first, m1 = go(0.025)
    assert len(m1.asked) == 3  # $0.01, $0.02, $0.03 >= cap: stop
    assert "budget" in first.summary.stopped_models
    second, m2 = go(1.0)
    assert len(m2.asked) == 1 and not set(m2.asked) & set(m1.asked)
    assert second.spent == pytest.approx(0.04)


class _Blind(_Exploding):
    """A server that answered without looking at the image (what llama.cpp text formats do)."""

    name = "blind"

    async def generate(self, request: Request) -> Response:
        return Response(
            '{"label": "dark"}',
            "test:blind",
            extra={"image_ignored": True, "input_tokens_reported": 7, "image_tokens_estimated": 64},
        )


def test_answers_from_a_server_that_ignored_the_image_are_not_scored_as_vision(
    tmp_path: Path,
) -> None:
    samples = [s for s in _folder(tmp_path) if s.id not in ("img_0", "img_1")]
    run_dir = tmp_path / "run"
    _run(tmp_path, run_dir, _Blind(), samples)
    store = RunStore(run_dir)
    rows = list(store.results())
    assert {r.prediction.status.value for r in rows} == {"error"}
    assert all("ignored the image" in (r.prediction.detail or "") for r in rows)
    (scores,) = store.scores()
    # 'dark' would have been right for half: never scored, and no usable answer at all
    assert math.isnan(scores["metrics"]["accuracy"])
    assert scores["metrics"]["error_rate"] == 1.0
    assert "ignored the image" in scores["tables"]["no_valid_answers"]
    store.close()
