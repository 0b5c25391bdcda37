"""``medmine tasks list`` / ``models list`` read the registries' rows from an index that is
rebuilt whenever anything they came from changes: a warm listing imports no task or
baseline module, and a changed module, a new module in ``$MEDMINE_TASK_MODULES`` or a newly
installed entry point shows up at once (the index can never show stale rows)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from medmine import cli_listing, plugins
from medmine.baselines import registry as baseline_registry
from medmine.core import cache_dir
from medmine.tasks import registry as task_registry

SRC = Path(__file__).resolve().parents[1] / "src"
PROBE = """
import sys
sys.argv = ["medmine", *sys.argv[1:]]
from medmine.cli import main
try:
    main()
except SystemExit:
    pass
infra = {"medmine.tasks", "medmine.tasks.registry", "medmine.baselines",
         "medmine.baselines.registry"}
impl = [m for m in sys.modules
        if m.startswith(("medmine.tasks.", "medmine.baselines.")) and m not in infra]
impl += [m for m in ("numpy", "PIL.Image") if m in sys.modules]
print("LOADED", *sorted(impl), file=sys.stderr)
"""


def _listing(
    *argv: str, cache: Path, extra_path: Path | None = None, env: dict[str, str] | None = None
) -> tuple[str, list[str], str]:
    """stdout, the task/baseline implementation modules (and numpy, PIL) a fresh ``medmine
    ARGV`` process imported, and its stderr."""
    paths = [str(SRC)] + ([str(extra_path)] if extra_path else [])
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths),
        "MEDMINE_CACHE_DIR": str(cache),
        "COLUMNS": "250",
        **(env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    line = [x for x in done.stderr.splitlines() if x.startswith("LOADED")][-1]
    return done.stdout, line.split()[1:], done.stderr


@pytest.mark.parametrize("command", ["tasks", "models"])
def test_a_warm_listing_imports_no_task_or_baseline_module(tmp_path: Path, command: str) -> None:
    cold, cold_loaded, _ = _listing(command, "list", cache=tmp_path)
    warm, warm_loaded, _ = _listing(command, "list", cache=tmp_path)
    assert warm == cold
    assert "numpy" in cold_loaded  # the first listing imports the modules to build the index
    assert warm_loaded == []
    assert "classification" in warm
    if command == "models":
        assert "majority (default) [classification]" in warm and "otsu-lcc" in warm


def test_the_index_holds_exactly_what_importing_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path))
    fresh_tasks, fresh_baselines = cli_listing.build_task_rows(), cli_listing.build_baseline_rows()
    assert {r["name"] for r in fresh_tasks} == set(task_registry.task_names())
    assert [r["name"] for r in fresh_baselines] == baseline_registry.baseline_names()
    # this process already uses the registries: it is listed live, which sees a task
    # registered at run time (no index could)
    task_registry.register_task("probe_runtime_task", task_registry.task_factory("vqa"))  # type: ignore[arg-type]
    try:
        assert "probe_runtime_task" in {r["name"] for r in cli_listing.task_rows()}
    finally:
        task_registry._TASKS.pop("probe_runtime_task")
    assert not (tmp_path / "listing").exists()

    def listing(build: object) -> list[dict[str, object]]:
        args = (cli_listing.TASKS_PACKAGE, cli_listing.TASKS_GROUP, cli_listing.TASKS_ENV)
        return plugins.cached_listing("tasks", *args, build)  # type: ignore[arg-type]

    assert listing(cli_listing.build_task_rows) == fresh_tasks  # builds and writes the index

    def no_build() -> list[dict[str, object]]:
        raise AssertionError("the index was current: nothing should be imported")

    assert listing(no_build) == fresh_tasks  # read from the index alone


def _touch_later(path: Path) -> None:
    """Move a file's modification time one second on (a rewrite within the clock's
    resolution must still count as a change: the size changes too in these tests)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def _task_module(name: str, doc: str, helper: str | None = None) -> str:
    """Source of a third-party task module registering ``name`` (built on VqaTask); its
    description is ``doc``, or ``helper.DOC`` read from another module."""
    doc_line = f"__doc__ = {helper}.DOC" if helper else f"{doc!r}"
    return textwrap.dedent(
        f"""
        from medmine.tasks.registry import register_task
        from medmine.tasks.vqa import VqaTask
        {"import " + helper if helper else ""}


        class ProbeTask(VqaTask):
            {doc_line}


        register_task({name!r}, ProbeTask)
        """
    )


