"""Run a suite end to end: resolve models, tasks and datasets, ask, score, record the recipe."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import medmine.clinical  # noqa: F401  (registers the model-based report metrics)
from medmine.core import GenerationSettings, Model, Sample, Task, cache_dir
from medmine.datasets.sources import LoadedDataset, load_for_suite
from medmine.models.resolve import resolve_models
from medmine.run.judge import JudgeConfig
from medmine.run.names import did_you_mean
from medmine.run.preflight import Preflight, data_use_problems, model_problem
from medmine.run.recipe import environment
from medmine.run.runner import Executor, Job, Runner, RunSummary
from medmine.run.score_cache import ScoreCache
from medmine.run.store import ResponseCache, RunStore
from medmine.run.suite import SuiteConfig
from medmine.tasks.prompting import strategy_jobs
from medmine.tasks.registry import make_task


@dataclass
class RunOptions:
    """Command-line choices that filter or steer a suite."""

    out: Path
    models: Sequence[str] = ()
    tasks: Sequence[str] = ()
    datasets: Sequence[str] = ()
    limit: int | None = None
    concurrency: int | None = None
    use_cache: bool = True
    progress: bool = True
    data_root: Path | None = None
    acknowledge_data_use: Sequence[str] = ()
    executor: str = "local"
    executor_options: dict[str, object] = field(default_factory=dict)
    max_cost: float | None = None
    batch: bool = False
    judge: str | None = None  # overrides the suite's judge
    judge_truth: Path | None = None
    judge_repeats: int | None = None
    # Where messages the user must see go (preflight problems); None: silent.
    say: Callable[[str], None] | None = None
    # Where passing status lines go (loading, checking images, scoring); None: silent.
    status: Callable[[str], None] | None = None


def model_warnings(model: Model, concurrency: int | None) -> list[str]:
    """A model's configuration warnings at the run's --concurrency (backends that have none
    say nothing)."""
    warnings = getattr(model, "warnings", None)
    return list(warnings(concurrency)) if callable(warnings) else []


def peak_in_flight(manifest: dict[str, Any], models: Sequence[Model]) -> dict[str, int]:
    """model -> most requests seen in flight at once, over this run and the runs it resumed
    (a model that sent nothing live this run keeps its earlier figure, or has none)."""
    out = {k: int(v) for k, v in (manifest.get("concurrency_peak") or {}).items()}
    for m in models:
        peak = getattr(m, "peak_in_flight", 0) or 0
        if peak:
            out[m.name] = max(peak, out.get(m.name, 0))
    return out


def _say(opts: RunOptions, message: str) -> None:
    if opts.say is not None:
        opts.say(message)


@dataclass
class RunOutcome:
    """What happened: the run directory, the summary and any notices for the reader."""

    run_dir: Path
    summary: RunSummary
    notices: list[str] = field(default_factory=list)
    preflight: Preflight = field(default_factory=Preflight)
    models: list[str] = field(default_factory=list)
    # The datasets as this run loaded them (the report's gallery takes its cases from them
    # instead of reading the dataset again).
    datasets: list[LoadedDataset] = field(default_factory=list)


def _settings(suite: SuiteConfig, task: Task) -> GenerationSettings:
    base = getattr(task, "settings", GenerationSettings())
    s = suite.settings
    return dataclasses.replace(
        base,
        temperature=s.temperature,
        max_tokens=s.max_tokens or base.max_tokens,
        seed=s.seed,
        structured=s.structured,
    )


def _pick(names: Sequence[str], wanted: Sequence[str], what: str) -> list[str]:
    if not wanted:
        return list(names)
    unknown = [w for w in wanted if w not in names]
    if unknown:
        hints = "".join(did_you_mean(u, names) for u in unknown)
        raise ValueError(
            f"--{what} {', '.join(unknown)} not in this suite ({', '.join(names)}){hints}"
        )
    return [n for n in names if n in wanted]


def _task_for_model(task: Task, model: Model, options: dict[str, object]) -> Task:
    """The task as this model should be asked: spatial prompts in the coordinate convention
    the model's preset declares (model families are trained on different ones), unless the
    suite fixed the convention explicitly."""
    preset = getattr(model, "preset", None)
    convention = getattr(preset, "coord_convention", None)
    if (
        convention
        and "convention" not in options
        and dataclasses.is_dataclass(task)
        and getattr(task, "convention", convention) != convention
    ):
        return dataclasses.replace(task, convention=convention)  # type: ignore[type-var]
    return task


def _serves(model: Model, task: Task, samples: Sequence[Sample]) -> bool:
    """Whether the model does the task and the task applies to one of the samples."""
    supported = getattr(model, "tasks", None)
    if supported is not None and task.name not in supported:
        return False
    return any(task.applies_to(s) for s in samples)


@dataclass
class Plan:
    """What a suite resolves to: jobs, and the datasets, models and tasks behind them."""

    jobs: list[Job]
    datasets: list[LoadedDataset]
    models: list[Model]
    tasks: list[Task]
    absent: list[str] = field(default_factory=list)  # datasets skipped, with the reason
    not_run: list[tuple[str, str, str, str]] = field(default_factory=list)  # strategy settings


def build_jobs(suite: SuiteConfig, opts: RunOptions) -> Plan:
    """The suite's jobs after the command-line filters."""
    task_specs = {t.name: t for t in suite.tasks}
    tasks = []
    for name in _pick(list(task_specs), opts.tasks, "task"):
        task = make_task(name, **task_specs[name].options)
        if hasattr(task, "settings"):
            task.settings = _settings(suite, task)  # type: ignore[attr-defined]
        tasks.append(task)
    models = _models(suite, opts)
    for model in models:
        problem = model_problem(model)
        if problem is not None:  # reported at once, before any dataset is read
            _say(opts, problem.line())
    specs = {d.name: d for d in suite.datasets}
    datasets = []
    absent: list[str] = []
    for name in _pick(list(specs), opts.datasets, "dataset"):
        spec = specs[name]
        if opts.limit is not None:
            spec = spec.model_copy(update={"limit": opts.limit})
        if opts.status is not None:
            opts.status(f"loading dataset {name}…")
        try:
            datasets.append(load_for_suite(spec, opts.data_root, suite.seed))
        except FileNotFoundError as exc:
            if not suite.skip_missing_datasets:
                raise
            absent.append(str(exc))  # whole, with the expected layout
    if not datasets:
        raise FileNotFoundError(
            "none of the suite's datasets was found"
            + (f" under {opts.data_root}" if opts.data_root else " (give --data-root DIR)")
            + "".join(f"\n  skipped: {a}" for a in absent)
        )
    jobs: list[Job] = []
    not_run: list[tuple[str, str, str, str]] = []
    strategies = suite.strategies()
    for model in models:
        for ds in datasets:
            for task in tasks:
                asked = _task_for_model(task, model, task_specs[task.name].options)
                variants, skipped = strategy_jobs(
                    asked, strategies, suite.shots, ds.support, suite.seed
                )
                if _serves(model, task, ds.test):
                    not_run += [(model.name, col, ds.name, why) for col, why in skipped]
                jobs += [
                    Job(model, t, ds.name, ds.test, ds.support, ds.fingerprint) for t in variants
                ]
    return Plan(jobs, datasets, models, tasks, absent, not_run)


