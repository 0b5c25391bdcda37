"""Rule-labeler speed on realistic, distinct reports (IU X-ray and MIMIC-CXR lengths).

Usage: python benchmarks/labeler_speed.py [--n 20000] [--seed 0] [--compat] [--workers 2]
                                          [--reference]

Inputs (stated in the output): ``report_corpus.make_archive_reports`` from
``tests/chexpert``: half IU-like reports (findings + impression, ~40 words), half
MIMIC-like (EXAMINATION / INDICATION / TECHNIQUE / COMPARISON headers, findings of two
studies, ~90 words), every report distinct (checked). Three passes, each with cold caches:

(a) archive pass: sentences repeat across reports as in real archives, so the labeler's
    per-sentence caches help;
(b) no sentence repeated: a distinct series number in every sentence, so no cache hits;
    single process, then ``--workers`` processes (start-up included).

The machine may be shared, so each rate is given by wall time and by CPU time
(``time.process_time`` for one process; the workers' own user+sys time for several).
Peak RSS of this process and of the largest worker is printed. ``--reference`` also times
the straightforward reference path (``tests/chexpert/reference_labeler.py``, the
implementation before the speed work) on the same inputs in the same run.
"""

from __future__ import annotations

import argparse
import resource
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "chexpert"))

import reference_labeler
from report_corpus import distinct_sentences, make_archive_reports

from medmine.chexpert import labeler

Labeler = Callable[[str, bool], object]


def timed(label: Labeler, reports: list[str], compat: bool) -> tuple[float, float]:
    """(wall, CPU) reports per second of one pass (caches cleared before)."""
    labeler.clear_caches()
    reference_labeler.clear_caches()
    wall, cpu = time.perf_counter(), time.process_time()
    for text in reports:
        label(text, compat)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return len(reports) / wall, len(reports) / cpu


def timed_workers(reports: list[str], compat: bool, workers: int) -> tuple[float, float]:
    """(wall, CPU-per-process) reports per second with ``workers`` processes.

    The CPU figure is reports over the workers' summed user+sys time, times ``workers``:
    the rate the processes would reach with a core each to themselves.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    labeler.label_reports(reports, compat, workers=workers)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return len(reports) / wall, workers * len(reports) / cpu


def line(name: str, rates: tuple[float, float]) -> str:
    """One result line: wall and CPU-time rates."""
    return f"{name:<44} {rates[0]:>9,.0f} reports/s wall  {rates[1]:>9,.0f} reports/s CPU"


def main() -> None:
    """Print reports/s for the archive pass and the no-repeated-sentence passes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compat", action="store_true", help="CheXpert's rules only")
    parser.add_argument("--workers", type=int, default=2, help="processes for the last line")
    parser.add_argument("--reference", action="store_true", help="also time the reference path")
    args = parser.parse_args()
    print("command: python " + shlex.join(sys.argv))
    reports = make_archive_reports(args.n, args.seed)
    uniq = distinct_sentences(reports)
    sentences = [s for r in uniq for s in labeler.split_sentences(labeler.clean_report(r))]
    words = sum(len(r.split()) for r in reports) / len(reports)
    print(
        f"inputs: {len(reports)} archive-like reports (seed {args.seed}), "
        f"{len(set(reports))} distinct, mean {words:.0f} words; no-repeat variant: "
        f"{len(sentences)} sentences, {len(set(sentences))} distinct; "
        f"mode {'compat' if args.compat else 'default'}"
    )
    print(line("(a) archive pass, 1 process", timed(labeler.label_report, reports, args.compat)))
    print(
        line("(b) no sentence repeated, 1 process", timed(labeler.label_report, uniq, args.compat))
    )
    if args.reference:
        ref = reference_labeler.label_report
        print(line("    reference path, archive pass", timed(ref, reports, args.compat)))
        print(line("    reference path, no sentence repeated", timed(ref, uniq, args.compat)))
    rates = timed_workers(uniq, args.compat, args.workers)
    print(line(f"(b) no sentence repeated, {args.workers} processes", rates))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: {own:.0f} MB this process, {child:.0f} MB largest worker")


if __name__ == "__main__":
    main()
