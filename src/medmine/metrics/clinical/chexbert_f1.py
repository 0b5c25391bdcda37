"""CheXbert-labeler F1: the 14 CheXpert observations of generated vs reference reports.

CheXbert (Smit et al., EMNLP 2020) has 14 classification heads on BERT's [CLS] vector: 13
with four classes (0 blank, 1 positive, 2 negative, 3 uncertain) and "No Finding" with two
(0 blank, 1 positive). :func:`decode_heads` turns the heads' logits into CheXpert values
(1, 0, -1, NaN), in the head order :data:`CHEXBERT_CONDITIONS`.

F1 follows the convention of the f1chexbert scorer most report-generation papers cite
(Miura et al., 2021; ``mode="rrg"``): an observation counts as present only when labelled
**positive** (uncertain, negative and blank are absent), on both sides. Micro figures pool
TP/FP/FN over the observations; macro figures average the per-observation figures over
**all** observations of the set, 0 when undefined (scikit-learn ``zero_division=0``). Both are
reported over the 14 observations and over the 5 the literature reports (atelectasis,
cardiomegaly, consolidation, edema, pleural effusion).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: The heads of the CheXbert checkpoint, in order (stanfordmlgroup/CheXbert src/constants.py).
CHEXBERT_CONDITIONS: tuple[str, ...] = (
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
    "No Finding",
)
#: The five observations report-generation papers report CheXbert F1 on.
FIVE_CONDITIONS: tuple[str, ...] = (
    "Atelectasis",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Pleural Effusion",
)
# class index -> CheXpert value, for the 4-class heads and the 2-class No Finding head
_FOUR = np.array([np.nan, 1.0, 0.0, -1.0])
_TWO = np.array([np.nan, 1.0])


def decode_heads(logits: Sequence[np.ndarray]) -> np.ndarray:
    """An (n, 14) array of CheXpert values from the 14 heads' logits (each (n, 4) or (n, 2))."""
    if len(logits) != len(CHEXBERT_CONDITIONS):
        raise ValueError(f"expected {len(CHEXBERT_CONDITIONS)} heads, got {len(logits)}")
    cols = []
    for i, head in enumerate(logits):
        arr = np.asarray(head, dtype=float)
        want = 2 if i == len(CHEXBERT_CONDITIONS) - 1 else 4
        if arr.ndim != 2 or arr.shape[1] != want:
            raise ValueError(
                f"head {i} ({CHEXBERT_CONDITIONS[i]}): expected (n, {want}) logits, got {arr.shape}"
            )
        table = _TWO if want == 2 else _FOUR
        cols.append(table[arr.argmax(axis=1)])
    return np.stack(cols, axis=1)


def positive(values: np.ndarray) -> np.ndarray:
    """The present/absent matrix: True only where the label is positive (1)."""
    return np.nan_to_num(np.asarray(values, dtype=float), nan=0.0) == 1.0


def _prf(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> tuple[np.ndarray, ...]:
    def div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = np.zeros_like(a, dtype=float)
        np.divide(a, b, out=out, where=b > 0)
        return out

    return div(tp, tp + fp), div(tp, tp + fn), div(2 * tp, 2 * tp + fp + fn)


def chexbert_f1(ref_values: np.ndarray, hyp_values: np.ndarray) -> dict[str, object]:
    """Micro and macro precision/recall/F1 over the 14 and the 5 observations, and per sample.

    ``ref_values`` and ``hyp_values`` are (n, 14) CheXpert value arrays in
    :data:`CHEXBERT_CONDITIONS` order. Keys: ``chexbert_{micro,macro}_{precision,recall,f1}``
    and ``chexbert_5_...``; ``per_observation`` (f1 and support of each of the 14) and
    ``per_sample_f1`` (each report's F1 of its positive set over 14, 1.0 when both are empty).
    """
    t = positive(ref_values)
    p = positive(hyp_values)
    if t.shape != p.shape or t.ndim != 2 or t.shape[1] != len(CHEXBERT_CONDITIONS):
        raise ValueError(f"expected two (n, 14) label arrays, got {t.shape} and {p.shape}")
    out: dict[str, object] = {}
    five = [CHEXBERT_CONDITIONS.index(c) for c in FIVE_CONDITIONS]
    for prefix, cols in (("chexbert", list(range(14))), ("chexbert_5", five)):
        tt, pp = t[:, cols], p[:, cols]
        tp = (tt & pp).sum(axis=0).astype(float)
        fp = (~tt & pp).sum(axis=0).astype(float)
        fn = (tt & ~pp).sum(axis=0).astype(float)
        mp, mr, mf = _prf(tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True))
        pl, rl, fl = _prf(tp, fp, fn)
        out[f"{prefix}_micro_precision"] = float(mp[0])
        out[f"{prefix}_micro_recall"] = float(mr[0])
        out[f"{prefix}_micro_f1"] = float(mf[0])
        out[f"{prefix}_macro_precision"] = float(pl.mean())
        out[f"{prefix}_macro_recall"] = float(rl.mean())
        out[f"{prefix}_macro_f1"] = float(fl.mean())
        if prefix == "chexbert":
            out["per_observation"] = {
                c: {"f1": float(fl[i]), "support": int(tt[:, i].sum())}
                for i, c in enumerate(CHEXBERT_CONDITIONS)
            }
    tp_s = (t & p).sum(axis=1).astype(float)
    wrong = (t ^ p).sum(axis=1).astype(float)
    per = np.ones(t.shape[0])
    np.divide(2 * tp_s, 2 * tp_s + wrong, out=per, where=(2 * tp_s + wrong) > 0)
    out["per_sample_f1"] = per
    return out
