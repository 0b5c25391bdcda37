"""Rule-based CheXpert labeler: 14 observations (1.0 / 0.0 / -1.0 / None) from report text."""

from medmine.chexpert.labeler import label_report, label_reports
from medmine.chexpert.observations import OBSERVATIONS

__all__ = ["OBSERVATIONS", "label_report", "label_reports"]
