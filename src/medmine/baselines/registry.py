"""Baselines by name: non-LLM reference methods, the default models when no model is named."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from medmine.core import Model

BASELINES: dict[str, Callable[[], Model]] = {}
DEFAULT_BASELINES: list[str] = []

# Modules that register built-in baselines when imported.
BUILTIN_MODULES = (
    "medmine.baselines.classifiers",
    "medmine.baselines.classical",
    "medmine.baselines.reports",
    "medmine.baselines.vqa_prior",
)
_loaded = False


def register_baseline(name: str, factory: Callable[[], Model], default: bool = False) -> None:
    """Make a baseline available by name; ``default`` puts it in the ``auto`` model set."""
    BASELINES[name] = factory
    if default and name not in DEFAULT_BASELINES:
        DEFAULT_BASELINES.append(name)


def load_builtins() -> None:
    """Import the built-in baseline modules once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def baseline_names() -> list[str]:
    """All registered baselines."""
    load_builtins()
    return list(BASELINES)


def default_baselines() -> list[str]:
    """The baselines ``auto`` expands to."""
    load_builtins()
    return list(DEFAULT_BASELINES)


def make_baseline(name: str) -> Model:
    """A fresh baseline instance by name."""
    load_builtins()
    try:
        return BASELINES[name]()
    except KeyError:
        known = ", ".join(sorted(BASELINES))
        raise ValueError(f"unknown baseline {name!r}; known: {known}") from None
