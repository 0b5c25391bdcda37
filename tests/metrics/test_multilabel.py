"""Multi-label CheXpert metrics against scikit-learn on the same binarised arrays."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support

from medmine.metrics.multilabel import (
    binarize,
    multilabel_report,
    observation_matrix,
    per_sample_f1,
)

LABELS = tuple(f"obs{i}" for i in range(6))


def _random(seed: int, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    choices = np.array([1.0, 0.0, -1.0, np.nan])
    t = rng.choice(choices, size=(n, len(LABELS)), p=[0.3, 0.3, 0.15, 0.25])
    p = rng.choice(choices, size=(n, len(LABELS)), p=[0.35, 0.3, 0.1, 0.25])
    t[:, 5] = np.where(t[:, 5] == 1.0, 0.0, t[:, 5])  # one observation without positives
    return t, p


def _sk_binary(values: np.ndarray, uncertain_positive: bool) -> np.ndarray:
    out = values == 1.0
    if uncertain_positive:
        out |= values == -1.0
    return out.astype(int)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("policy", ["ones", "zeros"])
def test_ones_and_zeros_match_sklearn(seed: int, policy: str) -> None:
    t, p = _random(seed)
    rep = multilabel_report(t, p, LABELS, uncertain=policy)  # type: ignore[arg-type]
    yt = _sk_binary(t, policy == "ones")
    yp = _sk_binary(p, policy == "ones")
    prec, rec, f1, support = precision_recall_fscore_support(yt, yp, average=None, zero_division=0)
    for j, lab in enumerate(LABELS):
        got = rep.per_label[lab]
        assert got["precision"] == pytest.approx(prec[j], abs=1e-12)
        assert got["recall"] == pytest.approx(rec[j], abs=1e-12)
        assert got["f1"] == pytest.approx(f1[j], abs=1e-12)
        assert got["support"] == support[j]
    assert rep.micro_f1 == pytest.approx(f1_score(yt, yp, average="micro", zero_division=0))
    present = [j for j in range(len(LABELS)) if yt[:, j].sum() > 0]
    assert rep.macro_labels == [LABELS[j] for j in present]
    assert "obs5" not in rep.macro_labels or policy == "ones"
    assert rep.macro_f1 == pytest.approx(
        f1_score(yt, yp, average="macro", labels=present, zero_division=0), abs=1e-12
    )
    everything = multilabel_report(t, p, LABELS, uncertain=policy, average_over="all")  # type: ignore[arg-type]
    assert everything.macro_f1 == pytest.approx(
        f1_score(yt, yp, average="macro", zero_division=0), abs=1e-12
    )
    samples = per_sample_f1(t, p, uncertain=policy)  # type: ignore[arg-type]
    assert samples.mean() == pytest.approx(
        f1_score(yt, yp, average="samples", zero_division=1), abs=1e-12
    )


@pytest.mark.parametrize("seed", [0, 3])
def test_ignore_drops_uncertain_targets_per_observation(seed: int) -> None:
    t, p = _random(seed)
    rep = multilabel_report(t, p, LABELS, uncertain="ignore")
    keep = t != -1.0
    pooled_true, pooled_pred = [], []
    f1s = []
    for j, lab in enumerate(LABELS):
        yt = (t[keep[:, j], j] == 1.0).astype(int)
        yp = (p[keep[:, j], j] == 1.0).astype(int)  # uncertain prediction -> negative
        pr, rc, f, _ = precision_recall_fscore_support(yt, yp, average="binary", zero_division=0)
        got = rep.per_label[lab]
        assert (got["precision"], got["recall"], got["f1"]) == pytest.approx((pr, rc, f))
        assert got["n"] == keep[:, j].sum()
        pooled_true.append(yt)
        pooled_pred.append(yp)
        if yt.sum() > 0:
            f1s.append(f)
    micro = f1_score(np.concatenate(pooled_true), np.concatenate(pooled_pred), zero_division=0)
    assert rep.micro_f1 == pytest.approx(micro, abs=1e-12)
    assert rep.macro_f1 == pytest.approx(np.mean(f1s), abs=1e-12)


def test_not_mentioned_is_negative_on_both_sides() -> None:
    t = np.array([[1.0, np.nan], [np.nan, 0.0]])
    p = np.array([[np.nan, 0.0], [1.0, np.nan]])
    rep = multilabel_report(t, p, ("a", "b"))
    assert rep.per_label["a"] == pytest.approx(
        {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1.0, "tp": 0.0, "fp": 1.0,
         "fn": 1.0, "n": 2.0}
    )  # fmt: skip
    assert rep.per_label["b"]["fp"] == 0.0 and rep.macro_labels == ["a"]


def test_binarize_policies() -> None:
    v = np.array([[1.0, 0.0, -1.0, np.nan]])
    assert binarize(v, "ones")[0].tolist() == [[True, False, True, False]]
    assert binarize(v, "zeros")[0].tolist() == [[True, False, False, False]]
    pos, mask = binarize(v, "ignore")
    assert pos.tolist() == [[True, False, False, False]]
    assert mask.tolist() == [[True, True, False, True]]
    assert binarize(v, "ignore", prediction=True)[1].all()


def test_observation_matrix_from_mappings() -> None:
    m = observation_matrix([{"a": 1.0, "b": None}, {"b": -1}], ("a", "b"))
    assert m[0, 0] == 1.0 and np.isnan(m[0, 1]) and np.isnan(m[1, 0]) and m[1, 1] == -1.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: multilabel_report([[2.0]], [[1.0]], ("a",)), "values must be 1, 0, -1"),
        (lambda: multilabel_report([[1.0]], [[1.0, 0.0]], ("a",)), "2 columns for 1 labels"),
        (lambda: multilabel_report([[1.0]], [[1.0]], ("a",), uncertain="half"), "policy"),  # type: ignore[arg-type]
        (lambda: multilabel_report([1.0], [1.0], ("a",)), "must be 2-D"),
        (lambda: observation_matrix([{"a": "yes"}], ("a",)), "row 0, 'a'"),
        (lambda: observation_matrix([{"a": 0.5}], ("a",)), "row 0, 'a'"),
    ],
)
def test_bad_input_is_a_clear_error(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
