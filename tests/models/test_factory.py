"""The provider registry: built-in backends, extension, and clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from medmine.core import Model
from medmine.models import factory
from medmine.models.anthropic_messages import AnthropicModel
from medmine.models.factory import PROVIDERS, build_model, register_provider
from medmine.models.gemini import GeminiModel
from medmine.models.openai_chat import OpenAIChatModel
from medmine.models.presets import Preset, load_presets


def test_builds_each_api_backend_from_builtin_presets() -> None:
    presets = load_presets()
    assert isinstance(build_model("gpt-4o", presets), OpenAIChatModel)
    assert isinstance(build_model("Yi-Large", presets), OpenAIChatModel)
    assert isinstance(build_model("claude-sonnet-4", presets), AnthropicModel)
    assert isinstance(build_model("gemini-2.5-flash", presets), GeminiModel)
    model = build_model("gpt-4o")
    assert isinstance(model, Model) and model.max_concurrency == 8


def test_register_provider_and_unknown_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "PROVIDERS", dict(PROVIDERS))
    preset = Preset(name="b", provider="baseline", model_id="nearest-centroid")
    with pytest.raises(ValueError, match="no backend registered for provider 'baseline'"):
        factory.build_model(preset)

    class Dummy:
        name = "b"
        max_concurrency = 1
        cache_id = "baseline:nearest-centroid"

        def __init__(self, preset: Preset) -> None:
            self.preset = preset

        def describe(self) -> dict[str, Any]:
            return {}

        async def generate(self, request: Any) -> Any:
            return None

    factory.register_provider("baseline", Dummy)
    assert isinstance(factory.build_model(preset), Dummy)
    with pytest.raises(ValueError, match="already registered"):
        factory.register_provider("baseline", lambda p: Dummy(p))
    factory.register_provider("baseline", lambda p: Dummy(p), replace=True)


def test_hf_local_is_lazy() -> None:
    preset = load_presets()["medgemma-4b"]
    try:
        import medmine.models.hf_local  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"medmine\[local\]"):
            build_model(preset)
    else:
        assert PROVIDERS["hf_local"] is not None
    assert register_provider is factory.register_provider
