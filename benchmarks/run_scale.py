"""Peak memory and time of a whole ``medmine run`` (load, ask, score, leaderboard, report) as
the dataset grows, against the same work done with no store and no report, in the same run.

The dataset is APTOS 2019 in its competition layout (``train.csv`` + ``train_images/``) with
N rows and N image files (hard links to 16 distinct 64x64 PNGs, so writing 100,000 files
takes seconds); the model is an instant in-process baseline registered through
``$MEDMINE_BASELINE_MODULES`` (it answers a grade chosen from the sample id). Each
measurement runs in its own process, so the peak RSS printed is its own:

- ``reference``: load the dataset with medmine's catalog reader, then build each request,
  answer it, parse it and score the task in a plain loop (what any evaluator must hold);
- ``medmine run``: the CLI command a user types, through the run store, the response cache,
  the terminal leaderboard and the HTML report.

    python benchmarks/run_scale.py [--sizes 1000,10000,100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

GRADES = ("0", "1", "2", "3", "4")
PLUGIN = '''
"""An instant baseline for benchmarks/run_scale.py: answers a grade chosen from the sample id."""
import json
import zlib

from medmine.baselines.registry import register_baseline
from medmine.core import Request, Response

GRADES = ("no_dr", "mild", "moderate", "severe", "proliferative_dr")


class Instant:
    name = "instant"
    cache_id = "bench:instant"
    max_concurrency = 64

    def describe(self):
        return {"provider": "baseline"}

    async def generate(self, request: Request) -> Response:
        grade = GRADES[zlib.crc32(request.intent.sample_id.encode()) % 5]
        return Response(text=json.dumps({"label": grade}), model=self.cache_id, latency_s=0.0)


register_baseline("instant", Instant)
'''


def write_dataset(root: Path, n: int) -> None:
    """APTOS 2019's layout with n labelled rows, each with its own image file."""
    images = root / "train_images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    sources = []
    for i in range(16):
        p = root / f"source{i}.png"
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(p)
        sources.append(p)
    with (root / "train.csv").open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["id_code", "diagnosis"])
        for i in range(n):
            code = f"{i:012x}"
            out.writerow([code, GRADES[i % 5]])
            os.link(sources[i % 16], images / f"{code}.png")


def write_suite(folder: Path, data: Path) -> Path:
    """A suite: the instant baseline on APTOS classification, every row of the train split."""
    suite = folder / "suite.yaml"
    suite.write_text(
        "name: run-scale\nmodels: [instant]\ntasks: [classification]\n"
        f"datasets:\n  - {{name: aptos2019, root: {data}, split: train, support_split: null}}\n"
    )
    return suite


def _reference(data: Path) -> dict[str, float]:
    """Load the dataset and do the model-side work in a plain loop (this process)."""
    import asyncio

    sys.path.insert(0, str(data.parent))
    from bench_instant import Instant  # type: ignore[import-not-found]

    from medmine.datasets.sources import load_for_suite
    from medmine.datasets.spec import DatasetSpec
    from medmine.tasks.classification import ClassificationTask

    start = time.perf_counter()
    spec = DatasetSpec(name="aptos2019", root=data, split="train", support_split=None)
    loaded = load_for_suite(spec)
    task, model = ClassificationTask(), Instant()

    async def answer_all() -> list:
        return [task.parse(await model.generate(task.request(s)), s) for s in loaded.test]

    preds = asyncio.run(answer_all())
    scores = task.score(preds, loaded.test)
    return {"wall": time.perf_counter() - start, "n": float(scores.metrics["n"])}


def _medmine_run(folder: Path, suite: Path) -> dict[str, float]:
    """``medmine run SUITE --out DIR`` in this process, as the console script runs it."""
    from medmine.cli import app

    start = time.perf_counter()
    try:
        app(["run", str(suite), "--out", str(folder / "out"), "--no-progress"])
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    wall = time.perf_counter() - start
    from medmine.run.store import RunStore

    store = RunStore(folder / "out")
    (row,) = store.scores()  # one model, one task, one dataset: every sample scored
    store.close()
    return {
        "wall": wall,
        "n": row["metrics"]["n"],
        "report_mb": _size_mb(folder / "out" / "report"),
    }


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def _child(mode: str, folder: Path) -> None:
    os.environ["MEDMINE_BASELINE_MODULES"] = "bench_instant"
    os.environ["MEDMINE_CACHE_DIR"] = str(folder / "cache")
    sys.path.insert(0, str(folder))
    data = folder / "aptos"
    cpu0 = time.process_time()
    if mode == "reference":
        out = _reference(data)
    else:
        out = _medmine_run(folder, write_suite(folder, data))
    out["cpu"] = time.process_time() - cpu0
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def _measure(mode: str, folder: Path) -> dict[str, float]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")])),
    }
    cmd = [sys.executable, __file__, "--child", mode, "--folder", str(folder)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Measure both at each size and print time, peak RSS and the difference."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--keep", type=Path, default=None, help="keep the files here")
    parser.add_argument(
        "--child", choices=("reference", "run"), default=None, help=argparse.SUPPRESS
    )
    parser.add_argument("--folder", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child, args.folder)
        return
    print("APTOS 2019 layout, N rows and N image files (hard links to 16 distinct 64x64 PNGs);")
    print("instant in-process baseline; classification; 1 repeat; HTML report built")
    print(f"cpu cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at start")
    print(f"{'samples':>8} {'ref s':>7} {'run s':>7} {'ref MB':>7} {'run MB':>7} "
          f"{'run-ref MB':>10} "
          f"{'report MB':>9}")  # fmt: skip
    base = args.keep or Path(tempfile.mkdtemp(prefix="run_scale_"))
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            folder = base / f"n{n}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            (folder / "bench_instant.py").write_text(PLUGIN)
            write_dataset(folder / "aptos", n)
            ref, run = _measure("reference", folder), _measure("run", folder)
            if not ref["n"] == run["n"] == n:
                raise SystemExit(
                    f"scored {ref['n']:.0f} (reference) and {run['n']:.0f} (run) of {n}"
                )
            print(f"{n:>8} {ref['wall']:>7.1f} {run['wall']:>7.1f} {ref['rss_mb']:>7.0f} "
                  f"{run['rss_mb']:>7.0f} {run['rss_mb'] - ref['rss_mb']:>10.0f} "
                  f"{run['report_mb']:>9.1f}", flush=True)  # fmt: skip
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    print("goal: peak RSS < 1 GB at 100,000 samples, and run-ref flat as the run grows")


if __name__ == "__main__":
    main()
