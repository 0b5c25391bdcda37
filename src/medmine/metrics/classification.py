"""Classification metrics (pure numpy), matching scikit-learn's definitions.

Predictions that could not be read (unparseable, refused, provider error, several labels
named) are passed as ``None`` and count as wrong: they are never dropped. Internally they
become a label outside the label set, which is what scikit-learn would see for the same data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

INVALID = "<no valid answer>"


@dataclass
class ClassificationReport:
    """All classification figures for one model on one dataset."""

    labels: list[str]
    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    cohen_kappa: float
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]  # rows: true label, columns: labels + [INVALID]
    auroc: float | None


def _encode(values: Sequence[str | None], index: Mapping[str, int]) -> np.ndarray:
    invalid = len(index)
    return np.fromiter(
        (index.get(v, invalid) if v is not None else invalid for v in values),
        dtype=np.int64,
        count=len(values),
    )


def confusion_matrix(
    y_true: Sequence[str], y_pred: Sequence[str | None], labels: Sequence[str]
) -> np.ndarray:
    """Counts C[i, j] of samples with true label i predicted as j; column len(labels) = invalid."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items but y_pred has {len(y_pred)}")
    t, p = encode(y_true, y_pred, labels)
    k = len(labels) + 1
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)[: len(labels)]


def encode(
    y_true: Sequence[str], y_pred: Sequence[str | None], labels: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of true and predicted labels; ``len(labels)`` marks an invalid answer."""
    index = {lab: i for i, lab in enumerate(labels)}
    unknown = sorted({t for t in y_true if t not in index})
    if unknown:
        raise ValueError(f"true labels not in the label set: {unknown}")
    return _encode(y_true, index), _encode(y_pred, index)


def macro_f1_codes(t: np.ndarray, p: np.ndarray, k: int) -> float:
    """Macro-F1 from integer codes (as in :func:`classification_report`), for resampling."""
    cm = np.bincount(t * (k + 1) + p, minlength=(k + 1) * (k + 1)).reshape(k + 1, k + 1)[:k]
    tp = np.diag(cm[:, :k]).astype(float)
    support = cm.sum(axis=1).astype(float)
    predicted = cm[:, :k].sum(axis=0).astype(float)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    used = (support > 0) | (predicted > 0)
    return float(f1[used].mean()) if used.any() else 0.0


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros_like(a, dtype=float)
    np.divide(a, b, out=out, where=b > 0)
    return out


def classification_report(
    y_true: Sequence[str],
    y_pred: Sequence[str | None],
    labels: Sequence[str],
    probabilities: Sequence[Mapping[str, float] | None] | None = None,
) -> ClassificationReport:
    """Accuracy, balanced accuracy, macro-F1, Cohen's kappa, per-class P/R/F1, confusion, AUROC.

    - accuracy = mean(pred == true), invalid answers counted wrong;
    - balanced accuracy = mean recall over the classes present in ``y_true``;
    - macro-F1 = mean F1 over the classes that occur in ``y_true`` or among valid predictions
      (scikit-learn's default label set, without the invalid marker), zero where undefined;
    - Cohen's kappa treats "no valid answer" as one more category, as scikit-learn would;
    - AUROC (one-vs-rest, macro over classes present with both outcomes) only when every sample
      has probabilities; otherwise None.
    """
    labels = list(labels)
    cm = confusion_matrix(y_true, y_pred, labels)
    n = int(cm.sum())
    if n == 0:
        raise ValueError("no samples to score")
    k = len(labels)
    tp = np.diag(cm[:, :k]).astype(float)
    support = cm.sum(axis=1).astype(float)
    predicted = cm[:, :k].sum(axis=0).astype(float)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * precision * recall, precision + recall)

    present = support > 0
    in_default = present | (predicted > 0)
    accuracy = float(tp.sum() / n)
    balanced = float(recall[present].mean())
    macro_f1 = float(f1[in_default].mean()) if in_default.any() else 0.0

    # Cohen's kappa over the (k+1)-category table (square: add an all-zero "invalid" row).
    full = np.vstack([cm, np.zeros((1, k + 1), dtype=cm.dtype)]).astype(float)
    po = np.trace(full) / n
    pe = float((full.sum(axis=1) * full.sum(axis=0)).sum()) / (n * n)
    kappa = float((po - pe) / (1 - pe)) if pe < 1 else float("nan")

    per_class = {
        lab: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": float(support[i]),
        }
        for i, lab in enumerate(labels)
    }
    auroc = None
    if (
        probabilities is not None
        and len(probabilities) == len(y_true)
        and all(p is not None for p in probabilities)
    ):
        auroc = macro_auroc(y_true, probabilities, labels)  # type: ignore[arg-type]
    return ClassificationReport(
        labels, accuracy, balanced, macro_f1, kappa, per_class, cm.tolist(), auroc
    )


def binary_auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of scores for a binary outcome (Mann-Whitney U, ties = 1/2)."""
    y = np.asarray(y, dtype=bool)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs both positive and negative samples")
    from scipy.stats import rankdata  # deferred: scipy.stats costs ~1 s of CLI start-up

    ranks = rankdata(np.asarray(score, dtype=float))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def macro_auroc(
    y_true: Sequence[str], probabilities: Sequence[Mapping[str, float]], labels: Sequence[str]
) -> float | None:
    """One-vs-rest AUROC averaged over classes present in y_true (binary: the positive class).

    With two labels this is the usual binary AUROC of the second label's probability; missing
    probabilities for a label count as 0. Returns None when fewer than two classes occur.
    """
    labels = list(labels)
    scores = np.array([[float(p.get(lab, 0.0)) for lab in labels] for p in probabilities])
    truth = np.array(y_true)
    present = [i for i, lab in enumerate(labels) if (truth == lab).any()]
    if len(present) < 2:
        return None
    if len(labels) == 2:
        return binary_auroc(truth == labels[1], scores[:, 1])
    return float(np.mean([binary_auroc(truth == labels[i], scores[:, i]) for i in present]))
