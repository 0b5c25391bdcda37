"""The Ray executor: same answers as the local process, and no answer lost when a worker dies.

One local Ray (loopback only, 2 CPUs) is started for the whole module and shut down at the end.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from medmine.baselines.classifiers import MajorityClass, NearestCentroid
from medmine.core import Request, Response, Sample
from medmine.datasets.demo import DemoSpec, build_demo
from medmine.models.resolve import resolve_model
from medmine.run.ray_executor import (
    LOCAL_RAY_ENV,
    RayExecutor,
    RayExecutorError,
    make_executor,
    ray_installed,
    start_local_ray,
)
from medmine.run.runner import Executor, Job, Runner
from medmine.run.store import RunStore
from medmine.tasks.registry import make_task, task_names

if not ray_installed():
    pytest.skip("the Ray executor needs ray: pip install 'medmine[ray]'", allow_module_level=True)

VOLATILE = ("latency", "ttft", "tokens_per_s", "cached_share")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """One loopback-only Ray for the module (the executor reuses an initialised Ray).

    The environment is set before Ray is first imported: Ray reads the loopback switch then.
    """
    saved = {k: os.environ.get(k) for k in LOCAL_RAY_ENV}
    os.environ.update(LOCAL_RAY_ENV)
    import ray

    # Models defined in this test module are shipped by value: workers cannot import tests/.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    start_local_ray(num_cpus=2)
    try:
        yield ray
    finally:
        ray.shutdown()
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ------------------------------------------------------------------------------ helpers


def _datasets(samples: Sequence[Sample]) -> dict[str, tuple[list[Sample], list[Sample]]]:
    """Demo samples grouped like the suite's demo datasets: name -> (test, support)."""
    out: dict[str, tuple[list[Sample], list[Sample]]] = {}
    for s in samples:
        test, support = out.setdefault(f"demo-{s.category}", ([], []))
        (test if s.split == "test" else support).append(s)
    return out


# METEOR starts a Java scorer per job (~15 s): a scoring detail the executor does not touch.
TASK_OPTIONS: dict[str, dict[str, Any]] = {"report_generation": {"meteor": False}}


def _jobs(models: Sequence[Any], samples: Sequence[Sample], tasks: Sequence[str]) -> list[Job]:
    datasets = _datasets(samples)
    return [
        Job(model, make_task(task, **TASK_OPTIONS.get(task, {})), name, test, support)
        for model in models
        for name, (test, support) in datasets.items()
        for task in tasks
    ]


def _run(run_dir: Path, jobs: list[Job], executor: Executor | None) -> Runner:
    store = RunStore(run_dir)
    runner = Runner(store, None, progress=False, executor=executor)
    ready = asyncio.run(runner.run(jobs))
    runner.score(ready)
    store.close()
    return runner


def _answers(run_dir: Path) -> dict[tuple[str, ...], tuple[Any, ...]]:
    """Every stored answer: request hash, raw text, error, parse status and parsed value."""
    store = RunStore(run_dir)
    out = {
        (r.model, r.task, r.dataset, r.sample_id, str(r.repeat)): (
            r.request_hash,
            r.response.text,
            r.response.error,
            r.prediction.status.value,
            r.prediction.value,
        )
        for r in store.results()
    }
    store.close()
    return out


def _quality(run_dir: Path) -> dict[str, Any]:
    """Scores without the timing figures (which differ between any two runs)."""
    store = RunStore(run_dir)
    out = {
        f"{s['model']}/{s['task']}/{s['dataset']}": (
            {k: v for k, v in s["metrics"].items() if not k.startswith(VOLATILE)},
            s["per_sample"],
        )
        for s in store.scores()
    }
    store.close()
    return out


# ------------------------------------------------------------------------------ models


