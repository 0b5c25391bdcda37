"""Rule-labeler accuracy on real IU X-ray reports, against their MeSH indexing.

Usage: python benchmarks/iu_mesh_accuracy.py --reports PATH/indiana_reports.csv
       [--split heldout|dev|all] [--text findings+impression|all|model] [--misses N] [--compat]

The reports are read with medmine's own Kaggle IU X-ray reader
(:func:`medmine.datasets.report_truth.read_iu_kaggle`), their truth is the ``MeSH`` column
mapped by :mod:`medmine.chexpert.mesh` (the mapping version is printed), and each report is
labelled by :func:`medmine.chexpert.label_report` on its FINDINGS + IMPRESSION (``--text all``
adds INDICATION and COMPARISON, i.e. the whole ``Sample.text`` the diagnosis task sends;
``--text model`` is what the ``chexpert-rules`` model labels of that text).

Split by uid: ``dev`` = odd uid (the only reports read while improving the labeler and the
mapping), ``heldout`` = even uid (measured, never read).

Printed:
- n reports in the split, how many have truth, how many are MeSH-"normal";
- normal: share of MeSH-"normal" reports with no false positive (no finding of the 13 labelled
  positive; "strict" counts only 1.0, "U-ones" also counts uncertain -1.0 as positive);
- per observation (the ones MeSH can confirm, No Finding aside): truth positives, recall,
  precision (truth = 1.0 from the mapping; reports whose truth is uncertain for an
  observation are left out of it), and the mean recall over observations with a positive;
- the time spent labelling and the rate.
The data are CC BY-NC-ND and not in the repository: pass the path of your own copy.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from medmine.baselines.reports import findings_text
from medmine.chexpert import label_report
from medmine.chexpert.mesh import CONFIRMABLE, MAPPING_VERSION
from medmine.chexpert.observations import NO_FINDING, POSITIVE, UNCERTAIN
from medmine.datasets.report_sections import join_sections
from medmine.datasets.report_text import ReportRecord
from medmine.datasets.report_truth import read_iu_kaggle

FINDINGS = tuple(o for o in CONFIRMABLE if o != NO_FINDING)


def in_split(uid: str, split: str) -> bool:
    """dev = odd uid, heldout = even uid, all = every report."""
    if split == "all":
        return True
    odd = int(uid) % 2 == 1
    return odd if split == "dev" else not odd


def report_text(rec: ReportRecord, which: str) -> str:
    """FINDINGS + IMPRESSION (or the whole text) of one record, as the labeler reads it."""
    if which == "all":
        return rec.text
    if which == "model":
        return findings_text(rec.text)
    keep = {k: v for k, v in rec.sections.items() if k in ("FINDINGS", "IMPRESSION")}
    return join_sections(keep)


def is_positive(value: float | None, u_ones: bool) -> bool:
    """A labeler value counted as positive (uncertain too under U-ones)."""
    return value == POSITIVE or (u_ones and value == UNCERTAIN)


def measure(
    pairs: Sequence[tuple[ReportRecord, dict[str, float | None]]], u_ones: bool
) -> tuple[float, int, dict[str, tuple[int, float, float]]]:
    """(normal share without FP, n normal, obs -> (truth positives, recall, precision))."""
    normal = [p for r, p in pairs if r.metadata["labels"][NO_FINDING] == POSITIVE]
    clean = sum(not any(is_positive(p.get(o), u_ones) for o in FINDINGS) for p in normal)
    per: dict[str, tuple[int, float, float]] = {}
    for obs in FINDINGS:
        tp = fn = fp = 0
        for rec, pred in pairs:
            truth = rec.metadata["labels"].get(obs)
            if truth is None or truth == UNCERTAIN:
                continue
            hit = is_positive(pred.get(obs), u_ones)
            tp += truth == POSITIVE and hit
            fn += truth == POSITIVE and not hit
            fp += truth != POSITIVE and hit
        recall = tp / (tp + fn) if tp + fn else float("nan")
        precision = tp / (tp + fp) if tp + fp else float("nan")
        per[obs] = (tp + fn, recall, precision)
    return (clean / len(normal) if normal else float("nan")), len(normal), per


def print_figures(
    title: str, figures: tuple[float, int, dict[str, tuple[int, float, float]]]
) -> None:
    """One block of the output."""
    share, n_normal, per = figures
    print(f"[{title}] normal reports with no false positive: {share:.4f} of {n_normal}")
    print(f"  {'observation':28s} {'pos':>5s} {'recall':>7s} {'precision':>9s}")
    recalls = []
    for obs, (pos, rec, prec) in per.items():
        print(f"  {obs:28s} {pos:5d} {rec:7.3f} {prec:9.3f}")
        if pos:
            recalls.append(rec)
    mean = sum(recalls) / len(recalls) if recalls else float("nan")
    print(f"  mean recall over {len(recalls)} observations with a positive: {mean:.4f}")


def print_misses(
    pairs: Sequence[tuple[ReportRecord, dict[str, float | None]]], n: int, which: str
) -> None:
    """The first ``n`` false positives on normal reports and missed findings (dev reading)."""
    shown = 0
    for rec, pred in pairs:
        labels = rec.metadata["labels"]
        fps = [
            o
            for o in FINDINGS
            if labels[NO_FINDING] == POSITIVE and is_positive(pred.get(o), False)
        ]
        missed = [
            o for o in FINDINGS if labels.get(o) == POSITIVE and not is_positive(pred.get(o), True)
        ]
        if not fps and not missed:
            continue
        print(f"--- uid {rec.id} FP={fps} MISSED={missed} mesh={rec.metadata.get('mesh')!r}")
        print("   ", report_text(rec, which).replace("\n", " | "))
        shown += 1
        if shown >= n:
            return


def main(argv: Sequence[str] | None = None) -> int:
    """Read, label, measure, print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", required=True, type=Path, help="indiana_reports.csv")
    ap.add_argument("--split", choices=("heldout", "dev", "all"), default="heldout")
    ap.add_argument(
        "--text", choices=("findings+impression", "all", "model"), default="findings+impression"
    )
    ap.add_argument("--compat", action="store_true", help="CheXpert's original rules")
    ap.add_argument("--misses", type=int, default=0, help="print N dev misses (dev split only)")
    args = ap.parse_args(argv)
    if args.misses and args.split != "dev":
        ap.error("--misses reads reports: only on --split dev")
    print("command:", shlex.join(["python", *sys.argv]))
    path: Path = args.reports
    records = read_iu_kaggle(path.parent, reports=path.name)
    chosen = [r for r in records if in_split(r.id, args.split)]
    with_truth = [r for r in chosen if r.metadata.get("labels") is not None]
    texts = [report_text(r, args.text) for r in with_truth]
    empty = sum(not t.strip() for t in texts)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    preds = [label_report(t, args.compat) for t in texts]
    wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    pairs = list(zip(with_truth, preds, strict=True))
    print(
        f"mapping: {MAPPING_VERSION}  split: {args.split}  text: {args.text}  compat: {args.compat}"
    )
    print(
        f"reports: {len(records)} read, {len(chosen)} in split, {len(with_truth)} with MeSH truth, "
        f"{empty} with empty text"
    )
    print_figures("strict: positive = 1.0", measure(pairs, u_ones=False))
    print_figures("U-ones: positive = 1.0 or -1.0", measure(pairs, u_ones=True))
    print(
        f"timing: {len(texts)} reports labelled in {wall:.3f} s wall / {cpu:.3f} s CPU "
        f"({len(texts) / wall:.0f} reports/s wall, {len(texts) / cpu:.0f} /s CPU; one process)"
    )
    if args.misses:
        print_misses(pairs, args.misses, args.text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
