"""The registries find their modules by scanning, entry points and an environment variable,
and a module that cannot be imported is an error naming it, never skipped."""

from __future__ import annotations

import pytest

from medmine import plugins
from medmine.tasks import registry


def test_the_package_scan_finds_every_builtin_task_module() -> None:
    modules = plugins.package_modules("medmine.tasks")
    assert "medmine.tasks.vqa" in modules and "medmine.tasks.classification" in modules
    assert "medmine.tasks.registry" not in modules
    assert {"classification", "detection", "vqa"} <= set(registry.task_names())


def test_a_listed_module_that_cannot_be_imported_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(registry.ENV_VAR, "medmine_no_such_task_module")
    with pytest.raises(plugins.PluginImportError, match="medmine_no_such_task_module"):
        registry.task_names()
    monkeypatch.delenv(registry.ENV_VAR)
    assert "classification" in registry.task_names()  # the next use scans again
