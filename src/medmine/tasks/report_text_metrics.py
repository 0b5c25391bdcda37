"""Report-generation text metrics: corpus BLEU-1..4 / ROUGE-L / CIDEr-D on PTB tokens,
METEOR through the Java scorer, and rule-labeler clinical efficacy (CE)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medmine.chexpert import OBSERVATIONS, label_report
from medmine.metrics.multilabel import multilabel_report, observation_matrix, per_sample_f1
from medmine.metrics.nlg import bleu, cider_d, rouge_l


def nlg_scores(
    ids: Sequence[str], ref_tokens: Sequence[list[str]], hyp_tokens: Sequence[list[str]]
) -> dict[str, object]:
    """BLEU-1..4, ROUGE-L, CIDEr-D on PTB tokens (one reference per sample), with per-sample.

    Tokens are re-joined and split the way pycocoevalcap splits its tokenised strings (BLEU
    and CIDEr on any whitespace, ROUGE-L on single spaces), so the numbers equal it.
    """
    ref_str = {k: " ".join(r) for k, r in zip(ids, ref_tokens, strict=True)}
    hyp_str = {k: " ".join(h) for k, h in zip(ids, hyp_tokens, strict=True)}
    ref_ws = {k: [v.split()] for k, v in ref_str.items()}
    hyp_ws = {k: v.split() for k, v in hyp_str.items()}
    b, b_per = bleu(ref_ws, hyp_ws, 4)
    r, r_per = rouge_l({k: [v.split(" ")] for k, v in ref_str.items()},
                       {k: v.split(" ") for k, v in hyp_str.items()})  # fmt: skip
    c, c_per = cider_d(ref_ws, hyp_ws)
    per: dict[str, np.ndarray] = {f"bleu_{k + 1}": np.array(b_per[k]) for k in range(4)}
    per["rouge_l"] = r_per
    per["cider_d"] = c_per
    out: dict[str, object] = {f"bleu_{k + 1}": float(b[k]) for k in range(4)}
    out.update({"rouge_l": float(r), "cider_d": float(c), "per_sample": per})
    return out


def _bleu4_resample(
    idx: np.ndarray, ref_tok: Sequence[list[str]], hyp_tok: Sequence[list[str]]
) -> float:
    """Corpus BLEU-4 of one bootstrap resample (duplicated samples get distinct keys)."""
    refs = {f"{j}:{i}": [ref_tok[i]] for j, i in enumerate(idx)}
    hyps = {f"{j}:{i}": hyp_tok[i] for j, i in enumerate(idx)}
    return float(bleu(refs, hyps, 4)[0][3])


def _meteor(
    ids: Sequence[str],
    ref_tok: Sequence[list[str]],
    hyp_tok: Sequence[list[str]],
    metrics: dict[str, float],
) -> tuple[list[float] | None, str]:
    """Corpus METEOR into ``metrics`` and the per-sample scores, or (None, reason)."""
    from medmine.metrics.meteor import MeteorScorer, MeteorUnavailable

    scorer = MeteorScorer()
    ok, reason = scorer.is_available()
    if not ok:
        return None, reason
    refs = {k: [r] for k, r in zip(ids, ref_tok, strict=True)}
    hyps = dict(zip(ids, hyp_tok, strict=True))
    try:
        with scorer:
            corpus, per = scorer.score(refs, hyps)
    except (MeteorUnavailable, OSError, ValueError) as exc:
        return None, str(exc)
    metrics["meteor"] = corpus
    return per, "ok"


def clinical_efficacy(refs: Sequence[str], hyps: Sequence[str]) -> dict[str, object]:
    """CE precision/recall/F1 of the 14 CheXpert observations: generated vs reference text.

    Both sides are labelled by the rule-based CheXpert labeler; uncertain -> positive, not
    mentioned -> negative. An empty text is labelled as all not mentioned.
    """
    ref_lab = [_labels(t) for t in refs]
    hyp_lab = [_labels(t) for t in hyps]
    y_true = observation_matrix(ref_lab, OBSERVATIONS)
    y_pred = observation_matrix(hyp_lab, OBSERVATIONS)
    rep = multilabel_report(y_true, y_pred, OBSERVATIONS, uncertain="ones", pred_uncertain="ones")
    return {
        "ce_micro_precision": rep.micro_precision,
        "ce_micro_recall": rep.micro_recall,
        "ce_micro_f1": rep.micro_f1,
        "ce_macro_precision": rep.macro_precision,
        "ce_macro_recall": rep.macro_recall,
        "ce_macro_f1": rep.macro_f1,
        "per_observation": rep.per_label,
        "macro_labels": rep.macro_labels,
        "per_sample_f1": per_sample_f1(y_true, y_pred, uncertain="ones", pred_uncertain="ones"),
    }


def _labels(text: str) -> dict[str, float | None]:
    return label_report(text) if text.strip() else dict.fromkeys(OBSERVATIONS)
