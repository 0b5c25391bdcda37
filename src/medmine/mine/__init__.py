"""Data mining: label collections of reports (and, later, images) into tables."""

from medmine.mine.reports import is_report_source, mine_reports, mine_reports_command

__all__ = ["is_report_source", "mine_reports", "mine_reports_command"]
