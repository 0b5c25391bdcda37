"""Multi-label metrics for CheXpert-style observations (pure numpy, matching scikit-learn).

Values follow the CheXpert convention: ``1`` positive, ``0`` negative, ``-1`` uncertain and
``NaN`` (or ``None``) not mentioned. Before counting, each value is binarised for the
*positive class*:

- not mentioned counts as **negative** on both sides (a report that does not name an
  observation does not assert it);
- an uncertain **target** follows the uncertainty policy of Irvin et al. (CheXpert, 2019):
  ``"ones"`` (U-Ones: uncertain -> positive), ``"zeros"`` (U-Zeros: uncertain -> negative)
  or ``"ignore"`` (U-Ignore: that target cell is left out of the counts of its observation);
- an uncertain **prediction** follows ``pred_uncertain``; by default the same mapping as the
  targets, except under ``"ignore"`` where an uncertain prediction counts as negative (a
  prediction cannot be dropped without hiding it, and "uncertain" is not an affirmation).

Per observation: precision = TP / (TP + FP), recall = TP / (TP + FN),
F1 = 2 TP / (2 TP + FP + FN), each 0 when its denominator is 0 (scikit-learn's
``zero_division=0``). Micro figures pool TP/FP/FN over all observations (scikit-learn
``average="micro"``); macro figures average the per-observation figures over the
observations that have at least one positive target after the policy ("present"; with
``average_over="all"``, over every observation), like ``average="macro"`` restricted to
those labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

UncertainPolicy = Literal["ones", "zeros", "ignore"]
UNCERTAIN_POLICIES: tuple[str, ...] = ("ones", "zeros", "ignore")
_ALLOWED = (1.0, 0.0, -1.0)


@dataclass
class MultilabelReport:
    """Per-observation and averaged precision/recall/F1 of the positive class."""

    labels: list[str]
    per_label: dict[str, dict[str, float]]  # precision, recall, f1, support, tp, fp, fn, n
    micro_precision: float
    micro_recall: float
    micro_f1: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    macro_labels: list[str]  # the observations the macro figures average over


def observation_matrix(
    rows: Sequence[Mapping[str, float | None]], labels: Sequence[str]
) -> np.ndarray:
    """An (n, k) float array of CheXpert values from per-sample mappings (missing -> NaN).

    Raises ValueError naming the sample and observation when a value is not 1, 0, -1 or None.
    """
    out = np.full((len(rows), len(labels)), np.nan)
    for i, row in enumerate(rows):
        for j, lab in enumerate(labels):
            v = row.get(lab)
            if v is None:
                continue
            try:
                f = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"row {i}, {lab!r}: value {v!r} is not 1, 0, -1 or None") from None
            if f != f:
                continue
            if f not in _ALLOWED:
                raise ValueError(f"row {i}, {lab!r}: value {v!r} is not 1, 0, -1 or None")
            out[i, j] = f
    return out


def _check_values(arr: np.ndarray, name: str) -> None:
    bad = ~np.isnan(arr) & ~np.isin(arr, _ALLOWED)
    if bad.any():
        i, j = (int(x) for x in np.argwhere(bad)[0])
        raise ValueError(f"{name}[{i}, {j}] = {arr[i, j]!r}: values must be 1, 0, -1 or NaN")


def binarize(
    values: np.ndarray, policy: UncertainPolicy, *, prediction: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Positive-class booleans and a mask of the cells that are scored.

    ``policy`` maps uncertain (-1) values: ones -> positive, zeros -> negative, ignore ->
    excluded from the mask for targets (``prediction=False``) and negative for predictions.
    Not mentioned (NaN) is negative.
    """
    if policy not in UNCERTAIN_POLICIES:
        raise ValueError(f"uncertain policy must be one of {UNCERTAIN_POLICIES}, got {policy!r}")
    arr = np.asarray(values, dtype=float)
    positive = arr == 1.0
    uncertain = arr == -1.0
    mask = np.ones(arr.shape, dtype=bool)
    if policy == "ones":
        positive = positive | uncertain
    elif policy == "ignore" and not prediction:
        mask = ~uncertain
    return positive, mask


def _as_matrix(values: object, name: str, k: int | None) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples x observations), got shape {arr.shape}")
    if k is not None and arr.shape[1] != k:
        raise ValueError(f"{name} has {arr.shape[1]} columns for {k} labels")
    _check_values(arr, name)
    return arr


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(np.shape(a), dtype=float)
    np.divide(a, b, out=out, where=np.asarray(b) > 0)
    return out