def _models(suite: SuiteConfig, opts: RunOptions) -> list[Model]:
    """The models to run. Models named with --model are compared against the suite's own
    baselines (free, offline references), which run too unless only baselines were named."""
    from medmine.baselines.registry import baseline_names

    models = resolve_models(suite.models, only=opts.models, preset_files=suite.presets)
    baselines = set(baseline_names())
    if opts.models and any(m.name not in baselines for m in models):
        names = {m.name for m in models}
        refs = resolve_models(suite.models, preset_files=suite.presets)
        models = [*(m for m in refs if m.name in baselines and m.name not in names), *models]
    return models


def _drop_stale_scores(store: RunStore, jobs: Sequence[Job]) -> list[str]:
    """Remove scores of models this run does not include on the (task, dataset) pairs it
    covers, so a rerun with other models never shows an earlier run's rows as current.
    Returns the models whose rows were removed."""
    covered = {(j.task.name, j.dataset) for j in jobs}
    current = {(j.model.name, j.task.name, j.dataset) for j in jobs}
    stale = [
        (sc["model"], sc["task"], sc["dataset"])
        for sc in store.scores()
        if (sc["task"], sc["dataset"]) in covered
        and (sc["model"], sc["task"], sc["dataset"]) not in current
    ]
    skipped = [
        (m, t, d)
        for m, t, d, _, _ in store.skipped()
        if (t, d) in covered and (m, t, d) not in current
    ]
    with store.con:
        store.con.executemany("DELETE FROM scores WHERE model=? AND task=? AND dataset=?", stale)
        store.con.executemany("DELETE FROM skipped WHERE model=? AND task=? AND dataset=?", skipped)
    if stale:
        store.event("run", f"removed stale leaderboard rows: {stale}")
    return sorted({m for m, _, _ in stale})


