"""The report branch of ``medmine mine`` with its checks: --compat, --truth and consensus.

``--compat chexpert`` labels with CheXpert's rules only (no medmine additions).
``--truth LABELS.csv`` compares each label table written with the given labels
(:mod:`medmine.mine.agreement`) and prints per-observation P/R/F1 and kappa with bootstrap
intervals. Two or more ``--model`` (or one with ``--consensus``) run the consensus miner
(:mod:`medmine.mine.consensus`) with the rule labeler alongside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medmine.mine.agreement import truth_report
from medmine.mine.consensus import RULES, labeler_file, mine_consensus

COMPAT_MODES = ("chexpert",)


def compat_flag(compat: str | None) -> bool:
    """``None`` -> medmine's rules; ``"chexpert"`` -> CheXpert's rules exactly."""
    if compat is None:
        return False
    if compat.lower() not in COMPAT_MODES:
        raise ValueError(f"--compat {compat!r}: expected one of {', '.join(COMPAT_MODES)}")
    return True


def mine_reports_checked(
    path: Path,
    models: Sequence[str],
    out: Path,
    reader: Mapping[str, Any],
    compat: str | None,
    consensus: bool,
    truth: Path | None,
    options: Mapping[str, Any],
) -> Any:
    """Label a report source (one labeler, or a consensus), then check against ``truth``."""
    from medmine.mine.command import MineOutcome
    from medmine.mine.report_source import mine_report_source

    say = options["say"]
    reader = {**reader, "compat": compat_flag(compat)}
    if truth is not None and not Path(truth).is_file():
        raise ValueError(f"--truth {truth}: file not found")
    if len(models) >= 2 or (consensus and models):
        rest = {k: v for k, v in options.items() if k != "say"}
        written, total, spent, statuses, stopped = mine_consensus(
            path, models, out, reader=reader, say=say, mine_one=mine_report_source, **rest
        )
        outcome = MineOutcome(out, None, total, spent, statuses, written, stopped)
        tables = {
            name: out / labeler_file(name)
            for name in (RULES, *models)
            if (out / labeler_file(name)).is_file() and name not in stopped
        }
    elif consensus:
        raise ValueError("--consensus compares a --model with the rules: give a --model")
    else:
        table = out if out.suffix.lower() == ".csv" else None
        run_dir = out.with_suffix(".run") if table is not None else out
        model = models[0] if models else None
        outcome = mine_report_source(path, model, run_dir, table=table, reader=reader, **options)
        tables = {model or RULES: outcome.written[0]} if outcome.written else {}
    if truth is not None:
        folder = out.parent if out.suffix.lower() == ".csv" else out
        for name, table_path in tables.items():
            target = folder / f"truth_agreement_{labeler_file(name)[7:]}"
            lines, written = truth_report(table_path, Path(truth), target)
            for line in lines:
                say(line)
            outcome.written.append(written)
    return outcome
