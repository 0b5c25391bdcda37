"""Per-sample overhead of the Ray executor against the local executor, in one run.

The same instant model (its ``generate`` returns at once) answers the same classification
samples twice through the runner (requests, SQLite store, scoring): once in this process and
once through ``RayExecutor`` (a local, loopback-only Ray). A second pair of figures calls
``generate`` directly, without the runner, to isolate the cost of a Ray round trip. Ray start
and actor start are measured separately and excluded from the per-sample figures.

    python benchmarks/ray_overhead.py [--n 2000] [--workers 2] [--per-worker 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from medmine.core import ImageRef, LabelTarget, Model, Request, Response, Sample
from medmine.run.ray_executor import LOCAL_RAY_ENV, RayExecutor, start_local_ray
from medmine.run.runner import Executor, Job, Runner
from medmine.run.store import RunStore
from medmine.tasks.classification import ClassificationTask

LABELS = ("normal", "pneumonia")


class InstantModel:
    """Answers every request at once with a label chosen by the sample id."""

    name = "instant"
    max_concurrency = 16
    cache_id = "bench:instant"

    def describe(self) -> dict[str, str]:
        """What the manifest would record."""
        return {"provider": "benchmark"}

    async def generate(self, request: Request) -> Response:
        """An answer in the format the classification task asks for, at once."""
        label = LABELS[int(request.intent.sample_id[1:]) % 2]
        return Response(text=json.dumps({"label": label}), model=self.cache_id, latency_s=0.0)


def make_samples(folder: Path, n: int) -> list[Sample]:
    """n samples over 16 small images (image hashing is memoised, as in a real run)."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(16):
        path = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return [
        Sample(
            f"s{i:06d}",
            "bench",
            (ImageRef(paths[i % 16], (32, 32)),),
            targets={"classification": LabelTarget(LABELS[i % 2], LABELS)},
        )
        for i in range(n)
    ]


def through_runner(samples: Sequence[Sample], run_dir: Path, executor: Executor | None) -> float:
    """Seconds to ask, store and score every sample through the runner."""
    start = time.perf_counter()
    store = RunStore(run_dir)
    runner = Runner(store, None, progress=False, executor=executor)
    ready = asyncio.run(runner.run([Job(InstantModel(), ClassificationTask(), "bench", samples)]))
    runner.score(ready)
    store.close()
    return time.perf_counter() - start


def direct_calls(model: Model, requests: Sequence[Request]) -> float:
    """Seconds to await ``generate`` on every request, at most max_concurrency at once."""

    async def main() -> None:
        sem = asyncio.Semaphore(model.max_concurrency)

        async def one(request: Request) -> None:
            async with sem:
                await model.generate(request)

        await asyncio.gather(*(one(r) for r in requests))

    start = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - start


def main() -> None:
    """Measure local and Ray, print ms/sample and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-worker", type=int, default=8)
    args = parser.parse_args()
    for key, value in LOCAL_RAY_ENV.items():
        os.environ.setdefault(key, value)  # before Ray is imported: loopback only
    n = args.n
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        samples = make_samples(folder, n)
        task = ClassificationTask()
        requests = [task.request(s) for s in samples]

        t = time.perf_counter()
        start_local_ray(num_cpus=max(2, args.workers))
        t_ray_start = time.perf_counter() - t
        executor = RayExecutor(workers=args.workers, per_worker_concurrency=args.per_worker)
        try:
            t = time.perf_counter()
            proxy = executor.wrap(InstantModel())
            t_actors = time.perf_counter() - t
            local = InstantModel()
            local.max_concurrency = proxy.max_concurrency  # same concurrency on both sides
            direct_calls(local, requests[:200])  # warm both paths
            direct_calls(proxy, requests[:200])
            d_local = direct_calls(local, requests)
            d_ray = direct_calls(proxy, requests)
            r_local = through_runner(samples, folder / "local", None)
            r_ray = through_runner(samples, folder / "ray", executor)
            summary = executor.summary()
        finally:
            executor.close()
            import ray

            ray.shutdown()

    def ms(seconds: float) -> float:
        return seconds / n * 1e3

    print(f"samples: {n}; workers: {args.workers} x {args.per_worker} concurrent")
    print(f"ray start: {t_ray_start:.2f} s; actor pool start: {t_actors:.2f} s (excluded below)")
    print(f"generate only, local:  {ms(d_local):8.3f} ms/sample")
    print(f"generate only, ray:    {ms(d_ray):8.3f} ms/sample")
    print(
        f"  ray overhead:        {ms(d_ray - d_local):8.3f} ms/sample  "
        f"(ratio {d_ray / d_local:.1f}x)"
    )
    print(f"runner, local:         {ms(r_local):8.3f} ms/sample")
    print(f"runner, ray:           {ms(r_ray):8.3f} ms/sample")
    print(
        f"  ray overhead:        {ms(r_ray - r_local):8.3f} ms/sample  "
        f"(ratio {r_ray / r_local:.2f}x)"
    )
    models = summary["models"]
    assert isinstance(models, dict)
    print(f"requests per worker: {models['instant']['requests_per_worker']}")


if __name__ == "__main__":
    main()
