"""Classification metrics against scikit-learn on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest

sk = pytest.importorskip("sklearn.metrics")

from medmine.metrics.classification import (  # noqa: E402
    INVALID,
    binary_auroc,
    classification_report,
    confusion_matrix,
    macro_auroc,
)

LABELS = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]


def _random_case(seed: int, n: int = 200, invalid_share: float = 0.1):
    rng = np.random.default_rng(seed)
    y_true = list(rng.choice(LABELS, n, p=[0.05, 0.1, 0.1, 0.05, 0.2, 0.45, 0.05]))
    y_pred: list[str | None] = []
    for t in y_true:
        r = rng.random()
        if r < invalid_share:
            y_pred.append(None)
        elif r < 0.6:
            y_pred.append(t)
        else:
            y_pred.append(str(rng.choice(LABELS)))
    return y_true, y_pred


@pytest.mark.parametrize("seed", range(5))
def test_matches_sklearn_with_invalid_answers(seed: int) -> None:
    y_true, y_pred = _random_case(seed)
    rep = classification_report(y_true, y_pred, LABELS)
    sk_pred = [p if p is not None else INVALID for p in y_pred]
    assert rep.accuracy == pytest.approx(sk.accuracy_score(y_true, sk_pred), abs=1e-12)
    with pytest.warns(UserWarning):  # sklearn warns that y_pred has a class not in y_true
        bal = sk.balanced_accuracy_score(y_true, sk_pred)
    assert rep.balanced_accuracy == pytest.approx(bal, abs=1e-12)
    present = sorted(set(y_true) | {p for p in y_pred if p is not None})
    f1 = sk.f1_score(y_true, sk_pred, labels=present, average="macro", zero_division=0)
    assert rep.macro_f1 == pytest.approx(f1, abs=1e-12)
    assert rep.cohen_kappa == pytest.approx(sk.cohen_kappa_score(y_true, sk_pred), abs=1e-12)
    p, r, f, s = sk.precision_recall_fscore_support(y_true, sk_pred, labels=LABELS, zero_division=0)
    for i, lab in enumerate(LABELS):
        assert rep.per_class[lab]["precision"] == pytest.approx(p[i], abs=1e-12)
        assert rep.per_class[lab]["recall"] == pytest.approx(r[i], abs=1e-12)
        assert rep.per_class[lab]["f1"] == pytest.approx(f[i], abs=1e-12)
        assert rep.per_class[lab]["support"] == s[i]
    cm = sk.confusion_matrix(y_true, sk_pred, labels=[*LABELS, INVALID])
    assert np.array_equal(np.array(rep.confusion), cm[: len(LABELS)])


def test_invalid_answers_count_as_wrong_not_dropped() -> None:
    rep = classification_report(["a", "a", "b", "b"], ["a", None, "b", None], ["a", "b"])
    assert rep.accuracy == 0.5
    assert rep.confusion == [[1, 0, 1], [0, 1, 1]]


def test_binary_auroc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(3)
    y = rng.random(300) < 0.3
    score = np.round(rng.random(300) + 0.3 * y, 1)  # rounding creates ties
    assert binary_auroc(y, score) == pytest.approx(sk.roc_auc_score(y, score), abs=1e-12)


def test_multiclass_auroc_matches_sklearn_ovr_macro() -> None:
    rng = np.random.default_rng(4)
    labels = ["x", "y", "z"]
    y_true = list(rng.choice(labels, 150))
    raw = rng.random((150, 3)) + np.array([[lab == c for c in labels] for lab in y_true]) * 0.5
    probs = raw / raw.sum(1, keepdims=True)
    dicts = [dict(zip(labels, row, strict=True)) for row in probs]
    ours = macro_auroc(y_true, dicts, labels)
    ref = sk.roc_auc_score(y_true, probs, multi_class="ovr", average="macro", labels=labels)
    assert ours == pytest.approx(ref, abs=1e-12)


def test_binary_auroc_uses_second_label_probability() -> None:
    y_true = ["normal", "pneumonia", "pneumonia", "normal"]
    probs = [{"pneumonia": 0.1}, {"pneumonia": 0.8}, {"pneumonia": 0.4}, {"pneumonia": 0.5}]
    ref = sk.roc_auc_score([0, 1, 1, 0], [0.1, 0.8, 0.4, 0.5])
    assert macro_auroc(y_true, probs, ["normal", "pneumonia"]) == pytest.approx(ref)


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="not in the label set"):
        confusion_matrix(["a", "q"], ["a", "a"], ["a", "b"])
    with pytest.raises(ValueError, match="3 items but y_pred has 2"):
        confusion_matrix(["a", "a", "b"], ["a", "a"], ["a", "b"])
