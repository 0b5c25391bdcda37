"""Build a Model from a preset: a registry of provider name -> builder.

Backends are imported lazily, so a missing optional SDK only matters for the provider that
needs it. Other parts of medmine (baselines) add providers with :func:`register_provider`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from medmine.core import Model
from medmine.models.presets import Preset, load_presets, resolve_preset

ModelBuilder = Callable[[Preset], Model]


def _openai(preset: Preset) -> Model:
    """OpenAI and OpenAI-compatible servers."""
    from medmine.models.openai_chat import OpenAIChatModel

    return OpenAIChatModel(preset)


def _anthropic(preset: Preset) -> Model:
    """Anthropic Messages API."""
    from medmine.models.anthropic_messages import AnthropicModel

    return AnthropicModel(preset)


def _gemini(preset: Preset) -> Model:
    """Google Gemini API."""
    from medmine.models.gemini import GeminiModel

    return GeminiModel(preset)


def _hf_local(preset: Preset) -> Model:
    """Local Hugging Face transformers model (needs the 'local' extra)."""
    try:
        from medmine.models.hf_local import HFLocalModel
    except ImportError as exc:
        raise ImportError(
            f"preset {preset.name!r} needs local model support: pip install 'medmine[local]' "
            f"({exc})"
        ) from exc
    model: Any = HFLocalModel(preset)
    return model


PROVIDERS: dict[str, ModelBuilder] = {
    "openai": _openai,
    "openai_compatible": _openai,
    "anthropic": _anthropic,
    "gemini": _gemini,
    "hf_local": _hf_local,
}


def register_provider(name: str, builder: ModelBuilder, *, replace: bool = False) -> None:
    """Register a builder for a provider name (ValueError if taken, unless ``replace``)."""
    if not name:
        raise ValueError("register_provider: provider name must not be empty")
    if name in PROVIDERS and not replace and PROVIDERS[name] is not builder:
        raise ValueError(
            f"provider {name!r} is already registered; pass replace=True to override it"
        )
    PROVIDERS[name] = builder


def build_model(preset: Preset | str, presets: Mapping[str, Preset] | None = None) -> Model:
    """The Model for a preset (or a preset name/alias looked up in ``presets``/built-ins).

    A retired preset raises ValueError naming its replacement, unless it points at an endpoint
    of the user's own (base_url or base_url_env set)."""
    if isinstance(preset, str):
        preset = resolve_preset(preset, presets if presets is not None else load_presets())
    retired = preset.retirement_problem()
    if retired is not None:
        raise ValueError(retired)
    builder = PROVIDERS.get(preset.provider)
    if builder is None:
        raise ValueError(
            f"no backend registered for provider {preset.provider!r} (preset {preset.name!r}); "
            f"registered: {', '.join(sorted(PROVIDERS))}"
        )
    return builder(preset)
