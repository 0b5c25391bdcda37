"""Baselines by name: non-LLM reference methods, the default models when no model is named.

A new baseline is one module in ``medmine.baselines`` (or one named by the
``medmine.baselines`` entry-point group or ``$MEDMINE_BASELINE_MODULES``) that calls
:func:`register_baseline`; the registry finds it on first use (see :mod:`medmine.plugins`).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from medmine.core import Model
from medmine.plugins import import_plugins

BASELINES: dict[str, Callable[[], Model]] = {}
DEFAULT_BASELINES: list[str] = []
ENV_VAR = "MEDMINE_BASELINE_MODULES"
ENTRY_POINT_GROUP = "medmine.baselines"
_loaded_for: str | None = None  # the $MEDMINE_BASELINE_MODULES value the last scan saw


def register_baseline(name: str, factory: Callable[[], Model], default: bool = False) -> None:
    """Make a baseline available by name; ``default`` puts it in the ``auto`` model set."""
    BASELINES[name] = factory
    if default and name not in DEFAULT_BASELINES:
        DEFAULT_BASELINES.append(name)


def load_builtins() -> None:
    """Import the baseline modules once (again when ``$MEDMINE_BASELINE_MODULES`` changed)."""
    global _loaded_for
    wanted = os.environ.get(ENV_VAR, "")
    if _loaded_for == wanted:
        return
    _loaded_for = wanted  # set first: a baseline module may itself ask the registry
    try:
        import_plugins("medmine.baselines", ENTRY_POINT_GROUP, ENV_VAR)
    except ImportError:
        _loaded_for = None  # scan again next time rather than run with a partial registry
        raise


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
