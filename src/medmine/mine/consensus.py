"""Consensus mining: several labelers on one report archive, their agreement, what to review.

``medmine mine REPORTS --model M [--model N]`` labels the archive with the rule labeler and
with every model (each through the ordinary report miner: cost estimate, cap, resume), then
writes into ``OUT``:

- ``labels_<labeler>.csv`` per labeler (``full`` layout: id, report, 14 observations, status);
- ``consensus_agreement.csv``: per pair of labelers and observation, Cohen's kappa (with a
  bootstrap interval) and the second's P/R/F1 taking the first as reference;
- ``disagreements.csv``: the reports where labelers disagree (positive = 1 or -1, U-Ones),
  most disagreeing observations first: the reports to review first.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medmine.chexpert import OBSERVATIONS
from medmine.mine.agreement import (
    LabelTable,
    agreement,
    align,
    positive,
    read_label_table,
)
from medmine.run.runner import RunSummary

RULES = "rules"


def labeler_file(name: str) -> str:
    """A file-name-safe form of a labeler name."""
    return "labels_" + re.sub(r"[^A-Za-z0-9._-]+", "_", name) + ".csv"


def pairwise(tables: Mapping[str, LabelTable], out_dir: Path) -> tuple[list[str], Path]:
    """Per-observation kappa of every pair; printable lines and consensus_agreement.csv."""
    path = out_dir / "consensus_agreement.csv"
    lines = ["per-observation Cohen's kappa between labelers (positive = 1 or -1):"]
    header = f"{'observation':<27}" + "".join(
        f"{a + ' vs ' + b:>28}" for a, b in itertools.combinations(tables, 2)
    )
    lines.append(header)
    columns: dict[tuple[str, str], dict[str, float]] = {}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["reference", "labeler", "observation", "n", "kappa", "kappa_ci_low",
                         "kappa_ci_high", "precision", "recall", "f1"])  # fmt: skip
        for a, b in itertools.combinations(tables, 2):
            ta, tb, _ = align(tables[a], tables[b])
            for r in agreement(ta, tb):
                writer.writerow([a, b, r.observation, r.n, r.kappa, *r.kappa_ci, r.precision,
                                 r.recall, r.f1])  # fmt: skip
                columns.setdefault((a, b), {})[r.observation] = r.kappa
    for o in OBSERVATIONS:
        cells = "".join(
            f"{'—' if np.isnan(k.get(o, np.nan)) else format(k[o], '.3f'):>28}"
            for k in columns.values()
        )
        lines.append(f"{o:<27}{cells}")
    return lines, path


def disagreements(tables: Mapping[str, LabelTable], out_dir: Path) -> tuple[int, Path]:
    """Write disagreements.csv (reports where labelers differ, most first); returns the count."""
    names = list(tables)
    first = tables[names[0]]
    maps = {n: dict(zip(t.keys, t.values, strict=True)) for n, t in tables.items()}
    keys = [k for k in first.keys if all(k in m for m in maps.values())]
    texts = dict(zip(first.keys, first.texts, strict=True))
    rows = []
    for key in keys:
        differing = []
        for j, o in enumerate(OBSERVATIONS):
            says = {n: bool(positive(maps[n][key][j : j + 1])[0]) for n in names}
            if len(set(says.values())) > 1:
                values = ", ".join(f"{n}={_value(maps[n][key][j])}" for n in names)
                differing.append(f"{o} ({values})")
        if differing:
            rows.append((len(differing), key, "; ".join(differing), texts.get(key, "")))
    rows.sort(key=lambda r: (-r[0], r[1]))
    path = out_dir / "disagreements.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "n_observations_disagreeing", "disagreements", "report"])
        for n, key, detail, text in rows:
            writer.writerow([key, n, detail, text])
    return len(rows), path


def _value(v: float) -> str:
    """A label value as written in the tables (blank shown as 'blank')."""
    return "blank" if np.isnan(v) else f"{v:g}"


def mine_consensus(
    source: Path,
    models: Sequence[str],
    out_dir: Path,
    *,
    reader: Mapping[str, Any],
    say: Callable[[str], None],
    mine_one: Callable[..., Any],
    **options: Any,
) -> tuple[list[Path], RunSummary, float, Counter[str], dict[str, str]]:
    """Label with the rules and every model, then write agreement and disagreements.

    ``mine_one`` is the report miner (``report_source.mine_report_source``) so each model keeps its
    estimate, confirmation, spending cap and resume. Returns the files written, the summed
    run summary, the spend, the rule labeler's statuses and the models that were stopped.
    """
    from medmine.mine.reports import mine_reports

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    layout_reader = {**reader, "layout": "full"}
    files = {RULES: out_dir / labeler_file(RULES)}
    rules = mine_reports(Path(source), files[RULES], **layout_reader)
    say(f"{rules.n} report(s) labelled by the CheXpert rules -> {files[RULES]}")
    total, spent, stopped = RunSummary(), 0.0, {}
    for name in models:
        files[name] = out_dir / labeler_file(name)
        outcome = mine_one(
            source, name, out_dir / f"run_{files[name].stem[7:]}", table=files[name],
            reader=layout_reader, say=say, **options,
        )  # fmt: skip
        total.asked += outcome.summary.asked
        total.from_cache += outcome.summary.from_cache
        total.resumed += outcome.summary.resumed
        spent += outcome.spent_usd
        if outcome.stopped or not files[name].is_file():
            stopped[name] = "; ".join(outcome.stopped.values()) or "no label table written"
            say(f"{name}: left out of the consensus ({stopped[name]})")
            files.pop(name)
    tables = {name: read_label_table(path) for name, path in files.items()}
    written = list(files.values())
    if len(tables) >= 2:
        lines, agreement_path = pairwise(tables, out_dir)
        for line in lines:
            say(line)
        n, dis_path = disagreements(tables, out_dir)
        say(f"{n} report(s) where the labelers disagree -> {dis_path}")
        written += [agreement_path, dis_path]
    return written, total, spent, rules.statuses, stopped
