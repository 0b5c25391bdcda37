"""The registry of task kinds: a new task is one module that calls :func:`register_task`.

Nothing lists the task modules: on first use the registry imports every module of
``medmine.tasks``, those of the ``medmine.tasks`` entry-point group and those named in
``$MEDMINE_TASK_MODULES`` (see :mod:`medmine.plugins`). Importing only then keeps start-up
fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from medmine.core import MetricSet, Task
from medmine.plugins import import_plugins

_TASKS: dict[str, Callable[..., Task]] = {}
ENV_VAR = "MEDMINE_TASK_MODULES"
ENTRY_POINT_GROUP = "medmine.tasks"
_loaded_for: str | None = None  # the $MEDMINE_TASK_MODULES value the last scan saw


def register_task(name: str, factory: Callable[..., Task]) -> None:
    """Make a task kind available by name (to suites and the CLI)."""
    _TASKS[name] = factory


def _load_builtins() -> None:
    """Import the task modules once (again when ``$MEDMINE_TASK_MODULES`` has changed)."""
    global _loaded_for
    wanted = os.environ.get(ENV_VAR, "")
    if _loaded_for == wanted:
        return
    _loaded_for = wanted  # set first: a task module may itself ask the registry
    try:
        import_plugins("medmine.tasks", ENTRY_POINT_GROUP, ENV_VAR)
    except ImportError:
        _loaded_for = None  # scan again next time rather than run with a partial registry
        raise


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


def task_factory(name: str) -> Callable[..., Task] | None:
    """The registered factory of a task (usually its class, whose class attributes declare
    what the task is: ``metrics``, ``typical_output_tokens``); None for an unknown name."""
    _load_builtins()
    return _TASKS.get(name)


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
