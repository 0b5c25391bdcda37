"""The LLM-judge stage of a run: after the answers, a judge model grades each generated report.

Judge calls are ordinary units of the same :class:`Runner` on the same store and response
cache: they resume, obey ``--max-cost`` (the answers' spend counts too) and are recorded
with their cost, under the judge's name and the task ``report_judge``. Each candidate report
(repeat 0, the one the scores use) becomes one text-only judge sample ``MODEL::SAMPLE``,
asked ``repeats`` times at the judge temperature so the judge's own consistency is measured.

Results go next to each model's report-generation scores (``judge_*`` metrics, per-sample
``judge_score``) and, judge-wide, into the manifest key ``judge``: the recipe, cost, repeat
agreement and, with human ratings, correlation with them.

The same judge grades open VQA answers against the reference answer when the run has the
``vqa`` task (:mod:`medmine.run.judge_vqa`, prompt in :mod:`medmine.tasks.vqa_judge`), in the
same runner call; its figures are under ``judge.vqa`` and ``cost_usd`` counts both.
"""

from __future__ import annotations

import asyncio
import csv
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medmine.core import GenerationSettings, Model, ReportTarget, Sample
from medmine.metrics.agreement import correlations, exact_agreement
from medmine.run.judge_stats import judge_cost, judge_summary, repeat_icc
from medmine.run.judge_vqa import merge_vqa_judgements, vqa_judge_jobs
from medmine.run.runner import Job, Runner
from medmine.run.store import ResponseCache, RunStore
from medmine.tasks.report_generation import reference_text
from medmine.tasks.report_judge import CATEGORIES, ReportJudgeTask, judge_sample
from medmine.tasks.vqa_judge import VqaJudgeTask

JUDGED_TASK = "report_generation"


@dataclass
class JudgeConfig:
    """Which model judges, how often each report is judged, and optional human ratings."""

    preset: str
    repeats: int = 2
    temperature: float = 0.7
    truth: Path | None = None


