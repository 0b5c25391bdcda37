"""What a backend records about itself in the run manifest (never a key value)."""

from __future__ import annotations

from typing import Any, Protocol

from medmine.models.presets import Preset
from medmine.models.retry import RetryPolicy
from medmine.models.secrets import safe_url


class DescribedBackend(Protocol):
    """What :func:`describe_backend` reads from a backend (``models.base.ApiModel`` has it);
    a protocol here keeps ``base`` -> ``describe`` the only import between the two."""

    preset: Preset
    max_concurrency: int
    peak_in_flight: int
    retry_policy: RetryPolicy

    def warnings(self, concurrency: int | None = None) -> list[str]:
        """Warnings about the preset's settings (at a run's --concurrency)."""
        ...


def describe_backend(model: DescribedBackend) -> dict[str, Any]:
    """Settings for the run manifest. Never a key: only the NAME of its variable."""
    p = model.preset
    return {
        "name": p.name,
        "provider": p.provider,
        "model_id": p.model_id,
        "backend": type(model).__name__,
        "base_url": safe_url(p.resolved_base_url()),
        "api_key_env": p.api_key_env,
        "modality": p.modality,
        "coord_convention": p.coord_convention,
        "max_image_edge": p.max_image_edge,
        "max_output_tokens": p.max_output_tokens,
        "reasoning": p.reasoning,
        "reasoning_effort": p.reasoning_effort,
        "thinking_budget": p.thinking_budget,
        "reasoning_tokens": p.reasoning_tokens,
        "sampling": p.accepted_sampling(),
        "stream": p.stream,
        "timeout_s": p.timeout_s,
        "concurrency": model.max_concurrency,  # requests in flight at most (backend slots)
        "peak_in_flight": model.peak_in_flight,  # most seen in flight at once so far
        "requests_per_minute": p.requests_per_minute,
        "tokens_per_minute": p.tokens_per_minute,
        "price_input_per_mtok": p.price_input_per_mtok,
        "price_cached_input_per_mtok": p.price_cached_input_per_mtok,
        "price_output_per_mtok": p.price_output_per_mtok,
        "price_date": p.price_date,
        "batch_discount": p.batch_discount,
        "extra_body_keys": sorted(p.extra_body),
        "warnings": model.warnings(),
        "retry": {
            "max_attempts": model.retry_policy.max_attempts,
            "initial_s": model.retry_policy.initial_s,
            "max_s": model.retry_policy.max_s,
        },
    }
