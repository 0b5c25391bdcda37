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

Listing what the registries hold (``medmine tasks list``, ``medmine models list``) would
import every task and baseline module, numpy and pydantic with them, at every start.
:func:`cached_listing` keeps the listed rows in an index under the cache directory and
returns them without importing anything while the index is current.  It is rebuilt (by
importing, exactly as before) whenever any input may have changed:

* the key of the index file holds ``sys.executable``, ``sys.path`` and the environment
  variable's value, so another interpreter, search path or module list gets its own index;
* the package's module names are rescanned (:func:`package_modules` reads file names only);
* the entry-point modules are re-read whenever a ``sys.path`` directory's modification
  time changed (installing, removing or upgrading a distribution changes it);
* every module loaded when the index was built, outside the standard library, is stamped
  with its file's modification time (ns) and size; any difference rebuilds the index.

So the index cannot go stale through any change to Python code; rows must be computed from
the modules' code and the environment variable only (not from data files or the clock).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import pkgutil
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

INDEX_FORMAT = 1  # bump when the index file's layout changes


class PluginImportError(ImportError):
    """A module that should register tasks or baselines could not be imported."""


def package_modules(package: str) -> list[str]:
    """Import names of a package's direct modules and subpackages (sorted; private names and
    the package's ``registry`` module left out)."""
    spec = importlib.util.find_spec(package)  # imports the parents, not the package
    paths = list(spec.submodule_search_locations or []) if spec is not None else []
    found = pkgutil.iter_modules(paths, prefix=f"{package}.")
    names = [
        info.name
        for info in found
        if not info.name.rsplit(".", 1)[1].startswith("_")
        and info.name.rsplit(".", 1)[1] != "registry"
    ]
    return sorted(names)


def entry_point_modules(group: str) -> list[str]:
    """Modules that installed distributions declare under the entry-point ``group``."""
    from importlib.metadata import entry_points  # ~0.1 s with many distributions installed

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


# --------------------------------------------------------------------------- listing index

Row = dict[str, Any]


def _cache_root() -> Path:
    """``$MEDMINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/medmine``, else ``~/.cache/medmine``: the
    rule of ``medmine.core.cache_dir``, which is not imported here because ``medmine.core``
    loads pydantic (a test keeps the two equal)."""
    env = os.environ.get("MEDMINE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "medmine"


def index_path(kind: str, env_var: str) -> Path:
    """The index file of one listing for this interpreter, search path and module list."""
    search = [os.path.abspath(entry) for entry in sys.path]  # "" is the working directory
    key = [INDEX_FORMAT, kind, sys.executable, search, os.environ.get(env_var, "")]
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
    return _cache_root() / "listing" / f"{kind}-{digest}.json"


def _dir_stamps() -> list[list[Any]]:
    """Modification times of the ``sys.path`` directories (where distributions live)."""
    out: list[list[Any]] = []
    for entry in sys.path:
        try:
            out.append([entry, os.stat(entry or ".").st_mtime_ns])
        except OSError:
            out.append([entry, None])
    return out


def _file_stamp(path: str) -> list[Any]:
    """[path, mtime_ns, size] of a module file ([path, None, None] if it cannot be read)."""
    try:
        st = os.stat(path)
    except OSError:
        return [path, None, None]
    return [path, st.st_mtime_ns, st.st_size]


def _loaded_files() -> list[list[Any]]:
    """Stamps of the files of every loaded module outside the standard library (whose
    ``site-packages`` may lie inside the standard library's directory)."""
    stdlib = tuple({os.path.join(sysconfig.get_paths()[k], "") for k in ("stdlib", "platstdlib")})
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not isinstance(path, str):
            continue
        if path.startswith(stdlib) and not (
            {"site-packages", "dist-packages"} & set(Path(path).parts)
        ):
            continue
        files.add(path)
    return [_file_stamp(path) for path in sorted(files)]


def _current_rows(index: dict[str, Any], package: str, group: str) -> list[Row] | None:
    """The index's rows if nothing they were built from has changed, else None."""
    if index.get("format") != INDEX_FORMAT or index.get("modules") != package_modules(package):
        return None
    if index.get("dirs") != _dir_stamps():
        if index.get("entry_points") != entry_point_modules(group):
            return None
        index["dirs"] = _dir_stamps()  # same plugins: the caller rewrites the stamps
        index["restamped"] = True
    # A file that could not be read when the index was built (a module imported from a folder
    # since removed) counts as unchanged while it still cannot be read.
    for path, mtime, size in index.get("files", []):
        if _file_stamp(path) != [path, mtime, size]:
            return None
    rows = index.get("rows")
    return rows if isinstance(rows, list) else None


def _write_index(path: Path, index: dict[str, Any]) -> None:
    """Write the index atomically; a cache that cannot be written is reported on stderr
    (the listing is still right, only slower next time)."""
    index.pop("restamped", None)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(index), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        print(f"medmine: cannot write the listing index {path}: {exc}", file=sys.stderr)


def cached_listing(
    kind: str,
    package: str,
    group: str,
    env_var: str,
    build: Callable[[], list[Row]],
    live_if_loaded: str | None = None,
) -> list[Row]:
    """The rows ``build`` returns (it imports the registry's modules), read from the index
    when nothing they depend on has changed (see the module doc); rows must be JSON values.

    A process that has already imported ``live_if_loaded`` (the registry) gets ``build()``
    itself: it may have registered entries at run time, which no index can know about.
    """
    if live_if_loaded is not None and live_if_loaded in sys.modules:
        return build()
    path = index_path(kind, env_var)
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        index = None
    if isinstance(index, dict):
        try:
            rows = _current_rows(index, package, group)
        except (TypeError, ValueError):  # a damaged index: build it again
            rows = None
        if rows is not None:
            if index.get("restamped"):
                _write_index(path, index)
            return rows
    modules = package_modules(package)
    dirs = _dir_stamps()
    eps = entry_point_modules(group)
    rows = build()
    fresh = {"format": INDEX_FORMAT, "modules": modules, "dirs": dirs, "entry_points": eps}
    fresh.update({"files": _loaded_files(), "rows": rows})
    _write_index(path, fresh)
    return rows
