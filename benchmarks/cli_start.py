"""Benchmark: start-up of ``medmine --help``, ``medmine models list`` and ``medmine tasks list``
against the floor of the interpreter itself (``python -c pass``) and of the CLI library
(``python -c "import typer"``), in the same run.

Run: ``python benchmarks/cli_start.py [--runs 10] [--importtime]``.  Every command runs
``--runs`` times, round-robin (so a change in machine load hits every command alike), each
in a fresh process; the script prints the median and the maximum wall time per command, and
the peak RSS of the largest child.  The listings are timed warm (their index in the cache
directory is current, as on every run but the first after a change) and cold (a fresh cache
directory every time, so each run imports every task and baseline module and writes the
index).  ``--importtime`` adds the slowest imports of each listing (``python -X importtime``).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def medmine_argv() -> list[str]:
    """``python -m medmine`` (what the ``medmine`` console script runs, ``medmine.cli:main``,
    without depending on when the script was last installed: an old one may call ``app``)."""
    return [sys.executable, "-m", "medmine"]


def wall(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run of ``argv`` (output discarded; a failure stops the benchmark)."""
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def slowest_imports(argv: list[str], env: dict[str, str], top: int = 8) -> list[str]:
    """The ``top`` imports with the largest cumulative time (``-X importtime``), top level."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv[1:]], env=env, capture_output=True, text=True
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cum, name = (part.strip() for part in line[len("import time:") :].split("|"))
        if not name.startswith(" "):
            rows.append((int(cum), name))
    rows.sort(reverse=True)
    return [f"{name} {cum / 1000:.0f} ms" for cum, name in rows[:top]]


def main() -> None:
    """Time every command ``--runs`` times and print median / max against the floors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--importtime", action="store_true")
    args = parser.parse_args()
    mm = medmine_argv()
    warm_cache = Path(tempfile.mkdtemp(prefix="medmine-cli-start-"))
    env = {**os.environ, "MEDMINE_CACHE_DIR": str(warm_cache), "COLUMNS": "120"}
    commands: dict[str, tuple[list[str], bool]] = {
        "python -c pass": ([sys.executable, "-c", "pass"], False),
        'python -c "import typer"': ([sys.executable, "-c", "import typer"], False),
        "medmine --help": ([*mm, "--help"], False),
        "medmine models list (warm)": ([*mm, "models", "list"], False),
        "medmine tasks list (warm)": ([*mm, "tasks", "list"], False),
        "medmine models list (cold)": ([*mm, "models", "list"], True),
        "medmine tasks list (cold)": ([*mm, "tasks", "list"], True),
    }
    print(
        f"inputs: {' '.join(mm)} on python {sys.version.split()[0]}; {args.runs} runs per "
        f"command, round-robin; {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at start"
    )
    for argv, _ in commands.values():  # build the warm index, and warm the OS file cache
        wall(argv, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, (argv, cold) in commands.items():
            if cold:
                fresh = Path(tempfile.mkdtemp(prefix="medmine-cli-cold-"))
                times[name].append(wall(argv, {**env, "MEDMINE_CACHE_DIR": str(fresh)}))
                shutil.rmtree(fresh)
            else:
                times[name].append(wall(argv, env))
    floor = statistics.median(times["python -c pass"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(
            f"{name:30s} median {med:.3f} s  max {max(ts):.3f} s  "
            f"(median {med - floor:+.3f} s over python -c pass)"
        )
    print(
        f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}; peak RSS of the "
        f"largest child {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB"
    )
    if args.importtime:
        for name in ("medmine models list (warm)", "medmine tasks list (warm)"):
            print(f"slowest imports, {name}: " + "; ".join(slowest_imports(commands[name][0], env)))
    shutil.rmtree(warm_cache)


if __name__ == "__main__":
    main()
