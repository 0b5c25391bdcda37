"""What failed in a run, in one paragraph, and whether the command should exit non-zero.

A run (or a report of one) fails when a requested model produced no usable answer on any of
its jobs, or when medmine itself failed (a parser or backend bug). The paragraph says which,
why, and the command that resumes.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from medmine.core import Outcome
from medmine.run.store import RunStore

_SAMPLES = re.compile(r" for \d+ of \d+ samples")


LEGACY_FAILURES = ("parse_failure_rate", "refusal_rate", "error_rate")


def no_valid_reason(metrics: dict[str, Any], tables: dict[str, Any]) -> str | None:
    """Why a stored score has no usable answer behind it (None when it has some).

    Runs scored before outcomes were recorded have no ``no_valid_answers`` entry: there, a
    job whose every answer failed, was refused or could not be read is recognised from its
    failure rates, so an old all-error row is never ranked either."""
    if tables.get("no_valid_answers"):
        return str(tables["no_valid_answers"])
    if "outcomes" in tables:
        return None
    rates = [float(metrics.get(k) or 0.0) for k in LEGACY_FAILURES]
    if metrics.get("n") and sum(rates) >= 1.0 - 1e-9:
        return "every answer failed, was refused or could not be read (recorded before outcomes)"
    return None


@dataclass
class Verdict:
    """Models without a usable answer (with reasons) and counts of medmine's own failures."""

    no_valid: dict[str, list[str]] = field(default_factory=dict)
    medmine_errors: int = 0
    not_run: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> bool:
        """True when the command should exit non-zero."""
        return bool(self.no_valid) or self.medmine_errors > 0

    def paragraph(self, resume: str) -> str:
        """One paragraph: what failed, why, and how to resume."""
        parts = []
        for model, reasons in self.no_valid.items():
            why = "; ".join(list(dict.fromkeys(_SAMPLES.sub("", r) for r in reasons))[:2])
            parts.append(f"{model} produced no valid answers ({why})")
        if self.medmine_errors:
            parts.append(
                f"medmine itself failed on {self.medmine_errors} sample(s) (a bug in a parser "
                "or backend, not the model's fault; details in run.sqlite, table outcomes)"
            )
        text = "; ".join(parts) + ". "
        text += "Nothing was ranked for a model without valid answers. "
        text += f"Fix the cause and resume with: {resume}"
        return "FAILED: " + text


def verdict(run_dir: Path, models: Sequence[str] = ()) -> Verdict:
    """Judge a run directory (only ``models`` when given)."""
    store = RunStore(run_dir)
    try:
        by_model: dict[str, list[dict[str, object]]] = {}
        for sc in store.scores():
            if not models or sc["model"] in models:
                by_model.setdefault(sc["model"], []).append(sc)
        out = Verdict()
        for model, rows in by_model.items():
            found = [no_valid_reason(r["metrics"], r["tables"]) for r in rows]  # type: ignore[arg-type]
            if all(found):
                out.no_valid[model] = [str(f) for f in found]
        counts = store.ledger.counts()
        for model in {m for m, _ in counts} - set(by_model):
            # Not scored (mine): judged from the outcomes alone.
            if models and model not in models:
                continue
            mine = {o: n for (m, o), n in counts.items() if m == model}
            if not any(Outcome(o) in (Outcome.OK, Outcome.REPAIRED) for o in mine):
                top = max(mine, key=lambda o: mine[o])
                out.no_valid[model] = [f"{top.replace('_', ' ')} for {mine[top]} sample(s)"]
        for (model, outcome), n in counts.items():
            if models and model not in models:
                continue
            if outcome == Outcome.MEDMINE_ERROR.value:
                out.medmine_errors += n
            elif not Outcome(outcome).asked:
                out.not_run[outcome] += n
        return out
    finally:
        store.close()


EXIT_FAILED = 1


def resume_command() -> str:
    """The command line that was typed: rerunning it resumes."""
    return shlex.join(["medmine", *sys.argv[1:]])


def judge(run_dirs: Sequence[Path], models: Sequence[str], err: Console) -> int:
    """Print the failure paragraph of these runs when there is one; the exit status."""
    failed = False
    for run_dir in run_dirs:
        v = verdict(run_dir, models)
        if v.failed:
            failed = True
            err.print(f"[bold red]{escape(v.paragraph(resume_command()))}[/]", highlight=False)
    return EXIT_FAILED if failed else 0
