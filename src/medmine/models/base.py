"""The shared machinery of HTTP model backends: timing, retries, limits, usage and cost.

A backend subclasses :class:`ApiModel` and implements two things: ``_call`` (send one request,
return a :class:`CallResult` or raise :class:`~medmine.models.retry.ProviderError`) and
``_map_error`` (turn its SDK's exception into a ProviderError). Everything else lives here:
image encoding, the rate limiter, retries, latency and time to first token, token estimation
when the provider reports no usage, cost from the preset's prices, detection of images that a
server silently dropped, and turning a final failure into ``Response(error=...)``.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from medmine.core import ImagePart, Request, Response, TextPart, Usage
from medmine.models.images import EncodedImage, encode_image, estimate_image_tokens
from medmine.models.presets import Preset
from medmine.models.retry import ProviderError, RateLimiter, RetryPolicy, call_with_retries

CHARS_PER_TOKEN = 4.0


@dataclass
class CallResult:
    """What one successful provider call produced, before medmine adds timing and cost."""

    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None
    refused: bool = False
    ttft_s: float | None = None
    streamed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def transport_error_types() -> tuple[type[BaseException], ...]:
    """httpx transport errors (and httpx2's, which the newest SDKs use) for error mapping."""
    types: list[type[BaseException]] = []
    for module_name in ("httpx", "httpx2"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        types.append(module.TransportError)
    return tuple(types)


def is_timeout_error(exc: BaseException) -> bool:
    """True for httpx/httpx2 timeouts and asyncio/builtin TimeoutError."""
    return isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__


_SECRET_PATTERNS = (
    re.compile(r"sk-[A-Za-z0-9_\-\*]{6,}"),
    re.compile(r"AIza[0-9A-Za-z_\-]{10,}"),
    re.compile(r"(?i)((?:api[_-]?key|x-goog-api-key|authorization|bearer)[\"'=:\s]+)[^\s\"',&]+"),
)


def scrub(message: str) -> str:
    """Mask anything that looks like an API key in a provider's error message."""
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            message = pattern.sub(lambda m: m.group(1) + "***", message)
        else:
            message = pattern.sub("***", message)
    return message


def safe_url(url: str | None) -> str | None:
    """A URL without user info, query or fragment (where keys sometimes hide)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class ApiModel:
    """Base of HTTP backends; implements the :class:`~medmine.core.Model` protocol.

    A subclass names the preset providers it speaks in ``providers``; its SDK client lives in
    ``_client`` and is created on first use.
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
        self.max_concurrency = preset.concurrency
        self.retry_policy = retry_policy or RetryPolicy()
        if rate_limiter is None and (preset.requests_per_minute or preset.tokens_per_minute):
            rate_limiter = RateLimiter(preset.requests_per_minute, preset.tokens_per_minute)
        self.rate_limiter = rate_limiter
        self._clock = clock

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

    def describe(self) -> dict[str, Any]:
        """Settings for the run manifest. Never a key: only the NAME of its variable."""
        p = self.preset
        return {
            "name": p.name,
            "provider": p.provider,
            "model_id": p.model_id,
            "backend": type(self).__name__,
            "base_url": safe_url(p.resolved_base_url()),
            "api_key_env": p.api_key_env,
            "modality": p.modality,
            "coord_convention": p.coord_convention,
            "max_image_edge": p.max_image_edge,
            "max_output_tokens": p.max_output_tokens,
            "stream": p.stream,
            "timeout_s": p.timeout_s,
            "concurrency": p.concurrency,
            "requests_per_minute": p.requests_per_minute,
            "tokens_per_minute": p.tokens_per_minute,
            "price_input_per_mtok": p.price_input_per_mtok,
            "price_output_per_mtok": p.price_output_per_mtok,
            "price_date": p.price_date,
            "batch_discount": p.batch_discount,
            "extra_body_keys": sorted(p.extra_body),
            "retry": {
                "max_attempts": self.retry_policy.max_attempts,
                "initial_s": self.retry_policy.initial_s,
                "max_s": self.retry_policy.max_s,
            },
        }

    def __repr__(self) -> str:
        """Short and secret-free."""
        return f"{type(self).__name__}(name={self.name!r}, model_id={self.preset.model_id!r})"

    # ------------------------------------------------------------------ accounting

    def cost(self, usage: Usage) -> float | None:
        """USD cost of the usage at the preset's prices; None when a price or count is missing."""
        p = self.preset
        if p.price_input_per_mtok is None or p.price_output_per_mtok is None:
            return None
        if usage.input_tokens is None or usage.output_tokens is None:
            return None
        return (
            usage.input_tokens * p.price_input_per_mtok
            + usage.output_tokens * p.price_output_per_mtok
        ) / 1e6

    @staticmethod
    def estimate_text_tokens(text: str) -> int:
        """About 4 characters per token (0 for empty text)."""
        return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0

    def estimate_input_tokens(
        self, request: Request, images: list[EncodedImage]
    ) -> tuple[int, int]:
        """(text tokens, image tokens) a request is expected to cost at this provider."""
        text = sum(
            self.estimate_text_tokens(part.text)
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
        refs = [
            part.image
            for message in request.messages
            for part in message.parts
            if isinstance(part, ImagePart)
        ]
        if refs and self.preset.modality == "text":
            raise ValueError(
                f"model preset {self.name!r} is text-only (modality 'text') but the request "
                f"has {len(refs)} image(s); the runner must skip image samples for it"
            )
        return [encode_image(ref, self.preset.max_image_edge) for ref in refs]

    def _max_tokens(self, request: Request) -> int:
        """The output budget: the request's, capped by the preset's max_output_tokens."""
        limit = request.settings.max_tokens
        if self.preset.max_output_tokens is not None:
            limit = min(limit, self.preset.max_output_tokens)
        return limit

    async def generate(self, request: Request) -> Response:
        """Answer one request. Provider failures come back as ``Response(error=...)``.

        Raises ValueError only for a programming error: images sent to a text-only preset.
        """
        images = self._encode_images_or_error(request)
        if isinstance(images, Response):
            return images
        text_est, image_est = self.estimate_input_tokens(request, images)
        budget = text_est + image_est + self._max_tokens(request)
        statuses: list[int | str] = []
        retries: list[dict[str, Any]] = []
        attempt_start = [0.0]

        async def attempt() -> CallResult:
            if self.rate_limiter is not None:
                await self.rate_limiter.acquire(budget)
            attempt_start[0] = self._clock()
            try:
                return await self._call(request, images)
            except ProviderError as exc:
                statuses.append(exc.status if exc.status is not None else exc.kind)
                raise
            except Exception as exc:
                mapped = self._map_error(exc)
                statuses.append(mapped.status if mapped.status is not None else mapped.kind)
                raise mapped from exc

        def on_retry(number: int, error: ProviderError, wait: float) -> None:
            retries.append({"attempt": number, "kind": error.kind, "wait_s": round(wait, 3)})

        start = self._clock()
        try:
            result = await call_with_retries(attempt, self.retry_policy, on_retry)
        except ProviderError as exc:
            return Response(
                text="",
                model=self.preset.model_id,
                latency_s=self._clock() - start,
                error=scrub(str(exc)),
                error_kind=exc.kind,
                extra={"attempts": len(statuses), "statuses": statuses, "retries": retries},
            )
        end = self._clock()
        response = self._finish(
            result, text_est, image_est, images, start, attempt_start[0], end, statuses, retries
        )
        if self.rate_limiter is not None:
            used = (response.usage.input_tokens or 0) + (response.usage.output_tokens or 0)
            self.rate_limiter.settle(budget, used)
        return response

    def _encode_images_or_error(self, request: Request) -> list[EncodedImage] | Response:
        """Encoded images, or an error Response when an image file is missing or unreadable."""
        try:
            return self._encode_images(request)
        except (FileNotFoundError, OSError) as exc:
            message = str(exc)
        except ValueError as exc:
            if "text-only" in str(exc):
                raise
            message = str(exc)
        return Response(text="", model=self.preset.model_id, error=message, error_kind="input")

    def _finish(
        self,
        result: CallResult,
        text_est: int,
        image_est: int,
        images: list[EncodedImage],
        start: float,
        attempt_start: float,
        end: float,
        statuses: list[int | str],
        retries: list[dict[str, Any]],
    ) -> Response:
        """Assemble the Response: usage (estimated if missing), cost, timing, diagnostics."""
        extra: dict[str, Any] = dict(result.extra)
        extra["attempts"] = len(statuses) + 1
        if statuses:
            extra["statuses"] = statuses
            extra["retries"] = retries
        extra["streamed"] = result.streamed
        extra["wall_s"] = end - start
        estimated = result.input_tokens is None or result.output_tokens is None
        usage = Usage(
            input_tokens=result.input_tokens
            if result.input_tokens is not None
            else text_est + image_est,
            output_tokens=result.output_tokens
            if result.output_tokens is not None
            else self.estimate_text_tokens(result.text),
            estimated=estimated,
        )
        if images and result.input_tokens is not None and result.input_tokens < image_est:
            extra["image_ignored"] = True
            extra["image_tokens_estimated"] = image_est
            extra["input_tokens_reported"] = result.input_tokens
        return Response(
            text=result.text,
            model=self.preset.model_id,
            usage=usage,
            latency_s=end - attempt_start,
            ttft_s=result.ttft_s,
            cost_usd=self.cost(usage),
            finish_reason=result.finish_reason,
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

    async def _call(self, request: Request, images: list[EncodedImage]) -> CallResult:
        """Send one request to the provider (no retries here); raise ProviderError on failure."""
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
