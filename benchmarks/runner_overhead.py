"""Per-sample overhead of medmine's runner and store against a bare loop doing the same work.

Both sides build the same requests and parse and score the same answers of an instant model;
the runner additionally hashes requests, checks images, schedules them with asyncio under a
concurrency limit, commits the answers to SQLite (WAL, in batches) and consults the response
cache, then scores from the store. The difference divided by the number of samples is the
runner's overhead per sample (goal: < 0.1 ms at 100,000). Each side runs in its own process
so the peak RSS printed is its own; wall time and CPU time (user + system of the process)
are both printed, as the machine may be shared.

    python benchmarks/runner_overhead.py [--sizes 1000,10000,100000] [--trials 3]

The reference does the same work as the runner's model side: read each sample, build its
request (prompt), call the instant model, parse the answer, score the task. What the runner
adds on top (request hashes, image checks, scheduling, SQLite writes committed in batches,
the response cache, reading the answers back and recording each outcome) is the overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
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


def _child(mode: str, n: int) -> None:
    """One measurement in this process: prints wall s, CPU s and peak RSS (MB) as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        samples = make_samples(folder, n)
        task, model = ClassificationTask(), InstantModel()
        bare_loop(samples[:200], task, model)  # warm imports and caches on both paths
        cpu0 = time.process_time()
        if mode == "bare":
            wall = bare_loop(samples, task, model)
        else:
            wall = with_runner(samples, task, model, folder)
        cpu = time.process_time() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    print(json.dumps({"wall": wall, "cpu": cpu, "rss_mb": rss}))


def _measure(mode: str, n: int) -> dict[str, float]:
    """Run one measurement in a fresh process (so its peak RSS is its own)."""
    cmd = [sys.executable, __file__, "--child", mode, "--n", str(n)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    """Measure both at each size; print seconds, CPU, per-sample overhead and peak RSS."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument(
        "--trials", type=int, default=1, help="measure each size this many times (bare, runner "
        "alternating) and print the range: on a shared machine one trial is noise"
    )  # fmt: skip
    parser.add_argument("--n", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=("bare", "runner"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child, args.n)
        return
    print("instant in-process model, 16 distinct 32x32 PNGs, classification task, 1 repeat")
    print(f"cpu cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at start")
    heads = ("bare s", "run s", "bare cpu", "run cpu", "ovh ms/s (wall)", "ovh ms/s (cpu)")
    print(f"{'samples':>8} " + " ".join(f"{h:>8}" for h in heads) + "  bare MB  run MB  run-bare")
    ranges: dict[int, tuple[list[float], list[float], list[float]]] = {}
    for n in (int(x) for x in args.sizes.split(",")):
        walls, cpus, rss = ranges.setdefault(n, ([], [], []))
        for _ in range(args.trials):
            bare, run = _measure("bare", n), _measure("runner", n)
            wall_ms = (run["wall"] - bare["wall"]) / n * 1000
            cpu_ms = (run["cpu"] - bare["cpu"]) / n * 1000
            walls.append(wall_ms)
            cpus.append(cpu_ms)
            rss.append(run["rss_mb"])
            print(f"{n:>8} {bare['wall']:>8.2f} {run['wall']:>8.2f} {bare['cpu']:>9.2f} "
                  f"{run['cpu']:>8.2f} {wall_ms:>16.3f} {cpu_ms:>15.3f} {bare['rss_mb']:>8.0f} "
                  f"{run['rss_mb']:>7.0f} {run['rss_mb'] - bare['rss_mb']:>9.0f}",
                  flush=True)  # fmt: skip
    if args.trials > 1:
        for n, (walls, cpus, rss) in ranges.items():
            print(f"{n:>8} samples, {len(walls)} trials: overhead ms/sample "
                  f"cpu {min(cpus):.3f}-{max(cpus):.3f} (median {statistics.median(cpus):.3f}), "
                  f"wall {min(walls):.3f}-{max(walls):.3f} "
                  f"(median {statistics.median(walls):.3f}); "
                  f"runner peak RSS {max(rss):.0f} MB")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    print(
        "goal: overhead < 0.1 ms/sample at 100,000; peak RSS < 1 GB; the runner's memory "
        "beyond the bare loop's (run-bare) flat as the run grows"
    )


if __name__ == "__main__":
    main()
