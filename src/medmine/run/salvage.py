"""Copy every row that can still be read out of a damaged run database (``medmine doctor``).

Apart from :mod:`medmine.run.store_check` because it needs the store's schema, while the
store needs the check: one module each keeps the imports one-way.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from medmine.run.store import SCHEMA
from medmine.run.store_check import SALVAGE_NAME, _read_only, problem_of


@dataclass
class SalvageReport:
    """What ``medmine doctor`` found and copied."""

    path: Path
    problem: str | None
    target: Path | None = None
    copied: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """A readable account."""
        if self.problem is None:
            return [f"{self.path}: sound (integrity check ok); nothing to salvage."]
        out = [f"{self.path}: {self.problem}."]
        if self.target is None:
            out.append("No table could be read: nothing salvaged.")
            return out
        for table, n in sorted(self.copied.items()):
            lost = self.lost.get(table, 0)
            out.append(f"  {table}: {n} row(s) copied" + (f", {lost} unreadable" if lost else ""))
        out.append(
            f"Salvaged rows are in {self.target}. To resume from them: move {self.path.name} "
            f"away, rename {self.target.name} to {self.path.name}, and rerun the same command "
            "(answers lost are asked again)."
        )
        return out


def salvage(run_dir: Path) -> SalvageReport:
    """Check ``run_dir/run.sqlite`` and copy every readable row into ``run.salvaged.sqlite``
    (the original is never modified)."""
    path = run_dir / "run.sqlite"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir}: no run.sqlite here; is it a run directory?")
    report = SalvageReport(path, problem_of(path))
    if report.problem is None or path.stat().st_size == 0:
        return report
    try:
        src = _read_only(path)
        tables = [
            (name, sql)
            for name, sql in src.execute("SELECT name, sql FROM sqlite_master WHERE type='table'")
        ]
    except sqlite3.DatabaseError:
        return report
    target = run_dir / SALVAGE_NAME
    if target.exists():
        raise FileExistsError(f"{target} exists already; move it away before salvaging again")
    dst = sqlite3.connect(target)
    try:
        dst.executescript(SCHEMA)
        for name, sql in tables:
            if sql and not name.startswith("sqlite_"):
                dst.execute(sql.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
            report.copied[name], report.lost[name] = _copy_table(src, dst, name)
        dst.commit()
    finally:
        dst.close()
        src.close()
    report.target = target
    return report


def _copy_table(src: sqlite3.Connection, dst: sqlite3.Connection, table: str) -> tuple[int, int]:
    """Copy a table row by row (by rowid, so one unreadable page loses only its rows)."""
    copied = lost = 0
    try:
        (top,) = src.execute(f'SELECT MAX(rowid) FROM "{table}"').fetchone()
    except sqlite3.DatabaseError:
        top = None
    if top is None:
        try:
            rows = src.execute(f'SELECT * FROM "{table}"').fetchall()
        except sqlite3.DatabaseError:
            return 0, 0
        top_rows = rows
    else:
        top_rows = []
        for rowid in range(1, int(top) + 1):
            try:
                row = src.execute(f'SELECT * FROM "{table}" WHERE rowid=?', (rowid,)).fetchone()
            except sqlite3.DatabaseError:
                lost += 1
                continue
            if row is not None:
                top_rows.append(row)
    for row in top_rows:
        marks = ",".join("?" * len(row))
        dst.execute(f'INSERT OR REPLACE INTO "{table}" VALUES ({marks})', row)
        copied += 1
    return copied, lost
