"""Find the modules that register tasks, baselines and other pluggable parts.

A registry (``tasks.registry``, ``baselines.registry``) calls :func:`import_plugins` the
first time it is used. That imports, in this order:

1. every module of the registry's own package (``medmine.tasks``, ``medmine.baselines``),
   found by scanning the package with :mod:`pkgutil`, so a new built-in task or baseline is
   one new module and no list anywhere names it;
2. the modules of installed distributions that declare an entry point in the registry's
   group (``[project.entry-points."medmine.tasks"]`` in their ``pyproject.toml``);
3. the modules named in an environment variable (``MEDMINE_TASK_MODULES``,
   ``MEDMINE_BASELINE_MODULES``: comma-separated import names), for a project's own tasks
   that are not packaged.

Each module registers what it defines when imported (``register_task(...)`` at module
level). A module that cannot be imported is an error naming the module and where it was
found, never skipped silently.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from importlib.metadata import entry_points


class PluginImportError(ImportError):
    """A module that should register tasks or baselines could not be imported."""


def package_modules(package: str) -> list[str]:
    """Import names of a package's direct modules and subpackages (sorted; private names and
    the package's ``registry`` module left out)."""
    pkg = importlib.import_module(package)
    found = pkgutil.iter_modules(getattr(pkg, "__path__", []), prefix=f"{package}.")
    names = [
        info.name
        for info in found
        if not info.name.rsplit(".", 1)[1].startswith("_")
        and info.name.rsplit(".", 1)[1] != "registry"
    ]
    return sorted(names)


def entry_point_modules(group: str) -> list[str]:
    """Modules that installed distributions declare under the entry-point ``group``."""
    return [ep.module for ep in entry_points(group=group)]


def env_modules(env_var: str) -> list[str]:
    """Module names listed (comma-separated) in the environment variable ``env_var``."""
    return [m.strip() for m in os.environ.get(env_var, "").split(",") if m.strip()]


def import_plugins(package: str, group: str, env_var: str) -> list[str]:
    """Import every module that may register into ``package``'s registry; returns their
    names in import order. Raises :class:`PluginImportError` naming a module that fails."""
    sources = [
        (f"package {package}", package_modules(package)),
        (f"entry-point group {group!r}", entry_point_modules(group)),
        (f"${env_var}", env_modules(env_var)),
    ]
    imported: list[str] = []
    for where, modules in sources:
        for module in modules:
            if module in imported:
                continue
            try:
                importlib.import_module(module)
            except Exception as exc:  # re-raised with the module and where it was listed
                raise PluginImportError(
                    f"cannot import {module} (listed by {where}): {type(exc).__name__}: {exc}"
                ) from exc
            imported.append(module)
    return imported