def _executor(opts: RunOptions) -> Executor | None:
    """The executor the options ask for (None: this process)."""
    options = {k: v for k, v in opts.executor_options.items() if v is not None}
    if opts.executor == "local" and not options:
        return None
    from medmine.run.ray_executor import make_executor

    return make_executor(opts.executor, **options)


def judge_setup(
    suite: SuiteConfig, opts: RunOptions, datasets: Sequence[LoadedDataset], acks: list[str]
) -> tuple[JudgeConfig, Model] | None:
    """The judge and its settings when one is asked for, checked before anything is sent:
    the preset resolves, the data-use rules allow it, the human-ratings file reads."""
    from medmine.run.judge import load_truth, resolve_judge

    name = opts.judge or suite.judge
    if not name:
        if opts.judge_truth:
            raise ValueError("--judge-truth needs a judge (--judge PRESET or judge: in the suite)")
        return None
    truth = opts.judge_truth or suite.judge_truth
    cfg = JudgeConfig(
        name, opts.judge_repeats or suite.judge_repeats, suite.judge_temperature, truth
    )
    judge = resolve_judge(name, suite.presets)
    problem = model_problem(judge)
    problems = [problem] if problem is not None else data_use_problems(datasets, judge, acks)
    if problems:
        raise ValueError(f"the judge cannot run: {problems[0].line()}")
    if truth is not None:
        load_truth(truth)
    return cfg, judge


