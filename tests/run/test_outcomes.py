"""Every sample ends in one recorded outcome; only what was asked is scored (issue 14)."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmine.baselines.classifiers import MajorityClass
from medmine.core import (
    ImageRef,
    LabelTarget,
    Prediction,
    Request,
    Response,
    Sample,
    TaskScores,
)
from medmine.run.runner import Job, Runner
from medmine.run.score_cache import ScoreCache
from medmine.run.store import RunStore
from medmine.tasks.classification import ClassificationTask

LABELS = ("dark", "bright")
ROOT: list[Path] = []


@pytest.fixture(autouse=True)
def _images(tmp_path: Path) -> None:
    ROOT[:] = [tmp_path / "images"]
    ROOT[0].mkdir()


def _samples(split: str) -> list[Sample]:
    """Six labelled 16x16 images per split (dark or bright)."""
    rng = np.random.default_rng(0 if split == "test" else 1)
    out = []
    for i in range(6):
        label = LABELS[i % 2]
        path = ROOT[0] / f"{split}_{i}.png"
        if not path.exists():
            level = 40 if label == "dark" else 210
            pixels = rng.normal(level, 10, (16, 16, 3)).clip(0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(path)
        out.append(
            Sample(
                f"{split}_{i}",
                "toy",
                (ImageRef(path),),
                split=split,
                targets={"classification": LabelTarget(label, LABELS)},
            )
        )
    return out


def _test() -> list[Sample]:
    return _samples("test")


def _train() -> list[Sample]:
    return _samples("train")


class _Priced:
    """A paid model ($0.01 a request) that logs what it was asked."""

    name = "priced"
    max_concurrency = 1
    cache_id = "test:priced"

    def __init__(self, delay: float = 0.0) -> None:
        self.asked: list[str] = []
        self.delay = delay

    def describe(self) -> dict[str, str]:
        return {"provider": "openai"}

    async def generate(self, request: Request) -> Response:
        self.asked.append(request.intent.sample_id)
        await asyncio.sleep(self.delay)
        return Response('{"label": "dark"}', self.cache_id, cost_usd=0.01)


def _go(run_dir: Path, models: list[object], **kw: object) -> Runner:
    store = RunStore(run_dir)
    runner = Runner(store, None, progress=False, **kw)  # type: ignore[arg-type]
    jobs = [Job(m, ClassificationTask(), "toy", _test(), _train()) for m in models]  # type: ignore[arg-type]
    ready = asyncio.run(runner.run(jobs))
    runner.score(ready)
    store.close()
    return runner


def _scores(run_dir: Path) -> dict[str, dict[str, object]]:
    store = RunStore(run_dir)
    try:
        return {s["model"]: s for s in store.scores()}
    finally:
        store.close()


def test_a_zero_budget_leaves_free_models_untouched_and_lists_paid_ones_as_not_run(
    tmp_path: Path,
) -> None:
    _go(tmp_path / "free", [MajorityClass()])
    priced = _Priced()
    capped = _go(tmp_path / "capped", [MajorityClass(), priced], max_cost=0.0)
    assert priced.asked == []
    a, b = _scores(tmp_path / "free"), _scores(tmp_path / "capped")
    assert a["majority"]["metrics"]["accuracy"] == b["majority"]["metrics"]["accuracy"]
    assert a["majority"]["per_sample"] == b["majority"]["per_sample"]
    paid = b["priced"]
    assert math.isnan(paid["metrics"]["accuracy"])  # type: ignore[index]
    assert paid["tables"]["outcomes"] == {"not_sent_budget": 6}  # type: ignore[index]
    assert paid["tables"]["no_valid_answers"].startswith("not sent (budget)")  # type: ignore[index]
    assert capped.summary.not_sent == 6


def test_samples_not_sent_are_not_scored_as_wrong(tmp_path: Path) -> None:
    model = _Priced()
    _go(tmp_path / "run", [model], max_cost=0.025)  # three answers, then the cap
    (scores,) = _scores(tmp_path / "run").values()
    assert scores["metrics"]["n"] == 3  # only what was asked
    assert scores["tables"]["outcomes"] == {"ok": 3, "not_sent_budget": 3}
    assert scores["metrics"]["n_not_run"] == 3
    # 'dark' is right for 2 of the 3 asked; counting the unsent as wrong would give 2/6.
    asked = set(model.asked)
    right = sum(1 for s in _test() if s.id in asked and s.targets["classification"].label == "dark")
    assert scores["metrics"]["accuracy"] == pytest.approx(right / 3)


def test_requests_in_flight_at_a_kill_are_counted_when_resent(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    store = RunStore(run_dir)
    # What a SIGKILL mid-request leaves: the request marked as sent, no answer stored.
    store.ledger.sending("priced", "classification", "toy", "test_0", 0, "k")
    store.close()
    runner = _go(run_dir, [_Priced()])
    assert runner.summary.resent == 1
    store = RunStore(run_dir)
    assert store.ledger.in_flight() == []
    assert any("1 of them are sent again" in m for _, _, m in store.events())
    store.close()


def test_ctrl_c_stops_sending_waits_for_answers_in_flight_and_records_the_rest(
    tmp_path: Path,
) -> None:
    model = _Priced(delay=0.2)
    store = RunStore(tmp_path / "run")
    runner = Runner(store, None, progress=False)
    jobs = [Job(model, ClassificationTask(), "toy", _test(), _train())]

    async def go() -> None:
        asyncio.get_running_loop().call_later(0.3, runner._interrupt)
        await runner.run(jobs)

    asyncio.run(go())
    assert runner.summary.interrupted
    answered = len(model.asked)
    assert 1 <= answered < 6
    ends = store.ledger.get("priced", "classification", "toy")
    kinds = sorted(e.outcome.value for e in ends.values())
    assert kinds == ["not_sent_stop"] * (6 - answered) + ["ok"] * answered
    assert store.ledger.in_flight() == []  # the answer in flight was waited for and saved
    store.close()


@dataclass
class _CountingTask(ClassificationTask):
    calls: list[int] = field(default_factory=list, repr=False, compare=False)

    def score(self, predictions: list[Prediction], samples: list[Sample]) -> TaskScores:  # type: ignore[override]
        self.calls.append(len(predictions))
        return super().score(predictions, samples)


def test_an_unchanged_job_is_not_rescored(tmp_path: Path) -> None:
    cache = ScoreCache(tmp_path / "cache")
    task = _CountingTask()
    store = RunStore(tmp_path / "run")
    runner = Runner(store, None, progress=False, score_cache=cache)
    jobs = [Job(MajorityClass(), task, "toy", _test(), _train())]
    ready = asyncio.run(runner.run(jobs))
    runner.score(ready)
    first = store.scores()
    runner.score(ready)
    assert len(task.calls) == 1 and cache.hits == 1
    assert store.scores() == first
    store.close()
    cache.close()


class _BadParse(ClassificationTask):
    def parse(self, response: Response, sample: Sample) -> Prediction:
        raise KeyError("bug in the parser")


def test_a_parser_bug_is_a_medmine_error_not_a_wrong_answer(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    runner = Runner(store, None, progress=False)
    jobs = [Job(_Priced(), _BadParse(), "toy", _test(), _train())]
    ready = asyncio.run(runner.run(jobs))
    runner.score(ready)
    (scores,) = store.scores()
    store.close()
    assert runner.summary.medmine_errors == 6
    assert math.isnan(scores["metrics"]["accuracy"])
    assert scores["tables"]["outcomes"] == {"medmine_error": 6}
    assert "parser error: KeyError" in scores["tables"]["no_valid_answers"]


def test_a_run_without_usable_answers_is_judged_failed_from_its_outcomes(tmp_path: Path) -> None:
    from medmine.core import Outcome
    from medmine.run.verdict import verdict

    store = RunStore(tmp_path / "run")
    store.ledger.put("m", "diagnosis", "d", [("a", 0, Outcome.PROVIDER_ERROR, "HTTP 500")])
    store.ledger.put("ok-model", "diagnosis", "d", [("a", 0, Outcome.OK, None)])
    store.close()
    v = verdict(tmp_path / "run")
    assert v.failed and list(v.no_valid) == ["m"]
    assert "provider error for 1 sample(s)" in v.no_valid["m"][0]
    assert "resume with: medmine run x" in v.paragraph("medmine run x")
