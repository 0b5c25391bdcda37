"""Model names (baselines and presets) to Model objects, including the ``auto`` default."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from medmine.baselines.registry import baseline_names, default_baselines, make_baseline
from medmine.core import Model


def auto_models() -> list[str]:
    """The default models: the baselines (offline, free). Cloud models are never implied:
    spending money is something a user asks for by naming a model."""
    return default_baselines()


def user_preset_files(extra: Sequence[Path] = ()) -> list[Path]:
    """User preset YAML files: those named by ``$MEDMINE_PRESETS`` (path-list), then ``extra``."""
    env = os.environ.get("MEDMINE_PRESETS", "")
    return [Path(p) for p in env.split(os.pathsep) if p] + [Path(p) for p in extra]


def resolve_model(name: str, preset_files: Sequence[Path] = ()) -> Model:
    """A baseline or a preset by name (user preset files add or override presets)."""
    if name in baseline_names():
        return make_baseline(name)
    from medmine.models.factory import build_model
    from medmine.models.presets import load_presets, resolve_preset

    return build_model(resolve_preset(name, load_presets(user_preset_files(preset_files))))


def resolve_models(
    names: Sequence[str], only: Sequence[str] = (), preset_files: Sequence[Path] = ()
) -> list[Model]:
    """Models of a suite (``auto`` expanded), kept to ``only`` when given."""
    expanded: list[str] = []
    for n in names:
        for m in auto_models() if n == "auto" else [n]:
            if m not in expanded:
                expanded.append(m)
    if only:
        # A model named on the command line may be any known model, not only the suite's.
        expanded = list(dict.fromkeys(only))
    return [resolve_model(n, preset_files) for n in expanded]
