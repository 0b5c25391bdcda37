"""The shared machinery of HTTP model backends: timing, retries, limits, usage and cost.

A backend implements ``_prepare`` (SDK import, client), ``_payload`` (the body), ``_call`` (send
it: a :class:`CallResult` or a ProviderError) and ``_map_error``. Here: encoding off the loop,
slots and rate limits (waits are queueing, not latency), retries, a whole-request deadline,
timing, usage estimates, cost, truncated and image-less answers, and key redaction.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from medmine.core import Request, Response, TextPart, Usage
from medmine.models import accounting
from medmine.models.accounting import CHARS_PER_TOKEN, estimate_text_tokens
from medmine.models.describe import describe_backend
from medmine.models.images import EncodedImage, encode_request_images, estimate_image_tokens
from medmine.models.presets import Preset
from medmine.models.retry import (
    ProviderError,
    RateLimiter,
    RetryPolicy,
    call_with_retries,
    is_timeout_error,
    transport_error_types,
)
from medmine.models.secrets import redact, redact_value, register_key_env, safe_url, scrub
from medmine.models.warmup import warm_transport

__all__ = ["CHARS_PER_TOKEN", "ApiModel", "CallResult", "redact", "safe_url", "scrub"]


@dataclass
class CallResult:
    """What one successful provider call produced, before medmine adds timing and cost.

    ``output_tokens`` includes reasoning/thinking tokens (billed as output);
    ``reasoning_tokens`` repeats how many of them were reasoning, when the provider says.
    """

    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None
    refused: bool = False
    ttft_s: float | None = None
    streamed: bool = False
    cached_input_tokens: int = 0
    reasoning_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ApiModel:
    """Base of HTTP backends; implements the :class:`~medmine.core.Model` protocol.

    A subclass names the preset providers it speaks in ``providers``; its SDK client lives in
    ``_client`` and is created by ``_prepare`` before the first request is timed.
    """

    providers: tuple[str, ...] = ()

    def __init__(
        self,
        preset: Preset,
        *,
        retry_policy: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """Bind the backend to a preset; no network and no key reading happen here."""
        if self.providers and preset.provider not in self.providers:
            wanted = " or ".join(repr(p) for p in self.providers)
            raise ValueError(
                f"{type(self).__name__} needs provider {wanted}, preset {preset.name!r} has "
                f"{preset.provider!r}"
            )
        self._client: Any = None
        self.preset = preset
        self.name = preset.name
        self.modality = preset.modality  # the runner sends image tasks to vision models only
        self.max_concurrency = 1 if preset.single_stream else preset.concurrency
        self.retry_policy = retry_policy or RetryPolicy()
        if rate_limiter is None and (preset.requests_per_minute or preset.tokens_per_minute):
            rate_limiter = RateLimiter(preset.requests_per_minute, preset.tokens_per_minute)
        self.rate_limiter = rate_limiter
        self._clock = clock
        self._slots: asyncio.Semaphore | None = None
        self._in_flight = 0
        self.peak_in_flight = 0
        self._image_probe: dict[str, bool | None] = {}
        self._probe_lock: asyncio.Lock | None = None
        self._warmed = False  # warm_transport() done (once per model, not per request)
        register_key_env([preset.api_key_env])

    def _require_key(self) -> str | None:
        """The API key from the environment, read at call time; a ProviderError (not retried)
        naming the variable when the preset needs one and it is not set."""
        preset = self.preset
        key = preset.api_key()
        if preset.api_key_env and key is None:
            raise ProviderError(
                "client", f"environment variable {preset.api_key_env} is not set (API key)"
            )
        return key

    # ------------------------------------------------------------------ identity

    @property
    def cache_id(self) -> str:
        """``provider:model_id``: the model's identity in cache keys."""
        return f"{self.preset.provider}:{self.preset.model_id}"

    def warnings(self, concurrency: int | None = None) -> list[str]:
        """Configuration problems worth telling the user before a run (``concurrency``: the
        run's --concurrency, when one was asked)."""
        out = []
        asked = max(self.preset.concurrency, concurrency or 0)
        if self.preset.single_stream:
            out.append(
                f"{self.name}: the server answers one stream at a time (llama.cpp default "
                f"slots); medmine sends one request at a time"
                + (f" although {asked} were asked" if asked > 1 else "")
                + " (start it with --parallel N and set single_stream: false to go faster)"
            )
        return out

    def describe(self) -> dict[str, Any]:
        """Settings for the run manifest. Never a key: only the NAME of its variable."""
        return describe_backend(self)

    def __repr__(self) -> str:
        """Short and secret-free."""
        return f"{type(self).__name__}(name={self.name!r}, model_id={self.preset.model_id!r})"

    # ------------------------------------------------------------------ accounting

    def cost(self, usage: Usage, cached_input_tokens: int = 0) -> float | None:
        """USD cost of the usage at the preset's prices (cached input at its own price);
        None when a price or count is missing."""
        return accounting.cost_usd(self.preset, usage, cached_input_tokens)

    @staticmethod
    def estimate_text_tokens(text: str) -> int:
        """About 4 characters per token (0 for empty text)."""
        return estimate_text_tokens(text)

    def estimate_input_tokens(
        self, request: Request, images: list[EncodedImage]
    ) -> tuple[int, int]:
        """(text tokens, image tokens) a request is expected to cost at this provider."""
        text = sum(
            estimate_text_tokens(part.text)
            for message in request.messages
            for part in message.parts
            if isinstance(part, TextPart)
        )
        provider = self.preset.provider
        image = sum(estimate_image_tokens(i.width, i.height, provider) for i in images)
        return text, image

    # ------------------------------------------------------------------ generation

    def _encode_images(self, request: Request) -> list[EncodedImage]:
        """Encode the request's images in message order (ValueError for a text-only model)."""
        return encode_request_images(request, self.preset)

    def _max_tokens(self, request: Request) -> int:
        """The provider's output limit: the request's answer budget plus the preset's reasoning
        reserve, capped by max_output_tokens."""
        return self.preset.output_budget(request.settings.max_tokens)

    async def generate(self, request: Request) -> Response:
        """Answer one request. Provider failures come back as ``Response(error=...)``.

        Raises ValueError only for a programming error: images sent to a text-only preset.
        Images are encoded and the SDK client built before the clock starts; waiting for a
        concurrency slot or the rate limiter is recorded as ``extra["queue_s"]``.
        """
        retired = self.preset.retirement_problem()
        if retired is not None:
            return self._error(ProviderError("client", retired), {}, None)
        # image decoding/encoding and a body with base64 images are built off the loop; a
        # text-only request is built inline (a thread hop costs more CPU than building it)
        n_images = sum(
            not isinstance(part, TextPart) for message in request.messages for part in message.parts
        )
        cap = self.preset.max_images
        if cap is not None and n_images > cap:  # the provider would reject it: never sent
            return Response(
                text="",
                model=self.preset.model_id,
                error=f"sample {request.intent.sample_id}: its request carries {n_images} "
                f"images; {self.name} takes at most {cap} per request (max_images): not sent",
                error_kind="too_many_images",
                extra={"attempts": 0},
            )
        if n_images:
            images = await asyncio.to_thread(self._encode_images_or_error, request)
        else:
            images = self._encode_images_or_error(request)
        if isinstance(images, Response):
            return images
        try:
            self._prepare()
            if not self._warmed:
                warm_transport()
                self._warmed = True
        except ProviderError as exc:
            return self._error(exc, {"attempts": 0}, None)
        if images:
            payload = await asyncio.to_thread(self._payload, request, images)
        else:
            payload = self._payload(request, images)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrency)
        queued = self._clock()
        async with self._slots:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            try:
                return await self._generate(request, images, payload, self._clock() - queued)
            finally:
                self._in_flight -= 1

    async def _generate(
        self, request: Request, images: list[EncodedImage], payload: Any, queue_s: float
    ) -> Response:
        """Ask with retries inside a slot; the clock runs per attempt."""
        dropped = await self._probe_images(request, images) if images else None
        text_est, image_est = self.estimate_input_tokens(request, images)
        budget = text_est + image_est + self._max_tokens(request)
        statuses: list[int | str] = []
        retries: list[dict[str, Any]] = []
        attempt_start = [0.0]
        waited = [0.0]
        billed: list[float] = []
        deadline = self.preset.timeout_s

        async def attempt() -> CallResult:
            if self.rate_limiter is not None:
                waited[0] += await self.rate_limiter.acquire(budget)
            attempt_start[0] = self._clock()
            try:
                async with asyncio.timeout(deadline):
                    return await self._call(request, images, payload)
            except ProviderError as exc:
                error = exc
            except TimeoutError:
                error = ProviderError("timeout", f"no complete answer within {deadline:g} s")
            except Exception as exc:
                error = self._map_error(exc)
                error.__cause__ = exc
            statuses.append(error.status if error.status is not None else error.kind)
            if error.usage is not None and (cost := self.cost(error.usage)) is not None:
                billed.append(cost)
            raise error

        def on_retry(number: int, error: ProviderError, wait: float) -> None:
            retries.append({"attempt": number, "kind": error.kind, "wait_s": round(wait, 3)})

        start = self._clock()
        try:
            result = await call_with_retries(attempt, self.retry_policy, on_retry)
        except ProviderError as exc:
            extra = {"attempts": len(statuses), "statuses": statuses, "retries": retries}
            # no latency for a failure (its time includes retry waits): wall time in extra
            extra.update(queue_s=queue_s + waited[0], wall_s=self._clock() - start)
            return self._error(exc, extra, sum(billed) if billed else None)
        end = self._clock()
        response = self._finish(result, request, text_est, image_est, images, dropped)
        extra = dict(response.extra)
        extra.update(attempts=len(statuses) + 1, queue_s=queue_s + waited[0], wall_s=end - start)
        if statuses:
            extra.update(statuses=statuses, retries=retries)
        if billed:
            extra["failed_attempts_cost_usd"] = sum(billed)
        cost = response.cost_usd
        if billed and cost is not None:
            cost += sum(billed)
        if self.rate_limiter is not None:
            used = (response.usage.input_tokens or 0) + (response.usage.output_tokens or 0)
            self.rate_limiter.settle(budget, used)
        return replace(response, latency_s=end - attempt_start[0], cost_usd=cost, extra=extra)

    def _error(self, exc: ProviderError, extra: dict[str, Any], cost: float | None) -> Response:
        """The Response of a request that got no answer (key values redacted)."""
        return Response(
            text="",
            model=self.preset.model_id,
            error=redact(str(exc)),
            error_kind=exc.kind,
            cost_usd=cost,
            extra=extra,
        )

    def _encode_images_or_error(self, request: Request) -> list[EncodedImage] | Response:
        """Encoded images, or an error Response when an image file is missing or unreadable."""
        try:
            return self._encode_images(request)
        except ValueError as exc:
            if "text-only" in str(exc):
                raise
            message = str(exc)
        except OSError as exc:
            message = str(exc)
        return Response(text="", model=self.preset.model_id, error=message, error_kind="input")

    async def _probe_images(self, request: Request, images: list[EncodedImage]) -> bool | None:
        """Whether this endpoint drops images, probed once (None: not probed or unknown)."""
        if self._probe_lock is None:
            self._probe_lock = asyncio.Lock()
        async with self._probe_lock:
            key = self.preset.resolved_base_url() or ""
            if key not in self._image_probe:
                self._image_probe[key] = await self._probe_endpoint(request, images)
            return self._image_probe[key]

    async def _probe_endpoint(self, request: Request, images: list[EncodedImage]) -> bool | None:
        """One-time check that the server reads images; backends that can drop them override."""
        return None

    def _finish(
        self,
        result: CallResult,
        request: Request,
        text_est: int,
        image_est: int,
        images: list[EncodedImage],
        dropped: bool | None,
    ) -> Response:
        """The Response of an answer: usage (estimated if missing), cost, and what it is:
        an answer, a truncated one, a refusal (with its reason) or one given without the image.
        Truncated and image-less answers keep their text but carry an error, so they are
        never cached or scored as answers."""
        extra: dict[str, Any] = redact_value(dict(result.extra))
        extra["streamed"] = result.streamed
        estimated = result.input_tokens is None or result.output_tokens is None
        usage = Usage(
            input_tokens=result.input_tokens
            if result.input_tokens is not None
            else text_est + image_est,
            output_tokens=result.output_tokens
            if result.output_tokens is not None
            else estimate_text_tokens(result.text),
            estimated=estimated,
        )
        if result.cached_input_tokens:
            extra["cached_input_tokens"] = result.cached_input_tokens
        if result.reasoning_tokens is not None:
            extra["reasoning_tokens"] = result.reasoning_tokens
        error, kind = accounting.not_an_answer(
            result.finish_reason,
            result.refused,
            result.text,
            has_images=bool(images),
            dropped=dropped,
            limit=self._max_tokens(request),
        )
        if kind == "image_dropped" and dropped:
            extra["image_ignored"] = True
        if result.refused:
            extra["refusal_reason"] = result.finish_reason or "refused"
        return Response(
            text=redact(result.text),
            model=self.preset.model_id,
            usage=usage,
            ttft_s=result.ttft_s,
            cost_usd=self.cost(usage, result.cached_input_tokens),
            finish_reason=result.finish_reason,
            error=error,
            error_kind=kind,
            refused=result.refused,
            extra=extra,
        )

    async def aclose(self) -> None:
        """Close the SDK client's connections (call once a run is done; safe to repeat)."""
        client = getattr(self, "_client", None)
        self._client = None
        if client is None:
            return
        target = getattr(client, "aio", client)  # google-genai keeps its async side in .aio
        for name in ("aclose", "close"):
            closer = getattr(target, name, None)
            if closer is not None:
                result = closer()
                if inspect.isawaitable(result):
                    await result
                return

    # ------------------------------------------------------------------ for subclasses

    def _prepare(self) -> None:
        """Import the SDK and build the client (before timing); ProviderError when impossible."""

    def _payload(self, request: Request, images: list[EncodedImage]) -> Any:
        """The request in the provider's form, built once before timing (None: in ``_call``)."""

    async def _call(
        self, request: Request, images: list[EncodedImage], payload: Any = None
    ) -> CallResult:
        """Send one request to the provider (no retries here); raise ProviderError on failure.
        ``payload`` is what ``_payload`` built for it."""
        raise NotImplementedError

    def _map_error(self, exc: BaseException) -> ProviderError:
        """Classify an SDK or transport exception; subclasses extend this."""
        if isinstance(exc, ProviderError):
            return exc
        if is_timeout_error(exc):
            return ProviderError("timeout", f"{type(exc).__name__}: {exc}")
        if isinstance(exc, transport_error_types()):
            return ProviderError("connection", f"{type(exc).__name__}: {exc}")
        if isinstance(exc, json.JSONDecodeError) or (
            isinstance(exc, (ValueError, KeyError, TypeError)) and "json" in str(exc).lower()
        ):
            return ProviderError("malformed", scrub(f"{type(exc).__name__}: {exc}"))
        return ProviderError("malformed", f"unexpected {type(exc).__name__}: {exc}")
