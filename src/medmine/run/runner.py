"""The runner: asks each model every pending sample of every job, stores each answer at once,
then scores from the store — so an interrupted run resumes and ends with identical numbers."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from itertools import chain

from medmine.core import (
    BadSample,
    Model,
    Outcome,
    ParseStatus,
    Prediction,
    Request,
    Response,
    forced_status,
)
from medmine.core.secrets import redact
from medmine.run.feed import UnitFeed, flushing, ident
from medmine.run.interrupt import on_ctrl_c, record_unsent
from medmine.run.ledger import outcome_of, safe_parse
from medmine.run.pending import Pending
from medmine.run.planning import Planning
from medmine.run.progress import ModelBar, ProgressBoard
from medmine.run.score_cache import ScoreCache
from medmine.run.store import ResponseCache, RunStore
from medmine.run.units import (
    INPUT_ERRORS,
    Executor,
    Job,
    RunSummary,
    Unit,
    is_free,
    sample_paths,
)
from medmine.run.writes import FLUSH_EVERY

__all__ = [
    "INPUT_ERRORS",
    "Executor",
    "Job",
    "RunSummary",
    "Runner",
    "Unit",
    "is_free",
]


class Runner(Planning):
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
        blocked: Callable[[str, str], str | None] | None = None,
        score_cache: ScoreCache | None = None,
        status: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.blocked = blocked or (lambda model, dataset: None)
        self.score_cache = score_cache
        self.status = status
        self.stop_requested = False  # set by Ctrl-C: send nothing new
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
    async def run(self, jobs: Sequence[Job]) -> list[Job]:
        """Ask every pending unit; returns the jobs as run (fitted models, applicable samples)."""
        self._started = time.time()
        pending, ready = self.plan(jobs)
        self._report_in_flight(pending)
        by_model: dict[str, list[Pending]] = defaultdict(list)
        for p in pending:
            by_model[p.job.model.name].append(p)
        board = ProgressBoard(enabled=self.progress)
        with board, on_ctrl_c(self._interrupt):
            work = asyncio.gather(
                *(
                    self.run_units(
                        name,
                        chain.from_iterable(p.units(self._bad_later) for p in ps),
                        board.add(name, sum(len(p) for p in ps)),
                        ps[0].model,
                    )
                    for name, ps in by_model.items()
                )
            )
            self._work = work
            try:
                await work
            except asyncio.CancelledError:
                if not self.stop_requested:
                    raise
        if self.stop_requested:
            idents = chain.from_iterable(p.idents() for p in pending)
            self.summary.not_sent += record_unsent(self.store, idents, self._started)
        self.summary.stopped_models.update(self.stopped)
        return ready

    GRACE_S = 10.0  # how long Ctrl-C waits for answers already in flight

    def _interrupt(self) -> None:
        """Ctrl-C: send nothing new, give answers in flight GRACE_S seconds, then stop.
        A second Ctrl-C stops at once (those requests stay recorded as in flight)."""
        loop = asyncio.get_running_loop()
        if self.stop_requested:
            self._work.cancel()
            return
        self.stop_requested = True
        self.summary.interrupted = True
        if self.status is not None:
            self.status(
                f"stopping: nothing new is sent; waiting up to {self.GRACE_S:.0f} s for answers "
                "in flight (Ctrl-C again to stop now)"
            )
        loop.call_later(self.GRACE_S, self._work.cancel)

    async def run_units(
        self, name: str, units: Iterable[Unit], bar: ModelBar, model: Model
    ) -> None:
        """Answer one model's units (taken as the workers reach them) under its concurrency
        limit, until done or stopped; ``bar`` counts them, ``model`` sets the limit."""
        limit = self.concurrency or max(1, int(getattr(model, "max_concurrency", 1)))
        feed = UnitFeed(self.store, self.cache, units)

        async def one(u: Unit, cached: Response | None) -> None:
            marked = feed.sent(u)
            why = self.why_not_send(u.model)
            if why is not None:
                outcome, detail = why
                self.store.ledger.put(
                    name, u.task.name, u.dataset, [(u.sample.id, u.repeat, outcome, detail)]
                )
                if marked:
                    self.store.ledger.landed(*ident(u))
                self.summary.not_sent += 1
                bar.advance(error=False)
                return
            failed = await self.answer_unit(u, cached, marked=marked)
            bar.advance(error=failed)

        async def worker() -> None:  # ``limit`` coroutines in memory, not one task per unit
            while (item := feed.next(marking=not self.stop_requested)) is not None:
                await one(*item)

        async with flushing(self.store, self.cache):
            try:
                await asyncio.gather(*(worker() for _ in range(limit)))
            finally:
                feed.release()
                bar.close()

    def why_not_send(self, model: Model) -> tuple[Outcome, str] | None:
        """Why a unit of this model must not be sent now (user stop, quota, budget), or None."""
        name = model.name
        if self.stop_requested:
            return Outcome.NOT_SENT_STOP, "the user stopped the run (Ctrl-C)"
        if name in self.stopped:
            return Outcome.NOT_SENT_BUDGET, f"provider quota: {self.stopped[name]}"
        if self.over_budget(model):
            return Outcome.NOT_SENT_BUDGET, self.summary.stopped_models["budget"]
        return None

    def _report_in_flight(self, pending: Sequence[Pending]) -> None:
        """Count requests an earlier, killed process had sent without an answer recorded:
        they are sent again now (the only requests a resumed run ever sends twice)."""
        earlier = set(self.store.ledger.in_flight())
        if not earlier:
            return
        again = sum(i[:5] in earlier for p in pending for i in p.idents())
        self.summary.resent = again
        self.store.event(
            "resume",
            f"{len(earlier)} request(s) were in flight when the last run stopped (sent, or "
            f"marked to be sent in the same window of {FLUSH_EVERY}); "
            f"{again} of them are sent again",
        )

    def over_budget(self, model: Model | None = None) -> bool:
        """True once the recorded spend of this run reaches ``max_cost`` (then nothing new is
        sent; requests already in flight finish, so the spend may pass the cap by at most
        their cost). A rerun with a higher cap continues where this one stopped."""
        if self.max_cost is None or self.spent < self.max_cost:
            return False
        if model is not None and is_free(model):
            return False  # a cap on spending never holds back a model that costs nothing
        if "budget" not in self.summary.stopped_models:
            self.summary.stopped_models["budget"] = (
                f"recorded spend ${self.spent:.4f} reached --max-cost ${self.max_cost:.4f}"
            )
            self.store.event("budget", self.summary.stopped_models["budget"])
        return True

    async def answer_unit(
        self, u: Unit, cached: Response | None = None, *, marked: bool = False
    ) -> bool:
        """Ask one unit (or take it from the cache) and store it. Returns True on failure.

        ``cached`` is the unit's answer when the caller already looked it up; ``marked`` says
        the caller already committed the unit's in-flight mark (then only answers put during
        this session are looked up again: the caller's bulk lookup covered the database).
        """
        if cached is None and self.cache is not None:
            cached = self.cache.recent(u.key) if marked else self.cache.get(u.key)
        blob: str | None = None
        if cached is not None:
            response, from_cache = cached, True
            self.summary.from_cache += 1
        else:
            if not marked:
                self.store.ledger.sending(*ident(u), u.key)
            response = await self._generate(u.model, u.request)
            from_cache = False
            self.summary.asked += 1
            self.spent += response.cost_usd or 0.0
            if self.cache is not None and response.error is None:
                blob = response.to_json()  # serialised once, for the cache and the store
                self.cache.put(u.key, response, blob)
        if response.error_kind in INPUT_ERRORS:
            # The sample's own file is unreadable: a bad sample, not a model failure.
            bad = BadSample(u.sample.id, u.dataset, sample_paths(u.sample), response.error or "")
            self.store.put_bad_samples([bad])
            self.summary.bad_samples += 1
            self._landed(u, Outcome.UNREADABLE, response.error)
            return True
        forced = forced_status(response)
        if forced is not None and forced[0] is ParseStatus.TRUNCATED:
            # cut by the token limit: its own outcome, not the model's parse failure
            prediction = Prediction(None, ParseStatus.TRUNCATED, forced[1])
        elif response.extra.get("image_ignored") and response.error is None:
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
            prediction = safe_parse(u.task, response, u.sample)
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
            blob,
        )
        outcome = outcome_of(response, prediction)
        self._landed(u, outcome, prediction.detail or response.error)
        if outcome is Outcome.MEDMINE_ERROR:
            self.summary.medmine_errors += 1
            return True
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

    def _landed(self, u: Unit, outcome: Outcome, detail: str | None) -> None:
        """Record the unit's outcome and that it is no longer in flight."""
        self.store.ledger.put(
            u.model_name,
            u.task.name,
            u.dataset,
            [(u.sample.id, u.repeat, outcome, detail)],
            more=True,
        )
        self.store.ledger.landed(*ident(u))

    @staticmethod
    async def _generate(model: Model, request: Request) -> Response:
        start = time.perf_counter()
        try:
            return await model.generate(request)
        except Exception as exc:  # a backend bug must not end the run: record it per sample
            return Response(
                text="",
                model=model.cache_id,
                error=redact(f"{type(exc).__name__}: {exc}"),  # an exception may carry a key
                error_kind="exception",
                latency_s=time.perf_counter() - start,
            )

    # ----------------------------------------------------------------------------- scoring
    def score(self, jobs: Sequence[Job]) -> None:
        """Score every job from what the store holds (see :func:`medmine.run.scoring`)."""
        from medmine.run.scoring import score_jobs

        score_jobs(self.store, jobs, self.repeats, self.score_cache, status=self.status)
