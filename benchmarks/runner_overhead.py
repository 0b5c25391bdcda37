"""Per-sample overhead of medmine's runner and store against a bare loop, in one process.

Both sides build the same requests and parse and score the same answers of an instant model;
the runner additionally hashes requests, schedules them with asyncio under a concurrency
limit, commits every answer to SQLite (WAL) and consults the response cache. The difference
divided by the number of samples is the runner's overhead per sample (goal: < 0.5 ms).

    python benchmarks/runner_overhead.py [--n 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from medmine.core import ImageRef, LabelTarget, Request, Response, Sample
from medmine.run.runner import Job, Runner
from medmine.run.store import ResponseCache, RunStore
from medmine.tasks.classification import ClassificationTask

LABELS = ("normal", "pneumonia")


class InstantModel:
    """Answers every request at once with a label picked from the sample id."""

    name = "instant"
    max_concurrency = 64
    cache_id = "bench:instant"

    def describe(self) -> dict[str, str]:
        return {"provider": "benchmark"}

    def answer(self, request: Request) -> Response:
        label = LABELS[hash(request.intent.sample_id) % 2]
        return Response(text=json.dumps({"label": label}), model=self.cache_id, latency_s=0.0)

    async def generate(self, request: Request) -> Response:
        return self.answer(request)


def make_samples(folder: Path, n: int) -> list[Sample]:
    """n samples over 16 small images (image hashing is memoised as in a real run)."""
    paths = []
    rng = np.random.default_rng(0)
    for i in range(16):
        p = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return [
        Sample(
            f"s{i:06d}",
            "bench",
            (ImageRef(paths[i % 16], (32, 32)),),
            targets={"classification": LabelTarget(LABELS[i % 2], LABELS)},
        )
        for i in range(n)
    ]


def bare_loop(samples: list[Sample], task: ClassificationTask, model: InstantModel) -> float:
    """Build, answer, parse and score in a plain loop: the reference."""
    start = time.perf_counter()
    preds = [task.parse(model.answer(task.request(s)), s) for s in samples]
    task.score(preds, samples)
    return time.perf_counter() - start


def with_runner(
    samples: list[Sample], task: ClassificationTask, model: InstantModel, folder: Path
) -> float:
    """The same work through the runner, the run store and the response cache."""
    start = time.perf_counter()
    store = RunStore(folder / "run")
    cache = ResponseCache(folder / "cache")
    runner = Runner(store, cache, progress=False)
    ready = asyncio.run(runner.run([Job(model, task, "bench", samples)]))
    runner.score(ready)
    store.close()
    cache.close()
    return time.perf_counter() - start


def main() -> None:
    """Measure both, print seconds, per-sample overhead and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        samples = make_samples(folder, args.n)
        task, model = ClassificationTask(), InstantModel()
        bare_loop(samples[:200], task, model)  # warm imports and caches on both paths
        t_bare = bare_loop(samples, task, model)
        t_run = with_runner(samples, task, model, folder)
    overhead_ms = (t_run - t_bare) / args.n * 1000
    per = {name: t / args.n * 1e3 for name, t in (("bare", t_bare), ("run", t_run))}
    print(f"samples: {args.n}")
    print(f"bare loop (request+parse+score):  {t_bare:8.3f} s  ({per['bare']:.3f} ms/sample)")
    print(f"runner + store + cache:           {t_run:8.3f} s  ({per['run']:.3f} ms/sample)")
    print(f"runner overhead per sample:       {overhead_ms:8.3f} ms  (goal < 0.5 ms)")
    print(f"ratio runner / bare:              {t_run / t_bare:8.2f}x")


if __name__ == "__main__":
    main()
