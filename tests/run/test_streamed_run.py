"""A run streams its questions and scores from the store: units exist a window at a time,
rebuilt requests are the ones that were checked and hashed, and scoring pairs every stored
answer with its own sample whatever the ids look like."""

from __future__ import annotations

import asyncio
import gc
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmine.core import ImageRef, LabelTarget, Request, Response, Sample
from medmine.datasets.demo import DemoSpec, build_demo
from medmine.run.runner import Job, Runner
from medmine.run.store import RunStore
from medmine.run.units import Unit
from medmine.run.writes import FLUSH_EVERY
from medmine.tasks.classification import ClassificationTask
from medmine.tasks.registry import make_task, task_names

LABELS = ("normal", "pneumonia")


def _samples(folder: Path, ids: list[str]) -> list[Sample]:
    rng = np.random.default_rng(0)
    path = folder / "img.png"
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(path)
    return [
        Sample(
            sid,
            "toy",
            (ImageRef(path, (16, 16)),),
            targets={"classification": LabelTarget(LABELS[i % 2], LABELS)},
        )
        for i, sid in enumerate(ids)
    ]


class _Answers:
    """Answers instantly: the true label for the ids in ``right``, the other label otherwise."""

    name = "instant"
    cache_id = "test:instant"
    max_concurrency = 8

    def __init__(self, truth: dict[str, str], right: set[str]) -> None:
        self.truth = truth
        self.right = right
        self.asked = 0
        self.live_units: list[int] = []

    def describe(self) -> dict[str, str]:
        return {"provider": "test"}

    async def generate(self, request: Request) -> Response:
        self.asked += 1
        if self.asked % 400 == 0:  # how many units exist while the run is under way
            self.live_units.append(sum(isinstance(o, Unit) for o in gc.get_objects()))
        sid = request.intent.sample_id
        label = self.truth[sid]
        if sid not in self.right:
            label = next(x for x in LABELS if x != label)
        return Response(text=json.dumps({"label": label}), model=self.cache_id)


def _run(run_dir: Path, model: _Answers, samples: list[Sample], task=None) -> None:
    store = RunStore(run_dir)
    runner = Runner(store, None, progress=False)
    ready = asyncio.run(runner.run([Job(model, task or ClassificationTask(), "toy", samples)]))
    runner.score(ready)
    store.close()


def test_a_run_holds_its_units_a_window_at_a_time(tmp_path: Path) -> None:
    ids = [f"s{i:05d}" for i in range(4000)]
    samples = _samples(tmp_path, ids)
    truth = {s.id: s.targets["classification"].label for s in samples}  # type: ignore[union-attr]
    model = _Answers(truth, set(ids))
    _run(tmp_path / "run", model, samples)
    assert model.asked == 4000 and len(model.live_units) == 10
    # A window being handed out, the one before it still answering, the workers' own.
    assert max(model.live_units) <= 2 * FLUSH_EVERY + model.max_concurrency
    store = RunStore(tmp_path / "run")
    (row,) = store.scores()
    assert row["metrics"]["accuracy"] == 1.0 and row["metrics"]["n"] == 4000
    store.close()


def test_scoring_pairs_each_answer_with_its_sample_whatever_the_ids(tmp_path: Path) -> None:
    # Ids whose order differs between naive orderings (numbers as text, case, accents), and
    # answers stored for a sample the rerun no longer includes.
    ids = ["b", "a", "é", "Z", "10", "9", "x-2", "x-10", "Ä", "zz"]
    samples = _samples(tmp_path, ids)
    truth = {s.id: s.targets["classification"].label for s in samples}  # type: ignore[union-attr]
    right = {"b", "é", "10", "x-10", "zz"}
    _run(tmp_path / "run", _Answers(truth, right), samples)
    kept = [s for s in samples if s.id != "9"]
    kept.append(kept[0])  # a sample listed twice is scored twice, and ends once
    _run(tmp_path / "run", _Answers(truth, right), kept)
    store = RunStore(tmp_path / "run")
    (row,) = store.scores()
    correct = {sid: v["correct"] for sid, v in row["per_sample"].items()}
    assert correct == {sid: sid in right for sid in ids if sid != "9"}
    assert row["metrics"]["accuracy"] == pytest.approx(6 / 10)  # 5 of 9 right, "b" twice
    assert row["tables"]["outcomes"] == {"ok": 9}
    store.close()


def test_requests_built_again_are_the_ones_checked_and_hashed(tmp_path: Path) -> None:
    samples = build_demo(DemoSpec(seed=0, per_class_test=2, reports_test=4), tmp_path)
    truth: dict[str, str] = {}
    store = RunStore(tmp_path / "run")
    runner = Runner(store, None, progress=False, repeats=2)
    checked = 0
    for name in task_names():
        task = make_task(name)
        job = Job(_Answers(truth, set()), task, "demo", [s for s in samples if s.split == "test"])
        pending, _ = runner.plan([job])
        for todo in pending:
            for unit in todo.units(lambda bad: pytest.fail(f"{bad}")):
                assert unit.request.key(todo.model.cache_id) == unit.key, (name, unit.sample.id)
                checked += 1
    store.close()
    assert checked > 100


class _Flaky(ClassificationTask):
    """A task whose request for one sample cannot be built a second time (its file went away
    between the check and the asking)."""

    def __init__(self) -> None:
        super().__init__()
        self.built: set[str] = set()

    def request(self, sample: Sample) -> Request:
        if sample.id == "s2" and sample.id in self.built:
            raise OSError(f"{sample.images[0].path}: No such file or directory")
        self.built.add(sample.id)
        return super().request(sample)


def test_a_request_that_cannot_be_built_again_is_a_named_bad_sample(tmp_path: Path) -> None:
    ids = [f"s{i}" for i in range(6)]
    samples = _samples(tmp_path, ids)
    truth = {s.id: s.targets["classification"].label for s in samples}  # type: ignore[union-attr]
    model = _Answers(truth, set(ids))
    _run(tmp_path / "run", model, samples, _Flaky())
    store = RunStore(tmp_path / "run")
    (bad,) = store.bad_samples()
    assert bad.id == "s2" and "No such file" in bad.reason
    (row,) = store.scores()
    assert model.asked == 5
    assert row["tables"]["outcomes"] == {"ok": 5, "unreadable": 1}
    assert row["metrics"]["accuracy"] == 1.0
    store.close()
