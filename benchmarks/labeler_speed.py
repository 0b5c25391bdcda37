"""Rule-labeler speed on realistic, distinct reports (IU X-ray and MIMIC-CXR lengths).

Usage: python benchmarks/labeler_speed.py [--n 20000] [--seed 0] [--compat] [--workers 2]

Reports come from ``tests/chexpert/report_corpus.py`` (IU-style sentence pools with
findings, sizes, sides, lobes; XXXX gaps). Half are IU-like (findings + impression, ~40
words); half are MIMIC-like (EXAMINATION / INDICATION / TECHNIQUE / COMPARISON headers,
longer findings from two studies' sentences, ~90 words). Every report is distinct (checked).
Two figures are printed: the archive pass as it runs (sentences repeat across reports as
they do in real archives, so the labeler's per-sentence cache helps), and a pass where a
unique token is put into every sentence so that no sentence repeats (the cache never hits).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "chexpert"))

from report_corpus import make_corpus

from medmine.chexpert import labeler

INDICATIONS = (
    "Cough.",
    "Shortness of breath.",
    "___-year-old man with fever.",
    "Chest pain.",
    "Evaluate for pneumonia.",
    "Preop.",
    "History of CHF, now with dyspnea.",
)
TECHNIQUES = ("PA and lateral views of the chest.", "Portable AP chest radiograph.",
              "Frontal and lateral chest radiographs.")  # fmt: skip


def make_reports(n: int, seed: int) -> list[str]:
    """``n`` distinct reports, half IU-like and half MIMIC-like."""
    rng = random.Random(seed)
    corpus = make_corpus(n + n // 2, seed=seed)
    out: list[str] = []
    for i in range(n):
        r = corpus[i]
        if i % 2:
            other = corpus[n + i // 2]
            out.append(
                "FINAL REPORT\nEXAMINATION: CHEST (PA AND LAT)\n"
                f"INDICATION: {rng.choice(INDICATIONS)}\nTECHNIQUE: {rng.choice(TECHNIQUES)}\n"
                f"COMPARISON: Chest radiograph from ___ ({rng.randint(1, 999)} days prior).\n"
                f"FINDINGS: {r.findings} {other.findings}\nIMPRESSION: {r.impression}"
            )
        else:
            out.append(f"FINDINGS: {r.findings}\nIMPRESSION: {r.impression} (ref {i})")
    return out


def unique_sentences(reports: list[str]) -> list[str]:
    """The same reports with a distinct token in every sentence (no sentence repeats)."""
    counter = iter(range(10**9))
    return [r.replace(". ", lambda_token(counter)) for r in reports]


def lambda_token(counter: object) -> str:
    """A sentence end carrying a fresh series/image number."""
    return f" (series {next(counter)}). "  # type: ignore[call-overload]


def timed(reports: list[str], compat: bool) -> float:
    """Reports per second of one cold-cache pass."""
    labeler.clear_caches()
    start = time.perf_counter()
    for text in reports:
        labeler.label_report(text, compat)
    return len(reports) / (time.perf_counter() - start)


def timed_workers(reports: list[str], compat: bool, workers: int) -> float:
    """Reports per second with ``workers`` processes (process start-up included)."""
    start = time.perf_counter()
    labeler.label_reports(reports, compat, workers=workers)
    return len(reports) / (time.perf_counter() - start)


def main() -> None:
    """Print reports/s for the archive pass and the no-repeated-sentence pass."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compat", action="store_true", help="CheXpert's rules only")
    parser.add_argument("--workers", type=int, default=2, help="processes for the last line")
    args = parser.parse_args()
    reports = make_reports(args.n, args.seed)
    distinct = len(set(reports))
    words = sum(len(r.split()) for r in reports) / len(reports)
    uniq = unique_sentences(reports)
    print(f"{len(reports)} reports, {distinct} distinct, mean {words:.0f} words")
    archive, unique = timed(reports, args.compat), timed(uniq, args.compat)
    print(f"archive pass (sentences repeat as in real archives): {archive:,.0f} reports/s")
    print(f"no sentence repeated (cache never hits):             {unique:,.0f} reports/s")
    rate = timed_workers(uniq, args.compat, args.workers)
    print(f"no sentence repeated, {args.workers} processes:                  {rate:,.0f} reports/s")


if __name__ == "__main__":
    main()