def test_a_changed_plugin_or_module_it_imports_rebuilds_the_index(tmp_path: Path) -> None:
    plugins_dir = tmp_path / "plugins"
    plugins_dir.mkdir()
    module = plugins_dir / "probe_listing_task.py"
    helper = plugins_dir / "probe_listing_helper.py"
    helper.write_text("DOC = 'Helper wording one.'\n")
    module.write_text(_task_module("probe_a", "", helper="probe_listing_helper"))
    env = {"MEDMINE_TASK_MODULES": "probe_listing_task"}
    cache = tmp_path / "cache"
    out, _, _ = _listing("tasks", "list", cache=cache, extra_path=plugins_dir, env=env)
    assert "probe_a" in out and "Helper wording one." in out
    assert "classification" in out
    out, loaded, _ = _listing("tasks", "list", cache=cache, extra_path=plugins_dir, env=env)
    assert "probe_a" in out and loaded == []  # warm: third-party rows from the index too

    module.write_text(_task_module("probe_changed", "", helper="probe_listing_helper"))
    _touch_later(module)
    out, loaded, _ = _listing("tasks", "list", cache=cache, extra_path=plugins_dir, env=env)
    assert "probe_changed" in out and "probe_a " not in out and loaded != []

    helper.write_text("DOC = 'Helper wording number two.'\n")  # imported, not listed
    _touch_later(helper)
    out, _, _ = _listing("tasks", "list", cache=cache, extra_path=plugins_dir, env=env)
    assert "Helper wording number two." in out and "Helper wording one." not in out

    (plugins_dir / "probe_listing_other.py").write_text(_task_module("probe_b", "Other."))
    env = {"MEDMINE_TASK_MODULES": "probe_listing_task,probe_listing_other"}
    out, _, _ = _listing("tasks", "list", cache=cache, extra_path=plugins_dir, env=env)
    assert "probe_changed" in out and "probe_b" in out


def _distribution(site: Path, dist: str, module: str) -> None:
    """A minimal installed distribution declaring ``module`` in the medmine.tasks group."""
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[medmine.tasks]\n{dist} = {module}\n")


def test_a_newly_installed_entry_point_is_listed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "probe_ep_one.py").write_text(_task_module("probe_ep_one", "From dist one."))
    (site / "probe_ep_two.py").write_text(_task_module("probe_ep_two", "From dist two."))
    _distribution(site, "probe_dist_one", "probe_ep_one")
    cache = tmp_path / "cache"
    out, _, _ = _listing("tasks", "list", cache=cache, extra_path=site)
    assert "probe_ep_one" in out and "probe_ep_two" not in out
    _, loaded, _ = _listing("tasks", "list", cache=cache, extra_path=site)
    assert loaded == []

    _distribution(site, "probe_dist_two", "probe_ep_two")  # "pip install" of a second one
    _touch_later(site)
    out, _, _ = _listing("tasks", "list", cache=cache, extra_path=site)
    assert "probe_ep_one" in out and "probe_ep_two" in out


def test_a_damaged_index_is_rebuilt_and_an_unwritable_one_is_reported(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    good, _, _ = _listing("tasks", "list", cache=cache)
    (index,) = (cache / "listing").glob("tasks-*.json")
    for damage in ("{not json", json.dumps({"format": 1, "modules": "x", "files": [[1]]})):
        index.write_text(damage)
        again, _, _ = _listing("tasks", "list", cache=cache)
        assert again == good
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    out, _, err = _listing("tasks", "list", cache=blocker)
    assert out == good and "cannot write the listing index" in err


def test_the_listing_knows_the_registries_names(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli_listing.TASKS_ENV == task_registry.ENV_VAR
    assert cli_listing.TASKS_GROUP == task_registry.ENTRY_POINT_GROUP
    assert cli_listing.BASELINES_ENV == baseline_registry.ENV_VAR
    assert cli_listing.BASELINES_GROUP == baseline_registry.ENTRY_POINT_GROUP
    for env in ({"MEDMINE_CACHE_DIR": "/x/y"}, {"XDG_CACHE_HOME": "/x/xdg"}, {}):
        monkeypatch.delenv("MEDMINE_CACHE_DIR", raising=False)
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        assert plugins._cache_root() == cache_dir()


def test_a_loaded_module_whose_file_is_gone_does_not_make_the_index_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long-lived process (a test session, a notebook) may hold modules imported from a folder
    # removed since; their files cannot be read at build time nor later.
    gone = type(sys)("medmine_probe_gone")
    gone.__file__ = str(tmp_path / "removed" / "medmine_probe_gone.py")
    monkeypatch.setitem(sys.modules, "medmine_probe_gone", gone)
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path))
    args = (cli_listing.TASKS_PACKAGE, cli_listing.TASKS_GROUP, cli_listing.TASKS_ENV)
    built = plugins.cached_listing("tasks", *args, cli_listing.build_task_rows)

    def no_build() -> list[dict[str, object]]:
        raise AssertionError("the index was current: nothing should be imported")

    assert plugins.cached_listing("tasks", *args, no_build) == built