class LoggingCentroid(NearestCentroid):
    """Nearest centroid that appends ``task sample`` to a log file per request, then waits."""

    name = "logging-centroid"

    def __init__(self, log: Path, delay: float = 0.05) -> None:
        super().__init__(k=3, seed=0)
        self.log = str(log)
        self.delay = delay

    async def generate(self, request: Request) -> Response:
        """Log, wait, answer like the nearest-centroid baseline."""
        with open(self.log, "a", encoding="utf-8") as fh:
            fh.write(f"{request.intent.task} {request.intent.sample_id}\n")
        await asyncio.sleep(self.delay)
        return await super().generate(request)


class Exploding:
    """A backend with a bug: generate raises."""

    name = "exploding"
    max_concurrency = 2
    cache_id = "test:exploding"

    def describe(self) -> dict[str, str]:
        return {"provider": "test"}

    async def generate(self, request: Request) -> Response:
        raise RuntimeError("boom")


# ------------------------------------------------------------------------------ tests


def test_demo_suite_on_ray_equals_the_local_run(local_ray: Any, tmp_path: Path) -> None:
    spec = DemoSpec(per_class_test=3, per_class_train=3, reports_test=3, reports_train=3)
    samples = build_demo(spec, tmp_path / "data")
    names = ["majority", "nearest-centroid", "otsu-lcc", "blob-detector", "chexpert-rules"]
    names += ["landmark-intensity", "retrieval-report", "normal-report", "vqa-prior"]
    tasks = task_names()

    local = _run(tmp_path / "local", _jobs([resolve_model(n) for n in names], samples, tasks), None)
    with RayExecutor(workers=2) as executor:
        remote = _run(
            tmp_path / "ray", _jobs([resolve_model(n) for n in names], samples, tasks), executor
        )
        summary = executor.summary()

    a, b = _answers(tmp_path / "local"), _answers(tmp_path / "ray")
    assert len(a) > 100 and {k[1] for k in a} == set(tasks)
    assert a == b
    assert _quality(tmp_path / "local") == _quality(tmp_path / "ray")
    assert remote.summary.asked == local.summary.asked == len(a)
    assert remote.summary.errors == local.summary.errors
    # Every baseline went to its workers as an object (fitted numpy state included).
    models = summary["models"]
    assert isinstance(models, dict) and set(models) == set(names)
    for name, pool in models.items():
        assert all(how.startswith("object") for how in pool["shipped"].values()), name
        assert len(pool["workers"]) == 2 and pool["retried_requests"] == 0
    answered = sum(sum(p["requests_per_worker"].values()) for p in models.values())
    assert answered == len(b)
    assert summary["retried_requests"] == 0


async def test_a_killed_worker_loses_nothing_and_asks_nothing_twice(
    local_ray: Any, tmp_path: Path
) -> None:
    spec = DemoSpec(per_class_test=6, per_class_train=3, reports_test=0, reports_train=0)
    samples = build_demo(spec, tmp_path / "data")
    test_ids = {(f"demo-{s.category}", s.id) for s in samples if s.split == "test"}
    log_ray, log_local = tmp_path / "ray.log", tmp_path / "local.log"

    local_store = RunStore(tmp_path / "local")
    local = Runner(local_store, None, progress=False)
    local.score(
        await local.run(_jobs([LoggingCentroid(log_local, 0.0)], samples, ["classification"]))
    )
    local_store.close()

    run_dir = tmp_path / "ray"
    store = RunStore(run_dir)
    executor = RayExecutor(workers=2, per_worker_concurrency=3)
    runner = Runner(store, None, progress=False, executor=executor)
    jobs = _jobs([LoggingCentroid(log_ray)], samples, ["classification"])
    answered_at_kill: set[tuple[str, str]] = set()

    async def kill_after(n: int) -> None:
        """Kill the first worker once ``n`` requests were sent to the workers."""
        while not log_ray.exists() or len(log_ray.read_text().splitlines()) < n:
            await asyncio.sleep(0.005)
        # what the run holds (answers are committed in batches; the runner process lives on)
        answered_at_kill.update((r.dataset, r.sample_id) for r in store.results())
        local_ray.kill(executor.actors("logging-centroid")[0], no_restart=True)

    try:
        ready, _ = await asyncio.gather(runner.run(jobs), kill_after(12))
        runner.score(ready)
        summary = executor.summary()
        assert len(executor.actors("logging-centroid")) == 1
    finally:
        store.close()
        executor.close()

    # Nothing lost: every test sample answered once, none as an error.
    rows = _answers(run_dir)
    assert len(rows) == len(test_ids) == 72
    assert {(k[2], k[3]) for k in rows} == test_ids
    assert {v[3] for v in rows.values()} <= {"ok", "repaired"}
    assert runner.summary.errors == 0

    # The kill landed partway and its unanswered requests were retried elsewhere.
    assert 0 < len(answered_at_kill) < 72
    pool = summary["models"]["logging-centroid"]  # type: ignore[index]
    retried = set(pool["retried_samples"])
    assert pool["retried_requests"] == len(pool["retried_samples"]) >= 1
    assert {r["worker"] for r in pool["retried"]} == {"logging-centroid#0"}
    dead = [w for w in pool["workers"] if not w["alive"]]
    assert [w["worker"] for w in dead] == ["logging-centroid#0"]
    assert "ActorDiedError" in dead[0]["death"]
    # Nothing asked twice: answered before the kill is never retried, and only a retried
    # request can reach a model twice (it was sent but its answer never came back).
    assert not retried & {sid for _, sid in answered_at_kill}
    sent = Counter(line.split(" ", 1)[1] for line in log_ray.read_text().splitlines())
    assert {sid for sid, n in sent.items() if n > 1} <= retried
    assert set(sent) == {sid for _, sid in test_ids}
    assert sum(pool["requests_per_worker"].values()) == 72

    assert _quality(run_dir) == _quality(tmp_path / "local")


