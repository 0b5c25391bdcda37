"""Model names (baselines and presets) to Model objects, including the ``auto`` default."""

from __future__ import annotations

from collections.abc import Sequence

from medmine.baselines.registry import baseline_names, default_baselines, make_baseline
from medmine.core import Model


def auto_models() -> list[str]:
    """The default models: the baselines (offline, free). Cloud models are never implied:
    spending money is something a user asks for by naming a model."""
    return default_baselines()


def resolve_model(name: str) -> Model:
    """A baseline or a preset by name; an unknown name lists what is known."""
    if name in baseline_names():
        return make_baseline(name)
    from medmine.models.factory import build_model
    from medmine.models.presets import load_presets, resolve_preset

    return build_model(resolve_preset(name, load_presets()))


def resolve_models(names: Sequence[str], only: Sequence[str] = ()) -> list[Model]:
    """Models of a suite (``auto`` expanded), kept to ``only`` when given."""
    expanded: list[str] = []
    for n in names:
        for m in auto_models() if n == "auto" else [n]:
            if m not in expanded:
                expanded.append(m)
    if only:
        # A model named on the command line may be any known model, not only the suite's.
        expanded = list(dict.fromkeys(only))
    return [resolve_model(n) for n in expanded]
