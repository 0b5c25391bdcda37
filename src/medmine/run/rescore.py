"""``medmine rescore RUN_DIR``: re-read every stored raw answer with today's readers, re-score.

No model is asked. The run's manifest gives the suite (tasks with their options, datasets,
seed, repeats) and the filters it ran with; the datasets are loaded again (their fingerprints
must match the run's, or that dataset is left as it was and reported), each stored answer
whose reading is a parse outcome (ok, repaired, refused, unparseable, truncated) goes through
``task.parse`` again, and the jobs are scored by the runner's own scoring. Answers that never
reached a reader (provider errors, answers not sent) keep their recorded outcome. The raw
responses are never rewritten: only the ``status``/``prediction``/``detail`` columns change.

The manifest's ``tasks`` entry is set to the current readers and a ``rescore`` history entry
records the reader versions before and after and how many predictions changed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rich.console import Console

from medmine.core import ParseStatus, Prediction, Sample, Task
from medmine.core.secrets import redact
from medmine.datasets.sources import load_for_suite
from medmine.run.execute import _task_for_model
from medmine.run.runner import Job, Runner
from medmine.run.store import ResultRow, RunStore
from medmine.run.suite import SuiteConfig
from medmine.tasks.registry import make_task

#: Stored outcomes that came from a reader and can be read again.
REREAD = frozenset({"ok", "repaired", "refused", "unparseable", "truncated"})


@dataclass
class Change:
    """One prediction that reads differently now."""

    model: str
    task: str
    dataset: str
    sample_id: str
    repeat: int
    before: str
    after: str


@dataclass
class RescoreSummary:
    """What a rescore did."""

    run_dir: Path
    reread: int = 0
    kept: int = 0
    changed: list[Change] = field(default_factory=list)
    jobs: int = 0
    not_rescored: list[str] = field(default_factory=list)
    readers_before: dict[str, Any] = field(default_factory=dict)
    readers_after: dict[str, Any] = field(default_factory=dict)


def _reading(pred: Prediction) -> str:
    value = (
        pred.value
        if not isinstance(pred.value, dict)
        else {k: v for k, v in pred.value.items() if k not in ("notes",)}
    )
    return f"{pred.status.value} {value}"


def _readers(tasks: dict[str, Task]) -> dict[str, Any]:
    return {
        name: {"version": t.version, "template_hash": t.template_hash()}
        for name, t in sorted(tasks.items())
    }


def rescore(run_dir: Path, data_root: Path | None = None) -> RescoreSummary:
    """Re-read and re-score a run directory in place (see the module docstring)."""
    if not (run_dir / RunStore.FILENAME).exists():
        raise FileNotFoundError(f"{run_dir}: no {RunStore.FILENAME} here; is it a run directory?")
    store = RunStore(run_dir)
    try:
        manifest = store.manifest()
        if "suite" not in manifest:
            raise ValueError(f"{run_dir}: the manifest records no suite; cannot rescore")
        suite = SuiteConfig.model_validate(manifest["suite"])
        summary = RescoreSummary(run_dir, readers_before=dict(manifest.get("tasks", {})))
        limit = (manifest.get("filters") or {}).get("limit")
        specs = {t.name: t for t in suite.tasks}
        tasks = {name: make_task(name, **spec.options) for name, spec in specs.items()}
        described = manifest.get("models", {})
        fingerprints = manifest.get("datasets", {})
        jobs: list[Job] = []
        scored = {
            (sc["model"], sc["task"], sc["dataset"]): sc["per_sample"] for sc in store.scores()
        }
        loaded: dict[str, list[Sample] | None] = {}
        for model, task_name, dataset in store.result_keys():
            if task_name not in tasks:
                summary.not_rescored.append(f"{model}/{task_name}/{dataset}: task not in suite")
                continue
            if dataset not in loaded:
                loaded[dataset] = _load(suite, dataset, data_root, limit, fingerprints, summary)
            samples = loaded[dataset]
            if samples is None:
                continue
            conv = (described.get(model) or {}).get("coord_convention")
            shim = SimpleNamespace(name=model, preset=SimpleNamespace(coord_convention=conv))
            task = _task_for_model(tasks[task_name], shim, specs[task_name].options)  # type: ignore[arg-type]
            rows = list(store.results(model, task_name, dataset))
            # The samples the run scored: those answered, plus those it scored as missing.
            ids = {r.sample_id for r in rows} | set(scored.get((model, task_name, dataset), ()))
            kept = [s for s in samples if s.id in ids and task.applies_to(s)]
            by_id = {s.id: s for s in kept}
            for row in rows:
                sample = by_id.get(row.sample_id)
                if row.prediction.status.value not in REREAD or sample is None:
                    summary.kept += 1
                    continue
                new = _parse(task, row.response, sample)
                summary.reread += 1
                before, after = _reading(row.prediction), _reading(new)
                if before != after:
                    summary.changed.append(
                        Change(model, task_name, dataset, row.sample_id, row.repeat, before, after)
                    )
                    _update_prediction(store, row, new)
            jobs.append(Job(shim, task, dataset, kept))  # type: ignore[arg-type]
        Runner(store, None, repeats=suite.repeats, progress=False).score(jobs)
        summary.jobs = len(jobs)
        summary.readers_after = _readers({j.task.name: j.task for j in jobs})
        history = list(manifest.get("rescore", []))
        history.append(
            {
                "time": time.time(),
                "readers_before": summary.readers_before,
                "readers_after": summary.readers_after,
                "reread": summary.reread,
                "changed": len(summary.changed),
                "not_rescored": summary.not_rescored,
            }
        )
        current = {**manifest.get("tasks", {}), **summary.readers_after}
        store.set_manifest({"rescore": history, "tasks": current})
        store.event("rescore", f"re-read {summary.reread}, changed {len(summary.changed)}")
        return summary
    finally:
        store.close()


def _update_prediction(store: RunStore, row: ResultRow, prediction: Prediction) -> None:
    """Replace what was read from one stored answer; the raw response column is not touched."""
    store.con.execute(
        "UPDATE results SET status=?, prediction=?, detail=? WHERE model=? AND task=?"
        " AND dataset=? AND sample_id=? AND repeat=?",
        (
            prediction.status.value,
            json.dumps(prediction.value),
            prediction.detail,
            row.model,
            row.task,
            row.dataset,
            row.sample_id,
            row.repeat,
        ),
    )


def _parse(task: Task, response: Any, sample: Sample) -> Prediction:
    try:
        return task.parse(response, sample)
    except Exception as exc:  # a reader bug is recorded on the sample, as in a run
        return Prediction(
            None, ParseStatus.UNPARSEABLE, redact(f"parser error: {type(exc).__name__}: {exc}")
        )


def _load(
    suite: SuiteConfig,
    dataset: str,
    data_root: Path | None,
    limit: int | None,
    fingerprints: dict[str, Any],
    summary: RescoreSummary,
) -> list[Sample] | None:
    """The dataset's test samples as the run had them, or None (reported) when they differ."""
    spec = next((d for d in suite.datasets if d.name == dataset), None)
    if spec is None:
        summary.not_rescored.append(f"{dataset}: not in the run's suite")
        return None
    if limit is not None:
        spec = spec.model_copy(update={"limit": limit})
    try:
        ds = load_for_suite(spec, data_root, suite.seed)
    except (FileNotFoundError, ValueError) as exc:
        summary.not_rescored.append(f"{dataset}: cannot load ({exc}); give --data-root")
        return None
    recorded = (fingerprints.get(dataset) or {}).get("fingerprint")
    if recorded and recorded != ds.fingerprint:
        summary.not_rescored.append(f"{dataset}: data changed since the run (fingerprint)")
        return None
    return list(ds.test)


def print_summary(summary: RescoreSummary, console: Console) -> None:
    """What changed, for the terminal."""
    console.print(
        f"re-read {summary.reread} stored answers ({summary.kept} kept as recorded: "
        f"not a reader outcome); {len(summary.changed)} predictions changed; "
        f"{summary.jobs} jobs re-scored; raw answers untouched"
    )
    for name, after in summary.readers_after.items():
        before = summary.readers_before.get(name, {})
        if before != after:
            console.print(
                f"  reader {name}: version {before.get('version', '?')} -> {after['version']}"
                f" (template {str(before.get('template_hash', '?'))[:8]} -> "
                f"{after['template_hash'][:8]})"
            )
    for c in summary.changed[:20]:
        console.print(
            f"  {c.model}/{c.task}/{c.dataset} {c.sample_id}#{c.repeat}: {c.before} -> {c.after}",
            markup=False,
        )
    if len(summary.changed) > 20:
        console.print(f"  ... and {len(summary.changed) - 20} more")
    for line in summary.not_rescored:
        console.print(f"[yellow]not rescored: {line}[/]")
