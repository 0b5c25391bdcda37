"""The runner: asks each model every pending sample of every job, stores each answer at once,
then scores from the store — so an interrupted run resumes and ends with identical numbers."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from medmine.core import (
    BadSample,
    Fittable,
    Model,
    ParseStatus,
    Prediction,
    Request,
    Response,
    Sample,
    Task,
)
from medmine.run.progress import ProgressBoard
from medmine.run.store import ResponseCache, RunStore
from medmine.run.validate import cannot_take, image_problem


class Executor(Protocol):
    """Where models answer: the local process by default, or remote workers.

    ``wrap`` returns a Model with the same name and cache_id whose ``generate`` runs
    elsewhere; the runner, the store, the cache and resume semantics stay the same.
    """

    def wrap(self, model: Model) -> Model:
        """A model that answers through this executor."""
        ...

    def summary(self) -> dict[str, object]:
        """What the executor did (workers, retried requests), for the manifest."""
        ...


# Response.error_kind values that mean the input file, not the model, failed.
INPUT_ERRORS = frozenset({"input", "bad_image"})


@dataclass
class Job:
    """One model on one task on one dataset's test samples (with its training split as support)."""

    model: Model
    task: Task
    dataset: str
    samples: Sequence[Sample]
    support: Sequence[Sample] = ()
    fingerprint: str = ""


@dataclass
class Unit:
    """One pending question: a model, a task, a sample and repeat, with its request and key."""

    model: Model
    model_name: str
    task: Task
    dataset: str
    sample: Sample
    repeat: int
    request: Request
    key: str


@dataclass
class RunSummary:
    """What a run did: answers asked, taken from cache, resumed, failed, skipped."""

    asked: int = 0
    from_cache: int = 0
    resumed: int = 0
    errors: int = 0
    bad_samples: int = 0
    stopped_models: dict[str, str] = field(default_factory=dict)