def _kill_and_wait(ray: Any, actors: Sequence[Any]) -> None:
    """Kill actors and wait until each is dead: ``ray.kill`` returns before the actor stops,
    and a request sent in between would still be answered by it (a race under load)."""
    for actor in actors:
        ray.kill(actor, no_restart=True)
    deadline = time.monotonic() + 30
    for actor in actors:
        while time.monotonic() < deadline:
            try:
                ray.get(actor.__ray_ready__.remote(), timeout=5)
            except Exception:  # RayActorError once it is dead (or a timeout while dying)
                break
            time.sleep(0.05)


async def test_all_workers_dead_starts_a_replacement_up_to_the_limit(
    local_ray: Any, tmp_path: Path
) -> None:
    samples = build_demo(DemoSpec(per_class_test=1, per_class_train=2, reports_test=0), tmp_path)
    support = [s for s in samples if s.category == "radiology" and s.split == "train"]
    test = next(s for s in samples if s.category == "radiology" and s.split == "test")
    task = make_task("classification")
    model = MajorityClass().fit(support, task)
    expected = await model.generate(task.request(test))

    with RayExecutor(workers=2, max_replacements=1) as executor:
        proxy = executor.wrap(model)
        assert proxy.name == model.name and proxy.cache_id == model.cache_id
        assert proxy.max_concurrency == 16
        assert proxy.describe()["executor"]["workers"] == 2
        _kill_and_wait(local_ray, executor.actors(model.name))
        got = await proxy.generate(task.request(test))
        assert got.text == expected.text
        pool = executor.summary()["models"][model.name]  # type: ignore[index]
        assert pool["replacements"] == 1 and pool["retried_requests"] >= 1
        assert pool["requests_per_worker"] == {
            f"{model.name}#0": 0,
            f"{model.name}#1": 0,
            f"{model.name}#2": 1,
        }
        _kill_and_wait(local_ray, executor.actors(model.name))
        with pytest.raises(RayExecutorError, match="limit of 1 replacement"):
            await proxy.generate(task.request(test))


