"""`medmine mine REPORTS.csv` (CheXpert rules, no model) on an archive of distinct reports.

Generates a headerless CheXpert-layout CSV of N distinct realistic reports (the archive
generators of tests/chexpert/report_corpus.py: half IU-like, half MIMIC-like, every report
distinct), runs the real command in a subprocess, and prints wall time, reports/s, the
child's CPU time and peak RSS (resource.getrusage(RUSAGE_CHILDREN), i.e. the largest of the
command and its labelling processes). With ``--check N0`` it also mines the first N0
reports alone and checks every one of their labels equals the big run's.

    python benchmarks/mine_scale.py --n 1000000 --check 100000
"""

from __future__ import annotations

import argparse
import csv
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "chexpert"))
from report_corpus import make_archive_reports

BLOCK = 20_000  # reports generated at a time (the generator holds a block in memory)


def write_csv(path: Path, n: int, seed: int = 0) -> None:
    """n distinct reports, one per row, no header (the CheXpert labeler's input layout)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        for start in range(0, n, BLOCK):
            block = make_archive_reports(min(BLOCK, n - start), seed=seed + start)
            w.writerows([f"{r} [report {start + i}]"] for i, r in enumerate(block))


def run_mine(csv_path: Path, out_dir: Path) -> tuple[float, float, float]:
    """Run `medmine mine` on the CSV; wall seconds, child CPU seconds, child peak RSS (MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "medmine", "mine", str(csv_path), "--out", str(out_dir)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024  # ru_maxrss is in KB on Linux


def main() -> None:
    """Generate, mine, print the figures (and the prefix check)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--check", type=int, default=0, help="also mine the first N0 alone")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        big = folder / "reports.csv"
        t0 = time.perf_counter()
        write_csv(big, args.n)
        size = big.stat().st_size
        print(f"input: {args.n:,} distinct reports, {size / 1e6:.1f} MB headerless CSV "
              f"(generated in {time.perf_counter() - t0:.1f} s)")  # fmt: skip
        wall, cpu, rss = run_mine(big, folder / "big")
        print(f"medmine mine: {wall:.1f} s wall, {args.n / wall:,.0f} reports/s, "
              f"child CPU {cpu:.1f} s, peak RSS {rss:.0f} MB")  # fmt: skip
        if args.check:
            small = folder / "first.csv"
            with (
                big.open(encoding="utf-8", newline="") as src,
                small.open("w", encoding="utf-8", newline="") as dst,
            ):
                w = csv.writer(dst, lineterminator="\n")
                for i, row in enumerate(csv.reader(src)):
                    if i == args.check:
                        break
                    w.writerow(row)
            run_mine(small, folder / "small")
            same = _same_prefix(folder / "big" / "labels.csv", folder / "small" / "labels.csv")
            print(f"first {args.check:,} reports alone: labels identical = {same}")


def _same_prefix(big: Path, small: Path) -> bool:
    """Whether every row of the small output equals the same row of the big one."""
    with big.open(encoding="utf-8", newline="") as b, small.open(encoding="utf-8", newline="") as s:
        rows_b, rows_s = csv.reader(b), csv.reader(s)
        n = 0
        for row_s in rows_s:
            if next(rows_b, None) != row_s:
                return False
            n += 1
    return n > 1


if __name__ == "__main__":
    main()
