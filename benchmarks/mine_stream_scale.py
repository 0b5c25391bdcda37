"""Peak memory of `medmine mine` over image trees and of `--model` mining of reports.

Two measurements, each in a fresh process (so its peak RSS is its own), each run through the
real command (``medmine.cli.app`` invoked in that process):

- **images**: a tree of N small grayscale PNGs (64x64 px, a bright lesion on a dark field,
  500 per folder, ~1.4 KB each), mined with ``--task segmentation --model otsu-lcc``
  (offline baseline: every file is checked and hashed in worker processes, asked, and its
  mask written). Printed: wall time, files/s, peak RSS of the command's process and of its
  largest worker process.
- **reports**: N distinct realistic reports (tests/chexpert/report_corpus.py, half IU-like,
  half MIMIC-like) as a headed CSV, mined with ``--model bench-instant``: a diagnosis
  "model" registered for this benchmark that answers every request at once with a fixed
  CheXpert JSON answer, so what is measured is medmine's own cost (read, build requests,
  Runner, store, table), not a model's.

Streaming means these peaks stay flat as N grows (compare N=2,000 with 20,000 images and
10,000 with 100,000 reports); the goal is under 1 GB.

    python benchmarks/mine_stream_scale.py --images 2000,20000 --reports 10000,100000
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "chexpert"))
from report_corpus import make_archive_reports

BLOCK = 20_000  # reports generated at a time


def make_tree(root: Path, n: int) -> None:
    """n 64x64 lesion PNGs, 500 per folder."""
    rng = np.random.default_rng(0)
    yy, xx = np.ogrid[:64, :64]
    for i in range(n):
        img = rng.integers(10, 40, (64, 64), dtype=np.uint8)
        cy, cx, r = rng.integers(14, 50), rng.integers(14, 50), rng.integers(4, 12)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 200 + i % 50
        path = root / f"batch{i // 500:04d}" / f"img{i:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img, mode="L").save(path)


def make_reports(path: Path, n: int) -> None:
    """n distinct reports in a CSV with an id and a text column."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "report"])
        for start in range(0, n, BLOCK):
            block = make_archive_reports(min(BLOCK, n - start), seed=start)
            w.writerows([f"acc{start + i:08d}", f"{r} [report {start + i}]"]
                        for i, r in enumerate(block))  # fmt: skip


def _register_instant() -> None:
    """The instant diagnosis model (a baseline, so it runs in process and costs nothing)."""
    import json as _json

    from medmine.baselines.base import Baseline
    from medmine.baselines.registry import register_baseline
    from medmine.core import Request, Response

    answer = _json.dumps(
        {"No Finding": "negative", "Cardiomegaly": "positive", "Edema": "uncertain",
         "Pleural Effusion": "negative"}
    )  # fmt: skip

    class InstantDiagnosis(Baseline):
        name = "bench-instant"
        tasks = frozenset({"diagnosis"})
        modality = "text"
        max_concurrency = 64

        async def generate(self, request: Request) -> Response:
            return Response(text=answer, model=self.cache_id, latency_s=0.0)

    register_baseline("bench-instant", InstantDiagnosis)


def _child(args: list[str]) -> None:
    """Run `medmine mine ARGS` in this process; print wall s and peak RSS (self, children)."""
    from typer.testing import CliRunner

    from medmine.cli import app

    _register_instant()
    start = time.perf_counter()
    result = CliRunner().invoke(app, ["mine", *args])
    wall = time.perf_counter() - start
    if result.exit_code != 0:
        print(result.output, file=sys.stderr)
        raise SystemExit(result.exit_code)
    tail = [line for line in result.output.splitlines() if line.startswith(("statuses", "asked"))]
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "rss_mb": me, "workers_mb": kids, "tail": tail}))


def _measure(args: list[str]) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--child", json.dumps(args)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"medmine mine {' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Generate the inputs, mine them, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", default="2000,20000", help="tree sizes ('' to skip)")
    parser.add_argument("--reports", default="10000,100000", help="report counts ('' to skip)")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: temp)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(json.loads(args.child))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        for n in (int(x) for x in args.images.split(",") if x):
            root = folder / f"tree{n}"
            make_tree(root, n)
            mb = sum(p.stat().st_size for p in root.rglob("*.png")) / 1e6
            r = _measure([str(root), "--task", "segmentation", "--target", "lesion", "--model",
                          "otsu-lcc", "--out", str(folder / f"out{n}"), "--yes",
                          "--no-progress", "--no-cache", "--path-ids"])  # fmt: skip
            print(f"images  N={n:>7,} ({mb:.1f} MB of 64x64 PNGs): {r['wall']:.1f} s, "
                  f"{n / r['wall']:,.0f} files/s, peak RSS {r['rss_mb']:.0f} MB "
                  f"(largest worker {r['workers_mb']:.0f} MB); {'; '.join(r['tail'])}")  # fmt: skip
        for n in (int(x) for x in args.reports.split(",") if x):
            src = folder / f"reports{n}.csv"
            make_reports(src, n)
            mb = src.stat().st_size / 1e6
            r = _measure([str(src), "--column", "report", "--model", "bench-instant",
                          "--out", str(folder / f"rep{n}"), "--yes", "--no-progress",
                          "--no-cache"])  # fmt: skip
            print(f"reports N={n:>7,} ({mb:.1f} MB CSV) --model bench-instant: "
                  f"{r['wall']:.1f} s, {n / r['wall']:,.0f} reports/s, peak RSS "
                  f"{r['rss_mb']:.0f} MB; {'; '.join(r['tail'])}")  # fmt: skip
    print("goal: peak RSS < 1 GB and flat as N grows")


if __name__ == "__main__":
    main()