def multilabel_report(
    y_true: object,
    y_pred: object,
    labels: Sequence[str],
    *,
    uncertain: UncertainPolicy = "ones",
    pred_uncertain: Literal["ones", "zeros"] | None = None,
    average_over: Literal["present", "all"] = "present",
) -> MultilabelReport:
    """Precision/recall/F1 per observation, micro and macro, under an uncertainty policy.

    ``y_true`` and ``y_pred`` are (n, k) arrays of 1 / 0 / -1 / NaN in the order of
    ``labels`` (see the module doc for the binarisation and the averages).
    """
    labels = list(labels)
    t = _as_matrix(y_true, "y_true", len(labels))
    p = _as_matrix(y_pred, "y_pred", len(labels))
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}")
    if uncertain not in UNCERTAIN_POLICIES:
        raise ValueError(f"uncertain policy must be one of {UNCERTAIN_POLICIES}, got {uncertain!r}")
    if average_over not in ("present", "all"):
        raise ValueError(f"average_over must be 'present' or 'all', got {average_over!r}")
    if pred_uncertain is None:
        pred_uncertain = "zeros" if uncertain == "ignore" else uncertain  # type: ignore[assignment]
    if pred_uncertain not in ("ones", "zeros"):
        raise ValueError(f"pred_uncertain must be 'ones' or 'zeros', got {pred_uncertain!r}")
    tb, mask = binarize(t, uncertain)
    pb, _ = binarize(p, pred_uncertain, prediction=True)  # type: ignore[arg-type]
    tp = (tb & pb & mask).sum(axis=0).astype(float)
    fp = (~tb & pb & mask).sum(axis=0).astype(float)
    fn = (tb & ~pb & mask).sum(axis=0).astype(float)
    n = mask.sum(axis=0).astype(float)
    precision = _div(tp, tp + fp)
    recall = _div(tp, tp + fn)
    f1 = _div(2 * tp, 2 * tp + fp + fn)
    support = tp + fn
    chosen = support > 0 if average_over == "present" else np.ones(len(labels), dtype=bool)
    TP, FP, FN = tp.sum(), fp.sum(), fn.sum()

    def _mean(a: np.ndarray) -> float:
        return float(a[chosen].mean()) if chosen.any() else 0.0

    per_label = {
        lab: {
            "precision": float(precision[j]),
            "recall": float(recall[j]),
            "f1": float(f1[j]),
            "support": float(support[j]),
            "tp": float(tp[j]),
            "fp": float(fp[j]),
            "fn": float(fn[j]),
            "n": float(n[j]),
        }
        for j, lab in enumerate(labels)
    }
    return MultilabelReport(
        labels=labels,
        per_label=per_label,
        micro_precision=float(TP / (TP + FP)) if TP + FP > 0 else 0.0,
        micro_recall=float(TP / (TP + FN)) if TP + FN > 0 else 0.0,
        micro_f1=float(2 * TP / (2 * TP + FP + FN)) if 2 * TP + FP + FN > 0 else 0.0,
        macro_precision=_mean(precision),
        macro_recall=_mean(recall),
        macro_f1=_mean(f1),
        macro_labels=[lab for lab, c in zip(labels, chosen, strict=True) if c],
    )


def per_sample_f1(
    y_true: object,
    y_pred: object,
    *,
    uncertain: UncertainPolicy = "ones",
    pred_uncertain: Literal["ones", "zeros"] | None = None,
) -> np.ndarray:
    """Example-based F1 of each sample's positive set (1.0 when both sets are empty)."""
    t = _as_matrix(y_true, "y_true", None)
    p = _as_matrix(y_pred, "y_pred", t.shape[1])
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}")
    if pred_uncertain is None:
        pred_uncertain = "zeros" if uncertain == "ignore" else uncertain  # type: ignore[assignment]
    tb, mask = binarize(t, uncertain)
    pb, _ = binarize(p, pred_uncertain, prediction=True)  # type: ignore[arg-type]
    tp = (tb & pb & mask).sum(axis=1).astype(float)
    wrong = ((tb ^ pb) & mask).sum(axis=1).astype(float)
    denom = 2 * tp + wrong
    out = np.ones(t.shape[0])
    np.divide(2 * tp, denom, out=out, where=denom > 0)
    return out
