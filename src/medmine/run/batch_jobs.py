"""One cloud model's batch jobs: submit, record before polling, poll with backoff, ingest, resubmit
what a batch left unanswered.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from medmine.core import ItemError, Model, Request, Response, Usage
from medmine.core.secrets import redact
from medmine.models.accounting import is_truncated
from medmine.models.base import ApiModel, CallResult
from medmine.models.retry import ProviderError, call_with_retries
from medmine.run.batch_channel import BatchChannel, BatchSummary
from medmine.run.runner import Runner, Unit
from medmine.run.store import BatchItem, BatchJobRow

T = TypeVar("T")


Sleep = Callable[[float], Awaitable[None]]


SUBMITTED = "submitted"  # batch_jobs.state while the job may still hold answers


INGESTED = "ingested"  # its answers are stored (or recorded as errors)


LOST = "lost"  # the provider no longer knows the job (4xx when polling); its units were re-asked


class _Answered:
    """A stand-in model that hands the runner an answer obtained elsewhere (a batch)."""

    max_concurrency = 1

    def __init__(self, model: Model, response: Response) -> None:
        """Carry the real model's identity and the answer."""
        self.name = model.name
        self.cache_id = model.cache_id
        self._response = response

    def describe(self) -> dict[str, Any]:
        """Nothing to record: the real model is described in the manifest."""
        return {}

    async def generate(self, request: Request) -> Response:
        """Return the batch's answer."""
        return self._response


class _Final(Exception):
    """Carries a ProviderError past the retry loop (used where retrying is unsafe)."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


def custom_id(unit: Unit) -> str:
    """A unit's id inside a batch: stable, unique per (task, dataset, sample, repeat, request),
    and within every provider's rules (Anthropic: ``^[a-zA-Z0-9_-]{1,64}$``)."""
    raw = "\0".join((unit.task.name, unit.dataset, unit.sample.id, str(unit.repeat), unit.key))
    return "mm-" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def _unit_key(task: str, dataset: str, sample_id: str, repeat: int) -> tuple[str, str, str, int]:
    return task, dataset, sample_id, repeat


