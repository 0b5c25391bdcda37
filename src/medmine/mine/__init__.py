"""Data mining: label collections of reports and images into tables.

The names below are imported on first use, so that ``medmine`` (whose ``mine`` command lives in
this package) starts without loading the labeler and the runner.
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_report_source", "mine_reports", "mine_reports_command"]


def __getattr__(name: str) -> Any:
    """Load ``medmine.mine.reports`` when one of its public names is first asked for."""
    if name in __all__:
        from medmine.mine import reports

        return getattr(reports, name)
    raise AttributeError(f"module 'medmine.mine' has no attribute {name!r}")
