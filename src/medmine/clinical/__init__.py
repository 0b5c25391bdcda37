"""Model-based clinical report metrics from local weights (the ``clinical`` extra).

Importing this package registers CheXbert F1, BERTScore, RadGraph F1 and RaTEScore with the report-
generation task (:mod:`medmine.tasks.report_scorers`). Nothing heavy is imported here: torch
and transformers load when a metric first scores. Weights folders and their environment
variables: ``MEDMINE_CHEXBERT_WEIGHTS``, ``MEDMINE_BERTSCORE_WEIGHTS``,
``MEDMINE_RADGRAPH_WEIGHTS``, ``MEDMINE_RATESCORE_WEIGHTS`` (see :mod:`medmine.clinical.weights`).
"""

from __future__ import annotations

from medmine.clinical.bertscore import make_bertscore
from medmine.clinical.chexbert import make_chexbert
from medmine.clinical.radgraph import make_radgraph
from medmine.clinical.ratescore import make_ratescore
from medmine.tasks.report_scorers import register_report_scorer

register_report_scorer("chexbert", make_chexbert)
register_report_scorer("bertscore", make_bertscore)
register_report_scorer("radgraph", make_radgraph)
register_report_scorer("ratescore", make_ratescore)
