"""The registry of task kinds: a new task is one module that calls :func:`register_task`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from medmine.core import MetricSet, Task

_TASKS: dict[str, Callable[..., Task]] = {}

# Modules that register the built-in tasks; imported on first use so start-up stays fast.
BUILTIN_MODULES = (
    "medmine.tasks.classification",
    "medmine.tasks.segmentation",
    "medmine.tasks.localization",
    "medmine.tasks.detection",
    "medmine.tasks.diagnosis",
    "medmine.tasks.report_generation",
    "medmine.tasks.vqa",
)


def register_task(name: str, factory: Callable[..., Task]) -> None:
    """Make a task kind available by name (to suites and the CLI)."""
    _TASKS[name] = factory


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def task_names() -> list[str]:
    """Names of all registered tasks."""
    _load_builtins()
    return sorted(_TASKS)


def make_task(name: str, **options: Any) -> Task:
    """A task instance by name, with its options; unknown names list the known ones."""
    _load_builtins()
    try:
        factory = _TASKS[name]
    except KeyError:
        raise ValueError(
            f"unknown task {name!r}; known tasks: {', '.join(sorted(_TASKS))}"
        ) from None
    return factory(**options)


def task_metrics(name: str) -> MetricSet | None:
    """The metrics a registered task declares (None for a task name nobody registered)."""
    _load_builtins()
    factory = _TASKS.get(name)
    if factory is None:
        return None
    declared = getattr(factory, "metrics", None)
    if isinstance(declared, MetricSet):
        return declared
    return make_task(name).metrics
