"""The LLM judge on open VQA answers: which answers are judged and how the grades join the
VQA scores. Called by :func:`medmine.run.judge.run_judge` with the same runner, store, cache,
budget and repeats as the report judge.

Each model's usable answer (repeat 0) to each *open* question becomes one text-only judge
sample ``MODEL::SAMPLE`` (closed and multiple-choice questions are scored exactly and never
judged). Results: per-sample ``judge_score`` on open questions and ``judge_*`` metrics next to
each model's VQA scores; judge-wide figures (cost, repeat agreement, human correlation) in the
manifest's ``judge`` record under ``vqa``.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from medmine.core import Sample, TaskKind
from medmine.datasets.readers.vqa_common import OPEN, VqaTarget
from medmine.metrics.agreement import correlations, exact_agreement
from medmine.run.judge_stats import judge_cost, judge_summary, repeat_icc
from medmine.run.runner import Job
from medmine.run.store import RunStore
from medmine.tasks.vqa_judge import VqaJudgeTask, vqa_judge_sample

JUDGED_VQA = "vqa"


def _open(sample: Sample) -> bool:
    t = sample.target(TaskKind.VQA)
    return isinstance(t, VqaTarget) and t.rule == OPEN


def _answer(prediction: Any) -> str:
    if not prediction.usable or not isinstance(prediction.value, dict):
        return ""
    text = prediction.value.get("answer")
    return text.strip() if isinstance(text, str) else ""


def vqa_judge_jobs(
    store: RunStore, jobs: Sequence[Job], judge: Any, task: VqaJudgeTask
) -> list[Job]:
    """One judge job per dataset holding every model's usable open answer (repeat 0)."""
    by_ds: dict[str, list[Sample]] = defaultdict(list)
    for job in _judged(jobs):
        rows = {r.sample_id: r for r in store.results(job.model.name, JUDGED_VQA, job.dataset)}
        for s in job.samples:
            row = rows.get(s.id)
            if not _open(s) or row is None or row.repeat != 0:
                continue
            text = _answer(row.prediction)
            if text:
                by_ds[job.dataset].append(vqa_judge_sample(job.model.name, s, text))
    return [Job(judge, task, ds, samples) for ds, samples in by_ds.items()]


def merge_vqa_judgements(
    store: RunStore,
    jobs: Sequence[Job],
    judge_name: str,
    task: VqaJudgeTask,
    repeats: int,
    truth: dict[tuple[str, str], float],
    judged: set[tuple[str, str]],
) -> dict[str, Any]:
    """Add ``judge_*`` metrics and per-sample ``judge_score`` (open questions) to each model's
    stored VQA scores; return the judge-wide VQA figures.

    An open question whose answer failed scores 0, as in the token metrics
    (``judge_candidate_failed``); an answer the judge never graded usably is counted in
    ``judge_unscored`` and left out."""
    stored = {(e["model"], e["task"], e["dataset"]): e for e in store.scores()}
    rows = {(r.dataset, r.sample_id, r.repeat): r for r in store.results(judge_name, task.name)}
    all_scores: list[list[float]] = []
    pairs: list[tuple[float, float]] = []
    total_cost, cost_unknown, n_graded = 0.0, 0, 0
    for job in _judged(jobs):
        entry = stored.get((job.model.name, JUDGED_VQA, job.dataset))
        if entry is None:
            continue
        per_sample: dict[str, dict[str, float]] = entry["per_sample"]
        scores, groups, complete = [], [], []
        unscored = failed = 0
        cost = 0.0
        for s in sorted(job.samples, key=lambda s: s.id):
            if s.id not in per_sample or not _open(s):
                continue
            jid = f"{job.model.name}::{s.id}"
            if (job.dataset, jid) not in judged:
                failed += 1
                per_sample[s.id]["judge_score"] = 0.0
                scores.append(0.0)
                groups.append(s.patient_id or s.id)
                continue
            reps = [rows.get((job.dataset, jid, k)) for k in range(repeats)]
            spent, unpriced = judge_cost(reps)
            cost += spent
            cost_unknown += unpriced
            usable = [r.prediction.value for r in reps if r is not None and r.prediction.usable]
            if not usable:
                unscored += 1
                continue
            value = statistics.fmean(v["score"] for v in usable)
            per_sample[s.id]["judge_score"] = value
            scores.append(value)
            groups.append(s.patient_id or s.id)
            if len(usable) == repeats:
                complete.append([v["score"] for v in usable])
            if (job.model.name, s.id) in truth:
                pairs.append((value, truth[(job.model.name, s.id)]))
        metrics = entry["metrics"]
        metrics.update(
            judge_summary(scores, groups, complete, repeats, "judge_repeat_exact_grade", complete)
        )
        metrics.update({"judge_unscored": float(unscored), "judge_candidate_failed": float(failed),
                        "judge_cost_usd": cost})  # fmt: skip
        total_cost += cost
        n_graded += len(scores) - failed
        all_scores.extend(complete)
        entry["tables"]["judge"] = {"model": judge_name, "repeats": repeats,
                                    "template_hash": task.template_hash()}  # fmt: skip
        store.put_scores(
            entry["model"], JUDGED_VQA, entry["dataset"], entry["headline"],
            metrics, per_sample, entry["tables"],
        )  # fmt: skip
    record: dict[str, Any] = {
        "cost_usd": total_cost,
        "cost_unknown_answers": cost_unknown,
        "graded_answers": n_graded,
        "repeat_icc": repeat_icc(all_scores, repeats),
        "repeat_exact_grade": exact_agreement(all_scores) if all_scores else float("nan"),
        "repeat_answers": len(all_scores),
        "prompt_version": task.version,
        "template_hash": task.template_hash(),
    }
    if truth:
        human = correlations([p[0] for p in pairs], [p[1] for p in pairs]) if len(pairs) else {}
        record["human"] = {"n": len(pairs), **human}
    return record


def _judged(jobs: Sequence[Job]) -> list[Job]:
    return [j for j in jobs if j.task.name == JUDGED_VQA]