class ModelBatches:
    """Drives the batches of one model: resume, submit, poll, ingest, resubmit."""

    def __init__(
        self,
        runner: Runner,
        channel: BatchChannel,
        units: list[Unit],
        summary: BatchSummary,
        *,
        poll_initial_s: float,
        poll_max_s: float,
        max_rounds: int,
        sleep: Sleep,
    ) -> None:
        self.runner = runner
        self.channel = channel
        self.model = channel.model
        self.name = units[0].model_name
        self.units = units
        self.summary = summary
        self.poll_initial_s = poll_initial_s
        self.poll_max_s = poll_max_s
        self.max_rounds = max_rounds
        self.sleep = sleep

    # -- entry point ------------------------------------------------------------------------
    async def run(self) -> None:
        """Resume stored jobs, submit the rest, follow everything to the end."""
        pending = {_unit_key(u.task.name, u.dataset, u.sample.id, u.repeat): u for u in self.units}
        follows: list[Awaitable[None]] = []
        claimed: set[int] = set()
        for job in self.runner.store.batch_jobs(SUBMITTED):
            if job.model != self.name or job.provider != self.channel.provider:
                continue
            mapping: dict[str, Unit] = {}
            for it in job.items:
                u = pending.get(_unit_key(it.task, it.dataset, it.sample_id, it.repeat))
                if u is not None and u.key == it.request_hash and id(u) not in claimed:
                    mapping[it.custom_id] = u
                    claimed.add(id(u))
            if mapping:  # else: nothing of it is wanted now (answered, changed or filtered out)
                self.summary.batches_resumed += 1
                self.runner.store.event(
                    "batch", f"{self.name}: polling stored batch {job.batch_id} (round {job.round})"
                )
                follows.append(self._follow(job, mapping))
        fresh = [u for u in self.units if id(u) not in claimed]
        follows.extend(await self._submit(fresh, 0))
        await asyncio.gather(*follows)

    # -- submitting -------------------------------------------------------------------------
    async def _submit(self, units: list[Unit], round_: int) -> list[Awaitable[None]]:
        """Build entries and submit them in provider-sized batches; returns their followers."""
        follows: list[Awaitable[None]] = []
        entries: list[Any] = []
        chunk: list[tuple[str, Unit]] = []
        size = 0
        for u in units:
            cid = custom_id(u)
            try:
                entry, nbytes = self.channel.build(cid, u.request)
            except (OSError, ValueError) as exc:
                if "text-only" in str(exc):
                    raise
                await self._ingest(u, _error_response(self.model, str(exc), "input"))
                continue
            too_big = size + nbytes > self.channel.max_bytes
            if chunk and (len(chunk) >= self.channel.max_requests or too_big):
                follows.extend(await self._create(entries, chunk, round_))
                entries, chunk, size = [], [], 0
            entries.append(entry)
            chunk.append((cid, u))
            size += nbytes
        if chunk:
            follows.extend(await self._create(entries, chunk, round_))
        return follows

    async def _create(
        self, entries: list[Any], chunk: list[tuple[str, Unit]], round_: int
    ) -> list[Awaitable[None]]:
        """Create one batch and record it before anything else can interrupt the run."""
        if self.name in self.runner.stopped or self.runner.over_budget():
            return []  # left unanswered, like the live runner does; a rerun continues
        try:
            batch_id = await self._call(lambda: self.channel.create(entries), create=True)
        except ProviderError as exc:
            message = f"batch submission failed: {redact(str(exc))}"
            self.runner.store.event("batch", f"{self.name}: {message}")
            for _, u in chunk:
                await self._ingest(u, _error_response(self.model, message, exc.kind))
            self.summary.request_errors += len(chunk)
            return []
        job = BatchJobRow(
            batch_id,
            self.channel.provider,
            self.name,
            round_,
            SUBMITTED,
            tuple(
                BatchItem(cid, u.task.name, u.dataset, u.sample.id, u.repeat, u.key)
                for cid, u in chunk
            ),
        )
        self.runner.store.put_batch_job(
            job.batch_id, job.provider, job.model, job.round, job.state, job.items
        )
        self.runner.store.event(
            "batch",
            f"{self.name}: submitted batch {batch_id} with {len(chunk)} requests (round {round_})",
        )
        self.summary.batches_submitted += 1
        self.summary.requests_submitted += len(chunk)
        self.summary.batch_ids.append(batch_id)
        return [self._follow(job, dict(chunk))]

    # -- following --------------------------------------------------------------------------
    async def _follow(self, job: BatchJobRow, mapping: dict[str, Unit]) -> None:
        """Poll a job until it ends, ingest its answers, resubmit what it left unanswered."""
        delay = self.poll_initial_s
        while True:
            try:
                status = await self._call(lambda: self.channel.status(job.batch_id))
            except ProviderError as exc:
                await self._lost_or_unfinished(job, mapping, exc)
                return
            if status.ended:
                break
            await self.sleep(delay)
            delay = min(delay * 2.0, self.poll_max_s)
        if status.outcome == "failed":
            message = f"batch {job.batch_id} failed: {status.message or status.state}"
            for u in mapping.values():
                await self._ingest(u, _error_response(self.model, message, "batch_failed", job))
            self.summary.request_errors += len(mapping)
            self._mark(job, INGESTED)
            return
        ids = [it.custom_id for it in job.items]
        try:
            results = await self._call(lambda: self.channel.results(job.batch_id, ids))
        except ProviderError as exc:
            await self._lost_or_unfinished(job, mapping, exc)
            return
        unanswered: list[Unit] = []
        for cid, u in mapping.items():
            result = results.get(cid)
            if isinstance(result, CallResult):
                await self._ingest(u, self._response(u, result, job))
                self.summary.answered += 1
            elif isinstance(result, ItemError) and not result.retry:
                await self._ingest(u, _error_response(self.model, result.message, result.kind, job))
                self.summary.request_errors += 1
            elif result is None and status.outcome == "cancelled":
                message = f"batch {job.batch_id} was cancelled before this request ran"
                await self._ingest(u, _error_response(self.model, message, "batch_cancelled", job))
                self.summary.request_errors += 1
            else:
                unanswered.append(u)
        self._mark(job, INGESTED)
        await self._again(job, unanswered, status.outcome or status.state)

    async def _again(self, job: BatchJobRow, units: list[Unit], why: str) -> None:
        """Resubmit units a job left unanswered, or record them once the rounds are used up."""
        if not units:
            return
        if job.round + 1 < self.max_rounds:
            self.summary.resubmitted += len(units)
            self.runner.store.event(
                "batch",
                f"{self.name}: batch {job.batch_id} ended {why} with {len(units)} requests "
                f"unanswered; resubmitting them (round {job.round + 1})",
            )
            await asyncio.gather(*await self._submit(units, job.round + 1))
            return
        message = (
            f"no answer after {self.max_rounds} batch round(s): the last batch "
            f"{job.batch_id} ended {why} without answering this request"
        )
        for u in units:
            await self._ingest(u, _error_response(self.model, message, "batch_expired", job))
        self.summary.gave_up += len(units)

    async def _lost_or_unfinished(
        self, job: BatchJobRow, mapping: dict[str, Unit], error: ProviderError
    ) -> None:
        """Polling failed after retries: a 4xx means the provider lost the job (re-ask its
        units); anything else leaves it stored for the next run to poll."""
        if error.kind == "client":
            self.runner.store.event(
                "batch", f"{self.name}: batch {job.batch_id} is gone ({redact(str(error))})"
            )
            self._mark(job, LOST)
            await self._again(job, list(mapping.values()), "lost")
            return
        self.summary.unfinished += len(mapping)
        self.runner.store.event(
            "batch",
            f"{self.name}: could not poll batch {job.batch_id} ({redact(str(error))}); "
            "rerun the same command to collect it",
        )

    # -- helpers ----------------------------------------------------------------------------
    def _mark(self, job: BatchJobRow, state: str) -> None:
        self.runner.store.put_batch_job(
            job.batch_id, job.provider, job.model, job.round, state, job.items
        )

    async def _call(self, fn: Callable[[], Awaitable[T]], *, create: bool = False) -> T:
        """Call the channel with the backend's error mapping and retry policy.

        Creating a batch is retried only on rate limits (429: certainly not accepted); a
        timeout there may have created the batch, and a second one would be paid twice.
        """

        async def attempt() -> T:
            try:
                return await fn()
            except ProviderError as exc:
                error = exc
            except Exception as exc:
                error = self.model._map_error(exc)
            if create and error.kind != "rate_limit":
                raise _Final(error)
            raise error

        try:
            return await call_with_retries(attempt, self.model.retry_policy)
        except _Final as final:
            raise final.error from None

    def _response(self, unit: Unit, result: CallResult, job: BatchJobRow) -> Response:
        """A batch answer as a Response: usage (estimated if missing), batch-price cost."""
        model = self.model
        estimated = result.input_tokens is None or result.output_tokens is None
        input_tokens, output_tokens = result.input_tokens, result.output_tokens
        if input_tokens is None:
            try:
                text_est, image_est = model.estimate_input_tokens(
                    unit.request, model._encode_images(unit.request)
                )
                input_tokens = text_est + image_est
            except (OSError, ValueError):
                input_tokens = None
        if output_tokens is None:
            output_tokens = model.estimate_text_tokens(result.text)
        usage = Usage(input_tokens, output_tokens, estimated)
        cost = model.cost(usage, result.cached_input_tokens)
        discount = model.preset.batch_discount
        extra = {**result.extra, **_batch_extra(model, job)}
        cut = is_truncated(result.finish_reason) and not result.refused
        return Response(
            text=redact(result.text),
            error=f"truncated: the answer was cut at the output limit (finish reason "
            f"{result.finish_reason})"
            if cut
            else None,
            error_kind="truncated" if cut else None,
            model=model.preset.model_id,
            usage=usage,
            latency_s=None,
            ttft_s=None,
            cost_usd=cost * discount if cost is not None else None,
            finish_reason=result.finish_reason,
            refused=result.refused,
            extra=extra,
        )

    async def _ingest(self, unit: Unit, response: Response) -> None:
        """Store an answer through the runner's own answer path (parse, store, cache)."""
        await self.runner.answer_unit(
            dataclasses.replace(unit, model=_Answered(unit.model, response))
        )


def _batch_extra(model: ApiModel, job: BatchJobRow | None) -> dict[str, Any]:
    extra: dict[str, Any] = {"batch": True, "batch_discount": model.preset.batch_discount}
    if job is not None:
        extra["batch_id"] = job.batch_id
        extra["batch_round"] = job.round
    return extra


def _error_response(
    model: ApiModel, message: str, kind: str, job: BatchJobRow | None = None
) -> Response:
    return Response(
        text="",
        model=model.preset.model_id,
        error=redact(message),
        error_kind=kind,
        extra=_batch_extra(model, job),
    )