class Runner:
    """Runs jobs against a run store, with a shared response cache and per-model concurrency."""

    def __init__(
        self,
        store: RunStore,
        cache: ResponseCache | None = None,
        *,
        repeats: int = 1,
        concurrency: int | None = None,
        progress: bool = True,
        executor: Executor | None = None,
        max_cost: float | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.max_cost = max_cost
        self.spent = store.spent() if max_cost is not None else 0.0
        self.cache = cache
        self.repeats = repeats
        self.concurrency = concurrency
        self.progress = progress
        self.summary = RunSummary()
        self.stopped: dict[str, str] = {}  # model name -> why it stopped being asked

    # ------------------------------------------------------------------------------ asking
    def _fitted(self, job: Job, samples: Sequence[Sample]) -> tuple[Model | None, str | None]:
        """The model ready to answer the job (fitted on the support set when it learns),
        or None and the reason it cannot run (recorded, shown in the report)."""
        model = job.model
        if isinstance(model, Fittable):
            support = [s for s in job.support if job.task.applies_to(s)]
            try:
                model = model.fit(support, job.task)
            except (OSError, ValueError) as exc:
                return None, f"cannot fit: {exc}"
        if self.executor is not None:
            model = self.executor.wrap(model)
        return model, None

    def prepare(self, jobs: Sequence[Job]) -> tuple[list[Unit], list[Job]]:
        """Pending units and the jobs after fitting and skipping rules.

        A unit is pending unless the store holds an answer to the very same request (same
        hash): a changed prompt, setting or image is asked again, an unchanged one never is.
        Images a request would send are checked to decode first; a text-only model is not
        sent requests that carry images (those samples are skipped for it, with the count).
        """
        units: list[Unit] = []
        ready: list[Job] = []
        for job in jobs:
            samples = [s for s in job.samples if job.task.applies_to(s)]
            supported = getattr(job.model, "tasks", None)
            base = getattr(job.task, "base_name", job.task.name)  # prompt strategies wrap tasks
            if not samples or (supported is not None and base not in supported):
                continue  # nothing to do, or a specialised baseline not meant for this task
            name = job.model.name
            model, reason = self._fitted(job, samples)
            if model is None:
                self.store.put_skipped(name, job.task.name, job.dataset, str(reason), len(samples))
                continue
            job_units, kept, bad, left_out = self._units(job, model, samples)
            if bad:
                self.store.put_bad_samples(bad)
                self.summary.bad_samples += len(bad)
            for why, n in left_out.items():
                self.store.put_skipped(name, job.task.name, job.dataset, why, n)
            if kept:
                ready.append(dataclasses.replace(job, model=model, samples=kept))
                units.extend(job_units)
        return units, ready

    def _units(
        self, job: Job, model: Model, samples: Sequence[Sample]
    ) -> tuple[list[Unit], list[Sample], list[BadSample], Counter[str]]:
        """The job's pending units, the samples it keeps, its bad samples, and how many
        samples the model could not be sent, by reason (text-only, too many images)."""
        name = job.model.name
        done = self.store.answered(name, job.task.name, job.dataset)
        units: list[Unit] = []
        kept: list[Sample] = []
        bad: list[BadSample] = []
        left_out: Counter[str] = Counter()
        for s in samples:
            try:
                base = job.task.request(s)
            except (OSError, ValueError) as exc:
                bad.append(BadSample(s.id, job.dataset, _paths(s), _why(exc)))
                continue
            images = base.images()
            why = cannot_take(job.model, len(images))
            if why is not None:
                left_out[why] += 1  # "not run" for this model and setting, not failed
                continue
            problem = next(filter(None, (image_problem(im) for im in images)), None)
            if problem is not None:
                bad.append(BadSample(s.id, job.dataset, _paths(s), problem))
                continue
            try:
                keys = [base.key(model.cache_id)]
                keys += [
                    dataclasses.replace(base, repeat=r).key(model.cache_id)
                    for r in range(1, self.repeats)
                ]
            except (OSError, ValueError) as exc:
                bad.append(BadSample(s.id, job.dataset, _paths(s), _why(exc)))
                continue
            kept.append(s)
            for rep, key in enumerate(keys):
                if done.get((s.id, rep)) == key:
                    self.summary.resumed += 1
                else:
                    request = dataclasses.replace(base, repeat=rep) if rep else base
                    units.append(Unit(model, name, job.task, job.dataset, s, rep, request, key))
        return units, kept, bad, left_out

    async def run(self, jobs: Sequence[Job]) -> list[Job]:
        """Ask every pending unit; returns the jobs as run (fitted models, applicable samples)."""
        units, ready = self.prepare(jobs)
        by_model: dict[str, list[Unit]] = defaultdict(list)
        for u in units:
            by_model[u.model_name].append(u)
        board = ProgressBoard(enabled=self.progress)
        with board:
            await asyncio.gather(
                *(self.run_units(name, us, board) for name, us in by_model.items())
            )
        self.summary.stopped_models.update(self.stopped)
        return ready

    async def run_units(self, name: str, units: list[Unit], board: ProgressBoard) -> None:
        """Answer one model's units under its concurrency limit, until done or stopped."""
        limit = self.concurrency or max(1, int(getattr(units[0].model, "max_concurrency", 1)))
        sem = asyncio.Semaphore(limit)
        bar = board.add(name, len(units))

        async def one(u: Unit) -> None:
            async with sem:
                if name in self.stopped or self.over_budget():
                    bar.advance(error=False)
                    return
                failed = await self.answer_unit(u)
            bar.advance(error=failed)

        await asyncio.gather(*(one(u) for u in units))

    def over_budget(self) -> bool:
        """True once the recorded spend of this run reaches ``max_cost`` (then nothing new is
        sent; requests already in flight finish, so the spend may pass the cap by at most
        their cost). A rerun with a higher cap continues where this one stopped."""
        if self.max_cost is None or self.spent < self.max_cost:
            return False
        if "budget" not in self.summary.stopped_models:
            self.summary.stopped_models["budget"] = (
                f"recorded spend ${self.spent:.4f} reached --max-cost ${self.max_cost:.4f}"
            )
            self.store.event("budget", self.summary.stopped_models["budget"])
        return True

    async def answer_unit(self, u: Unit) -> bool:
        """Ask one unit (or take it from the cache) and store it. Returns True on failure."""
        cached = self.cache.get(u.key) if self.cache is not None else None
        if cached is not None:
            response, from_cache = cached, True
            self.summary.from_cache += 1
        else:
            response = await self._generate(u.model, u.request)
            from_cache = False
            self.summary.asked += 1
            self.spent += response.cost_usd or 0.0
            if self.cache is not None:
                self.cache.put(u.key, response)
        if response.error_kind in INPUT_ERRORS:
            # The sample's own file is unreadable: a bad sample, not a model failure.
            bad = BadSample(u.sample.id, u.dataset, _paths(u.sample), response.error or "")
            self.store.put_bad_samples([bad])
            self.summary.bad_samples += 1
            return True
        if response.extra.get("image_ignored") and response.error is None:
            # The server answered without looking at the image (e.g. a llama.cpp text chat
            # format dropped the image part): not a vision answer, so not scored as one.
            prediction = Prediction(
                None,
                ParseStatus.ERROR,
                "the server ignored the image: it reported "
                f"{response.extra.get('input_tokens_reported', '?')} prompt tokens, fewer than "
                f"the ~{response.extra.get('image_tokens_estimated', '?')} the image costs",
            )
        else:
            prediction = _safe_parse(u.task, response, u.sample)
        self.store.put_result(
            u.model_name,
            u.task.name,
            u.dataset,
            u.sample.id,
            u.repeat,
            u.key,
            response,
            from_cache,
            prediction,
        )
        if response.error is not None:
            self.summary.errors += 1
            if response.error_kind == "quota" and u.model_name not in self.stopped:
                self.stopped[u.model_name] = response.error
                self.store.event(
                    "quota",
                    f"{u.model_name}: stopped asking ({response.error}); "
                    "rerun the same command later to resume",
                )
            return True
        return False

    @staticmethod
    async def _generate(model: Model, request: Request) -> Response:
        start = time.perf_counter()
        try:
            return await model.generate(request)
        except Exception as exc:  # a backend bug must not end the run: record it per sample
            return Response(
                text="",
                model=model.cache_id,
                error=f"{type(exc).__name__}: {exc}",
                error_kind="exception",
                latency_s=time.perf_counter() - start,
            )

    # ----------------------------------------------------------------------------- scoring
    def score(self, jobs: Sequence[Job]) -> None:
        """Score every job from what the store holds (deterministic order: sample id).

        Samples recorded as unreadable are left out for every model alike."""
        unreadable = {(b.dataset, b.id) for b in self.store.bad_samples()}
        for job in jobs:
            name = job.model.name
            rows = {
                (r.sample_id, r.repeat): r
                for r in self.store.results(name, job.task.name, job.dataset)
            }
            samples = sorted(job.samples, key=lambda s: s.id)
            samples = [s for s in samples if (job.dataset, s.id) not in unreadable]
            if not samples:
                continue
            per_repeat = []
            for rep in range(self.repeats):
                preds = [
                    rows[(s.id, rep)].prediction
                    if (s.id, rep) in rows
                    else Prediction(None, ParseStatus.ERROR, "not answered (run incomplete)")
                    for s in samples
                ]
                per_repeat.append(job.task.score(preds, samples))
            scores = per_repeat[0]
            metrics = dict(scores.metrics)
            missing = sum((s.id, 0) not in rows for s in samples)
            metrics["n_missing"] = float(missing)
            if self.repeats > 1:
                heads = [r.metrics[scores.headline] for r in per_repeat]
                metrics[f"{scores.headline}_repeat_mean"] = float(np.mean(heads))
                metrics[f"{scores.headline}_repeat_sd"] = float(np.std(heads, ddof=1))
            metrics.update(
                efficiency([r.response for r in rows.values()], [r.cached for r in rows.values()])
            )
            self.store.put_scores(
                name,
                job.task.name,
                job.dataset,
                scores.headline,
                metrics,
                scores.per_sample,
                scores.tables,
            )


def efficiency(responses: Sequence[Response], cached: Sequence[bool]) -> dict[str, float]:
    """Latency, time to first token, tokens, throughput and cost over a job's answers."""
    out: dict[str, float] = {}
    lat = [r.latency_s for r in responses if r.latency_s is not None]
    if lat:
        out["latency_mean_s"] = float(statistics.fmean(lat))
        out["latency_p50_s"] = float(np.percentile(lat, 50))
        out["latency_p95_s"] = float(np.percentile(lat, 95))
    ttft = [r.ttft_s for r in responses if r.ttft_s is not None]
    if ttft:
        out["ttft_mean_s"] = float(statistics.fmean(ttft))
    tin = [r.usage.input_tokens for r in responses if r.usage.input_tokens is not None]
    tout = [r.usage.output_tokens for r in responses if r.usage.output_tokens is not None]
    if tin:
        out["input_tokens"] = float(sum(tin))
    if tout:
        out["output_tokens"] = float(sum(tout))
    tps = [t for r in responses if (t := r.tokens_per_s) is not None]
    if tps:
        out["tokens_per_s"] = float(statistics.fmean(tps))
    if any(r.usage.estimated for r in responses):
        out["tokens_estimated"] = 1.0
    costs = [r.cost_usd for r in responses if r.cost_usd is not None]
    if costs:
        out["cost_usd"] = float(sum(costs))
        out["cost_per_sample_usd"] = float(sum(costs) / len(responses))
    if responses:
        out["cached_share"] = float(sum(cached) / len(responses))
        batched = sum(bool(r.extra.get("batch")) for r in responses)
        if batched:
            # Batch answers carry no latency: the figures above cover live answers only.
            out["batch_share"] = float(batched / len(responses))
    return out


def _safe_parse(task: Task, response: Response, sample: Sample) -> Prediction:
    try:
        return task.parse(response, sample)
    except Exception as exc:  # a parser bug is recorded on the sample, never ends the run
        return Prediction(
            None, ParseStatus.UNPARSEABLE, f"parser error: {type(exc).__name__}: {exc}"
        )


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _paths(sample: Sample) -> str:
    return ", ".join(str(im.path) for im in sample.images) or sample.id
