"""The rows of ``medmine tasks list`` and ``medmine models list`` (the baselines part).

Building them imports every task or baseline module (and numpy, pydantic, the image
libraries with them); :func:`medmine.plugins.cached_listing` keeps them in an index that is
rebuilt whenever any module they come from changes, so a listing normally imports none of
those modules.  A process that already uses a registry (a test, a library caller that
registered a task at run time) is listed live.
"""

from __future__ import annotations

from typing import Any

from medmine.plugins import cached_listing

TASKS_PACKAGE = "medmine.tasks"
TASKS_GROUP = "medmine.tasks"  # tasks.registry.ENTRY_POINT_GROUP (not imported: see above)
TASKS_ENV = "MEDMINE_TASK_MODULES"  # tasks.registry.ENV_VAR
BASELINES_PACKAGE = "medmine.baselines"
BASELINES_GROUP = "medmine.baselines"  # baselines.registry.ENTRY_POINT_GROUP
BASELINES_ENV = "MEDMINE_BASELINE_MODULES"  # baselines.registry.ENV_VAR


def build_task_rows() -> list[dict[str, Any]]:
    """name, version and the first line of the docstring of every registered task."""
    from medmine.tasks.registry import make_task, task_names

    rows = []
    for name in task_names():
        task = make_task(name)
        doc = (type(task).__doc__ or "").strip().splitlines()
        rows.append({"name": name, "version": task.version, "description": doc[0] if doc else ""})
    return rows


def build_baseline_rows() -> list[dict[str, Any]]:
    """name, whether ``auto`` includes it, its tasks and modality, for every baseline."""
    from medmine.baselines.registry import baseline_names, default_baselines, make_baseline

    defaults = default_baselines()
    rows = []
    for name in baseline_names():
        model = make_baseline(name)
        rows.append(
            {
                "name": name,
                "default": name in defaults,
                "tasks": sorted(getattr(model, "tasks", ())),
                "modality": getattr(model, "modality", "vision"),
            }
        )
    return rows


def task_rows() -> list[dict[str, Any]]:
    """:func:`build_task_rows`, from the listing index while it is current."""
    return cached_listing(
        "tasks", TASKS_PACKAGE, TASKS_GROUP, TASKS_ENV, build_task_rows, "medmine.tasks.registry"
    )


def baseline_rows() -> list[dict[str, Any]]:
    """:func:`build_baseline_rows`, from the listing index while it is current."""
    return cached_listing(
        "baselines",
        BASELINES_PACKAGE,
        BASELINES_GROUP,
        BASELINES_ENV,
        build_baseline_rows,
        "medmine.baselines.registry",
    )
