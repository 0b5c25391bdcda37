"""Which observations a diagnosis truth can score, and where the truth comes from.

Report datasets carry ``Sample.meta["truth"]`` (see :mod:`medmine.datasets.report_truth`):
``kind`` (expert / mesh / automatic), ``source`` and ``scored``, the observations that
source can confirm. Observations some sample's truth cannot confirm are left out of the
scores (not counted as negative); samples without that key are scored on all 14.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from medmine.chexpert import OBSERVATIONS
from medmine.core import Sample
from medmine.metrics.agreement import binary_kappa


def truth_scope(samples: Sequence[Sample]) -> tuple[tuple[str, ...], str]:
    """(observations every sample's truth can confirm, in CheXpert order; provenance text).

    The provenance names each truth kind and source with its sample count, e.g.
    ``"mesh: MeSH terms of indiana_reports.csv (MeSH), mapping mesh-chexpert-2 (n=40)"``;
    it is ``"dataset labels"`` when no sample says where its labels come from.
    """
    scored = set(OBSERVATIONS)
    counts: dict[str, int] = {}
    for s in samples:
        truth = s.meta.get("truth") if isinstance(s.meta, Mapping) else None
        if not isinstance(truth, Mapping):
            counts["dataset labels"] = counts.get("dataset labels", 0) + 1
            continue
        if isinstance(truth.get("scored"), list):
            scored &= set(truth["scored"])
        name = f"{truth.get('kind', '?')}: {truth.get('source', '?')}"
        if truth.get("mapping"):
            name += f", mapping {truth['mapping']}"
        counts[name] = counts.get(name, 0) + 1
    labels = tuple(o for o in OBSERVATIONS if o in scored)
    if list(counts) == ["dataset labels"]:
        return labels, "dataset labels"
    return labels, "; ".join(f"{k} (n={v})" for k, v in counts.items())


def observation_kappas(
    y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str], policy: str
) -> dict[str, float]:
    """Cohen's kappa per observation between truth and prediction (positive class).

    Targets follow the uncertainty policy ("ones": -1 is positive, "zeros": negative,
    "ignore": the sample is left out for that observation); predictions count -1 as positive.
    Blank (NaN) is negative on both sides, as in the diagnosis scores.
    """
    out = {}
    for j, name in enumerate(labels):
        t, p = y_true[:, j], y_pred[:, j]
        keep = ~(t == -1.0) if policy == "ignore" else np.ones(len(t), dtype=bool)
        t_pos = (t == 1.0) | ((t == -1.0) & (policy == "ones"))
        p_pos = (p == 1.0) | (p == -1.0)
        out[name] = binary_kappa(t_pos[keep], p_pos[keep])
    return out