def load_truth(path: Path) -> tuple[dict[tuple[str, str], float], list[str]]:
    """Human ratings from a CSV with columns ``model``, ``sample_id``, ``rating`` (any scale;
    say in your paper which way is better). Returns ratings and one problem per bad row.

    A missing file or missing columns raise ValueError (before anything is asked)."""
    if not path.is_file():
        raise ValueError(f"--judge-truth {path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        cols = {c.strip().lower() for c in reader.fieldnames or []}
        need = {"model", "sample_id", "rating"}
        if not need <= cols:
            raise ValueError(
                f"--judge-truth {path}: needs columns model, sample_id, rating; has {sorted(cols)}"
            )
        ratings: dict[tuple[str, str], float] = {}
        problems: list[str] = []
        for line, row in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            try:
                value = float(row["rating"])
                if not math.isfinite(value):
                    raise ValueError
            except ValueError:
                problems.append(f"{path}:{line}: rating {row['rating']!r} is not a number")
                continue
            ratings[(row["model"], row["sample_id"])] = value
    return ratings, problems


def resolve_judge(name: str, preset_files: Sequence[Path]) -> Model:
    """The judge model: a preset or local server, never a baseline (they cannot read)."""
    from medmine.baselines.registry import baseline_names
    from medmine.models.resolve import resolve_model

    if name in baseline_names():
        raise ValueError(f"--judge {name}: a baseline cannot judge reports; name a model preset")
    return resolve_model(name, preset_files)


def judge_jobs(
    store: RunStore, jobs: Sequence[Job], judge: Model, task: ReportJudgeTask
) -> list[Job]:
    """One judge job per dataset holding every model's usable report (repeat 0)."""
    by_ds: dict[str, list[Sample]] = defaultdict(list)
    for job in _judged(jobs):
        section = getattr(job.task, "section", "findings")
        rows = {r.sample_id: r for r in store.results(job.model.name, JUDGED_TASK, job.dataset)}
        for s in job.samples:
            row = rows.get(s.id)
            text = _text(row.prediction) if row is not None and row.repeat == 0 else ""
            target = s.target(JUDGED_TASK)
            if text and isinstance(target, ReportTarget):
                by_ds[job.dataset].append(
                    judge_sample(job.model.name, s, text, reference_text(target, section))
                )
    return [Job(judge, task, ds, samples) for ds, samples in by_ds.items()]


def run_judge(
    store: RunStore,
    cache: ResponseCache | None,
    jobs: Sequence[Job],
    cfg: JudgeConfig,
    judge: Model,
    *,
    concurrency: int | None = None,
    progress: bool = False,
    max_cost: float | None = None,
) -> dict[str, Any]:
    """Ask the judge about every report of ``jobs`` (resumable), merge the judge metrics into
    the models' stored scores and record the judge's recipe and reliability; returns that
    record."""
    task = ReportJudgeTask(
        settings=GenerationSettings(temperature=cfg.temperature, max_tokens=1024)
    )
    vqa_task = VqaJudgeTask(
        settings=GenerationSettings(temperature=cfg.temperature, max_tokens=256)
    )
    work = judge_jobs(store, jobs, judge, task)
    vqa_work = vqa_judge_jobs(store, jobs, judge, vqa_task)
    runner = Runner(
        store, cache, repeats=cfg.repeats, concurrency=concurrency, progress=progress,
        max_cost=max_cost,
    )  # fmt: skip
    asyncio.run(runner.run([*work, *vqa_work]))
    truth, problems = load_truth(cfg.truth) if cfg.truth else ({}, [])
    asked = {(j.dataset, s.id) for j in work for s in j.samples}
    record = merge_judgements(store, jobs, judge.name, task, cfg, truth, asked)
    if any(j.task.name == "vqa" for j in jobs):
        asked = {(j.dataset, s.id) for j in vqa_work for s in j.samples}
        vqa = merge_vqa_judgements(store, jobs, judge.name, vqa_task, cfg.repeats, truth, asked)
        record["cost_usd"] += vqa["cost_usd"]
        record["cost_unknown_answers"] += vqa["cost_unknown_answers"]
        record["vqa"] = vqa
    record.update(
        {
            "model": judge.name,
            "model_id": judge.cache_id,
            "describe": judge.describe() if hasattr(judge, "describe") else {},
            "repeats": cfg.repeats,
            "temperature": cfg.temperature,
            "prompt_version": task.version,
            "template_hash": task.template_hash(),
            "asked": runner.summary.asked,
            "from_cache": runner.summary.from_cache,
            "resumed": runner.summary.resumed,
            "errors": runner.summary.errors,
            "stopped": dict(runner.summary.stopped_models),
            "truth_problems": problems,
        }
    )
    store.set_manifest({"judge": record})
    done = runner.summary
    store.event("judge", f"{judge.name}: asked {done.asked}, errors {done.errors}")
    return record


def merge_judgements(
    store: RunStore,
    jobs: Sequence[Job],
    judge_name: str,
    task: ReportJudgeTask,
    cfg: JudgeConfig,
    truth: dict[tuple[str, str], float],
    judged: set[tuple[str, str]],
) -> dict[str, Any]:
    """Add ``judge_*`` metrics and per-sample ``judge_score`` to each model's stored scores;
    return the judge-wide figures (cost, repeat agreement, human correlation).

    ``judged`` holds the (dataset, judge sample id) pairs that had a report to judge; a
    sample without one (the model's answer failed) scores 0, as for the other metrics. A
    report the judge never answered usably (error, unparseable, not sent) is counted in
    ``judge_unscored`` and left out of the judge score."""
    stored = {(e["model"], e["task"], e["dataset"]): e for e in store.scores()}
    rows: dict[tuple[str, str, int], Any] = {}
    for r in store.results(judge_name, task.name):
        rows[(r.dataset, r.sample_id, r.repeat)] = r
    all_complete: list[list[float]] = []
    all_sig: list[list[float]] = []
    pairs: list[tuple[float, float]] = []
    total_cost, cost_unknown = 0.0, 0
    for job in _judged(jobs):
        entry = stored.get((job.model.name, JUDGED_TASK, job.dataset))
        if entry is None:
            continue
        per_sample: dict[str, dict[str, float]] = entry["per_sample"]
        scores, groups, complete, sig_complete = [], [], [], []
        counts: dict[str, list[float]] = defaultdict(list)
        unscored = failed = 0
        cost = 0.0
        for s in sorted(job.samples, key=lambda s: s.id):
            if s.id not in per_sample:
                continue  # unreadable sample: left out for every model
            jid = f"{job.model.name}::{s.id}"
            reps = [rows.get((job.dataset, jid, k)) for k in range(cfg.repeats)]
            if (job.dataset, jid) not in judged:
                failed += 1  # no usable report to judge: scored 0 like the other metrics
                per_sample[s.id]["judge_score"] = 0.0
                scores.append(0.0)
                groups.append(s.patient_id or s.id)
                continue
            spent, unpriced = judge_cost(reps)
            cost += spent
            cost_unknown += unpriced
            usable = [r.prediction.value for r in reps if r is not None and r.prediction.usable]
            if not usable:
                unscored += 1  # the judge failed on it: counted, not scored
                continue
            value = statistics.fmean(v["score"] for v in usable)
            per_sample[s.id]["judge_score"] = value
            scores.append(value)
            groups.append(s.patient_id or s.id)
            for side in ("significant", "insignificant"):
                total = statistics.fmean(sum(v[side].values()) for v in usable)
                counts[f"judge_{side}_errors"].append(total)
            for cat in CATEGORIES.values():
                counts[f"judge_sig_{cat}"].append(
                    statistics.fmean(v["significant"][cat] for v in usable)
                )
            if len(usable) == cfg.repeats:
                complete.append([v["score"] for v in usable])
                sig_complete.append([sum(v["significant"].values()) for v in usable])
            if (job.model.name, s.id) in truth:
                pairs.append((value, truth[(job.model.name, s.id)]))
        metrics = entry["metrics"]
        metrics.update(_judge_metrics(scores, groups, counts, complete, sig_complete, cfg.repeats))
        metrics.update(
            {
                "judge_unscored": float(unscored),
                "judge_candidate_failed": float(failed),
                "judge_cost_usd": cost,
            }
        )
        total_cost += cost
        all_complete.extend(complete)
        all_sig.extend(sig_complete)
        tables = entry["tables"]
        tables["judge"] = {
            "model": judge_name,
            "repeats": cfg.repeats,
            "temperature": cfg.temperature,
            "template_hash": task.template_hash(),
        }
        store.put_scores(
            entry["model"], JUDGED_TASK, entry["dataset"], entry["headline"],
            metrics, per_sample, tables,
        )  # fmt: skip
    record: dict[str, Any] = {
        "cost_usd": total_cost,
        "cost_unknown_answers": cost_unknown,
        "repeat_icc": repeat_icc(all_complete, cfg.repeats),
        "repeat_exact_significant": exact_agreement(all_sig) if all_sig else float("nan"),
        "repeat_reports": len(all_complete),
    }
    if cfg.truth is not None:
        human = correlations([p[0] for p in pairs], [p[1] for p in pairs]) if pairs else {}
        record["human"] = {"file": str(cfg.truth), "n": len(pairs),
                           "unmatched": len(truth) - len(pairs), **human}  # fmt: skip
    return record


def _judge_metrics(
    scores: list[float],
    groups: list[str],
    counts: dict[str, list[float]],
    complete: list[list[float]],
    sig_complete: list[list[float]],
    repeats: int,
) -> dict[str, float]:
    out = judge_summary(
        scores, groups, complete, repeats, "judge_repeat_exact_significant", sig_complete
    )
    out.update({key: float(np.mean(values)) for key, values in counts.items() if values})
    return out


def _judged(jobs: Sequence[Job]) -> list[Job]:
    return [j for j in jobs if j.task.name == JUDGED_TASK]


def _text(prediction: Any) -> str:
    if not prediction.usable or not isinstance(prediction.value, dict):
        return ""
    text = prediction.value.get("text")
    return text if isinstance(text, str) else ""