def test_a_model_exception_reads_as_in_a_local_run(local_ray: Any, tmp_path: Path) -> None:
    samples = build_demo(DemoSpec(per_class_test=1, per_class_train=1, reports_test=0), tmp_path)
    test = [s for s in samples if s.category == "dentistry" and s.split == "test"]
    local = _run(tmp_path / "a", _jobs([Exploding()], test, ["classification"]), None)
    with RayExecutor(workers=1) as executor:
        remote = _run(tmp_path / "b", _jobs([Exploding()], test, ["classification"]), executor)
        assert executor.summary()["retried_requests"] == 0
    # a backend exception is a medmine error (a bug), not the model's failure
    assert local.summary.medmine_errors == remote.summary.medmine_errors == 2
    assert _answers(tmp_path / "a") == _answers(tmp_path / "b")
    assert {v[2] for v in _answers(tmp_path / "b").values()} == {"RuntimeError: boom"}


def test_an_unpicklable_model_is_rebuilt_on_the_workers_from_its_name(local_ray: Any) -> None:
    model = resolve_model("medgemma-4b-vllm")
    model._lock = threading.Lock()  # type: ignore[attr-defined]  # like a live API client
    with RayExecutor(workers=1) as executor:
        proxy = executor.wrap(model)
        assert proxy.cache_id == model.cache_id
        assert proxy.preset is model.preset  # type: ignore[attr-defined]
        shipped = executor.summary()["models"]["medgemma-4b-vllm"]["shipped"]  # type: ignore[index]
        assert shipped[model.cache_id].startswith("recipe resolve_model('medgemma-4b-vllm')")
        assert "not picklable" in proxy.describe()["executor"]["shipped"]


def test_a_rebuilt_model_with_other_state_is_refused(local_ray: Any, tmp_path: Path) -> None:
    samples = build_demo(DemoSpec(per_class_test=1, per_class_train=2, reports_test=0), tmp_path)
    support = [s for s in samples if s.category == "radiology" and s.split == "train"]
    fitted = MajorityClass().fit(support, make_task("classification"))
    fitted.lock = threading.Lock()  # type: ignore[attr-defined]  # forces the recipe path
    with RayExecutor(workers=1) as executor, pytest.raises(RayExecutorError, match="rebuilt it"):
        executor.wrap(fitted)


def test_a_model_the_workers_cannot_import_fails_at_wrap(local_ray: Any, tmp_path: Path) -> None:
    module = tmp_path / "elsewhere_model.py"
    module.write_text(
        "class Elsewhere:\n"
        "    name = 'elsewhere'\n"
        "    max_concurrency = 1\n"
        "    cache_id = 'test:elsewhere'\n"
        "    def describe(self):\n"
        "        return {}\n"
        "    async def generate(self, request):\n"
        "        raise NotImplementedError\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import elsewhere_model  # type: ignore[import-not-found]

        with (
            RayExecutor(workers=1, max_replacements=0) as executor,
            pytest.raises(RayExecutorError, match="could not be loaded on the Ray workers"),
        ):
            executor.wrap(elsewhere_model.Elsewhere())
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("elsewhere_model", None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"workers": 0}, "workers must be an integer >= 1"),
        ({"workers": 1.5}, "workers must be an integer >= 1"),
        ({"per_worker_concurrency": 0}, "per_worker_concurrency must be"),
        ({"address": " "}, "address must not be blank"),
        ({"max_replacements": -1}, "max_replacements must be >= 0"),
    ],
)
def test_bad_settings_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RayExecutor(**options)


def test_make_executor() -> None:
    assert make_executor("local") is None
    assert make_executor("local", address=None, workers=None) is None
    made = make_executor("ray", address=None, workers=3)
    assert isinstance(made, RayExecutor) and made.workers == 3 and made.address is None
    with pytest.raises(ValueError, match="unknown executor 'dask'"):
        make_executor("dask")
    with pytest.raises(ValueError, match="executor 'local' takes no options, got workers"):
        make_executor("local", workers=4)
    with pytest.raises(ValueError, match="executor 'ray': bad options"):
        make_executor("ray", nodes=4)


def test_ray_is_bound_to_loopback(local_ray: Any) -> None:
    nodes = local_ray.nodes()
    assert [n["NodeManagerAddress"] for n in nodes] == ["127.0.0.1"]
    assert local_ray.util.get_node_ip_address() == "127.0.0.1"