def execute(suite: SuiteConfig, opts: RunOptions) -> RunOutcome:
    """Run (or resume) a suite into ``opts.out`` and score it."""
    from medmine.run.store_check import check_store_file

    check_store_file(opts.out / RunStore.FILENAME)  # a damaged store stops us before any work
    plan = build_jobs(suite, opts)
    jobs, datasets, models, tasks = plan.jobs, plan.datasets, plan.models, plan.tasks
    acks = [*suite.acknowledge_data_use, *opts.acknowledge_data_use]
    checks = Preflight()
    for model in models:
        problem = model_problem(model)
        if problem is not None:
            checks.problems.append(problem)
            continue
        for p in data_use_problems(datasets, model, acks):
            checks.problems.append(p)
            _say(opts, p.line())
        for warning in model_warnings(model, opts.concurrency):  # e.g. one stream at a time
            _say(opts, f"warning: {warning}")
    if jobs and all(checks.why(j.model.name, j.dataset) for j in jobs):
        # Nothing at all could run: say so and touch nothing (no run folder is created).
        lines = "\n  ".join(dict.fromkeys(p.line() for p in checks.problems))
        raise ValueError(f"no model of this run can be asked:\n  {lines}")
    judging = judge_setup(suite, opts, datasets, acks)
    opts.out.mkdir(parents=True, exist_ok=True)
    store = RunStore(opts.out)
    cache = ResponseCache(cache_dir()) if opts.use_cache else None
    score_cache = ScoreCache(cache_dir()) if opts.use_cache else None
    try:
        for ds in datasets:
            store.put_bad_samples(ds.bad)
        for model_name, column, ds_name, why in plan.not_run:
            n = len(next(d for d in datasets if d.name == ds_name).test)
            store.put_skipped(model_name, column, ds_name, why, n)
        store.set_manifest(
            {
                "suite": suite.model_dump(mode="json"),
                "environment": environment(),
                "started": store.manifest().get("started", time.time()),
                "prompting": {"strategies": suite.strategies(), "shots": suite.shots},
                "filters": {
                    "models": list(opts.models),
                    "tasks": list(opts.tasks),
                    "datasets": list(opts.datasets),
                    "limit": opts.limit,
                },
                "concurrency": {
                    m.name: opts.concurrency or getattr(m, "max_concurrency", 1) for m in models
                },
                "models": {m.name: m.describe() for m in models},
                "tasks": {
                    t.name: {"version": t.version, "template_hash": t.template_hash()}
                    for t in tasks
                },
                "datasets": {
                    d.name: {
                        "fingerprint": d.fingerprint,
                        "n_test": len(d.test),
                        "n_support": len(d.support),
                        "notice": d.notice,
                    }
                    for d in datasets
                },
                "acknowledged_data_use": [
                    *suite.acknowledge_data_use,
                    *opts.acknowledge_data_use,
                ],
                "response_cache": str(cache.path) if cache else None,
                "datasets_absent": plan.absent,
            }
        )
        store.event("run", f"started: {len(jobs)} jobs")
        executor = _executor(opts)
        runner = Runner(
            store,
            cache,
            repeats=suite.repeats,
            concurrency=opts.concurrency,
            progress=opts.progress,
            executor=executor,
            max_cost=opts.max_cost,
            blocked=checks.why,
            score_cache=score_cache,
            status=opts.status,
        )
        try:
            if opts.batch:
                from medmine.run.batch import run_batch

                batch = asyncio.run(run_batch(runner, jobs))
                ready = batch.jobs
                figures = {
                    f.name: getattr(batch, f.name)
                    for f in dataclasses.fields(batch)
                    if f.name not in ("jobs", "run")
                }
                store.set_manifest({"batch": figures})
            else:
                ready = asyncio.run(runner.run(jobs))
        finally:
            if executor is not None:
                store.set_manifest({"executor": executor.summary()})
                executor.close()  # type: ignore[attr-defined]
        if runner.summary.interrupted:
            store.event("run", f"interrupted by the user: {dataclasses.asdict(runner.summary)}")
            return RunOutcome(opts.out, runner.summary, [], checks, [m.name for m in models])
        runner.score(ready)
        if judging is not None:
            from medmine.run.judge import run_judge

            run_judge(store, cache, ready, *judging, concurrency=opts.concurrency,
                      progress=opts.progress, max_cost=opts.max_cost)  # fmt: skip
        stale = _drop_stale_scores(store, jobs)
        store.set_manifest(
            {
                "finished": time.time(),
                "concurrency_peak": peak_in_flight(store.manifest(), models),
                "jobs": {
                    f"{j.model.name}/{j.task.name}/{j.dataset}": {
                        "model_id": j.model.cache_id,
                        "task_version": j.task.version,
                        "template_hash": j.task.template_hash(),
                        "dataset_fingerprint": j.fingerprint,
                        "prompting": j.task.recipe() if hasattr(j.task, "recipe") else None,
                    }
                    for j in ready
                },
            }
        )
        store.event("run", f"finished: {dataclasses.asdict(runner.summary)}")
    finally:
        store.close()
        if cache is not None:
            cache.close()
        if score_cache is not None:
            score_cache.close()
    notices = [d.notice for d in datasets if d.notice]
    if stale:
        notices.append(
            f"leaderboard rows of models not in this run were removed ({', '.join(stale)}): "
            "their answers stay in run.sqlite and return if you rerun with them; to compare "
            "runs of different models, give each its own --out and run `medmine report DIR1 DIR2`"
        )
    notices += [f"skipped dataset: {a}" for a in plan.absent]
    notices += [
        f"metric unavailable: {t.name} {name}: {why}"
        for t in tasks
        for name, why in getattr(t, "_unavailable", {}).items()
    ]
    return RunOutcome(opts.out, runner.summary, notices, checks, [m.name for m in models], datasets)
