"""Scoring visual question answering by the protocols the field publishes.

Per question (``rule`` from :class:`~medmine.datasets.readers.vqa_common.VqaTarget`):

- **yes_no** (closed questions answered yes/no; VQA-RAD, SLAKE, PathVQA): the answer is
  normalised to yes/no (:func:`~medmine.tasks.vqa_read.read_yes_no`) and compared with the
  reference; ``correct`` is 1 or 0. This is the closed-question accuracy of LLaVA-Med and
  MedEvalKit, with the normalisation written down instead of a substring test.
- **closed** (closed questions whose answer is one named alternative, "CT or MRI?"): correct
  when the normalised reference appears in the normalised answer as a whole phrase (the
  closed rule of LLaVA-Med's evaluation script).
- **choice** (multiple choice: PMC-VQA, OmniMedVQA, GMAI-MMBench, MedXpertQA): the option
  letter read by :func:`~medmine.tasks.vqa_read.read_choice` equals the reference letter
  (VLMEvalKit's exact-matching mode, without its "guess a letter" fallbacks).
- **open**: ``exact`` = normalised exact match (SQuAD normalisation: lower case, punctuation
  and articles removed, whitespace collapsed); ``recall`` = share of the reference's tokens
  found in the answer (LLaVA-Med's open-question recall); ``f1`` = token-overlap F1 (SQuAD).

Per-sample ``score`` is ``correct`` for closed and choice questions and ``exact`` for open
ones; the headline ``accuracy`` is its mean over all questions. Failed answers (refused,
unparseable, truncated, provider error) score 0 everywhere and are counted in the failure
rates next to every figure. Breakdowns by scoring rule, by the dataset's answer type, by
modality and by question type are in ``tables``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from medmine.core import Prediction, Sample, TaskKind
from medmine.datasets.readers.vqa_common import VqaTarget
from medmine.metrics.bootstrap import mean_ci

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PUNCT = re.compile(r"[^\w\s]")


def normalize_answer(text: str) -> str:
    """SQuAD answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = _PUNCT.sub(" ", text.lower())
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    """The normalised answer's tokens."""
    return normalize_answer(text).split()


def token_recall(prediction: str, reference: str) -> float:
    """Share of the reference's distinct tokens present in the prediction (0 for no tokens)."""
    ref = set(tokens(reference))
    if not ref:
        return 0.0
    return len(ref & set(tokens(prediction))) / len(ref)


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1: harmonic mean of token precision and recall over token multisets."""
    p, r = tokens(prediction), tokens(reference)
    common = Counter(p) & Counter(r)
    same = sum(common.values())
    if not p or not r or same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(r)
    return 2 * precision * recall / (precision + recall)


def contains_phrase(prediction: str, reference: str) -> bool:
    """Whether the normalised reference occurs in the normalised prediction as whole words."""
    ref = normalize_answer(reference)
    return bool(ref) and f" {ref} " in f" {normalize_answer(prediction)} "


def sample_scores(target: VqaTarget, pred: Prediction) -> dict[str, float]:
    """One question's scores (see the module docstring); a failed answer scores 0."""
    rule = target.rule
    value = pred.value.get("answer") if pred.usable and isinstance(pred.value, dict) else None
    if rule == "open":
        if value is None:
            return {"score": 0.0, "exact": 0.0, "recall": 0.0, "f1": 0.0}
        text = str(value)
        exact = float(normalize_answer(text) == normalize_answer(target.answer))
        return {
            "score": exact,
            "exact": exact,
            "recall": token_recall(text, target.answer),
            "f1": token_f1(text, target.answer),
        }
    if value is None:
        return {"score": 0.0, "correct": 0.0}
    if rule == "choice":
        ok = str(value) == target.letter
    elif rule == "yes_no":
        ok = str(value) == normalize_answer(target.answer)
    else:
        ok = contains_phrase(str(value), target.answer)
    return {"score": float(ok), "correct": float(ok)}


def _mean(values: Iterable[float]) -> float:
    vals = list(values)
    return float(np.mean(vals)) if vals else float("nan")


def _group_table(
    groups: Mapping[str, list[int]], rows: Sequence[dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Per group: n, accuracy (mean score) and, where there are open questions, recall/F1."""
    out: dict[str, dict[str, float]] = {}
    for name, idx in sorted(groups.items()):
        cell = {"n": float(len(idx)), "accuracy": _mean(rows[i]["score"] for i in idx)}
        open_idx = [i for i in idx if "recall" in rows[i]]
        if open_idx:
            cell["open_recall"] = _mean(rows[i]["recall"] for i in open_idx)
            cell["open_f1"] = _mean(rows[i]["f1"] for i in open_idx)
        out[name] = cell
    return out


def aggregate(
    predictions: Sequence[Prediction], samples: Sequence[Sample]
) -> tuple[dict[str, float], dict[str, dict[str, float]], dict[str, object]]:
    """Metrics, per-sample scores and breakdown tables of one (model, dataset) pair."""
    rows: list[dict[str, float]] = []
    by: dict[str, dict[str, list[int]]] = {
        "by_rule": defaultdict(list),
        "by_answer_type": defaultdict(list),
        "by_modality": defaultdict(list),
        "by_question_type": defaultdict(list),
        "by_category": defaultdict(list),
    }
    for i, (s, p) in enumerate(zip(samples, predictions, strict=True)):
        t = s.target(TaskKind.VQA)
        if not isinstance(t, VqaTarget):
            raise ValueError(f"sample {s.id} has no vqa target")
        rows.append(sample_scores(t, p))
        by["by_rule"][t.rule].append(i)
        by["by_answer_type"][t.answer_type].append(i)
        by["by_modality"][t.modality or "(none)"].append(i)
        by["by_question_type"][t.question_type or "(none)"].append(i)
        by["by_category"][s.category or "(none)"].append(i)
    metrics: dict[str, float] = {"accuracy": _mean(r["score"] for r in rows)}
    for rule, key in (("yes_no", "yes_no_accuracy"), ("choice", "choice_accuracy")):
        idx = by["by_rule"].get(rule, [])
        if idx:
            metrics[key] = _mean(rows[i]["score"] for i in idx)
    closed = [i for rule in ("yes_no", "closed") for i in by["by_rule"].get(rule, [])]
    if closed:
        metrics["closed_accuracy"] = _mean(rows[i]["score"] for i in closed)
    open_idx = by["by_rule"].get("open", [])
    if open_idx:
        metrics["open_exact"] = _mean(rows[i]["exact"] for i in open_idx)
        metrics["open_recall"] = _mean(rows[i]["recall"] for i in open_idx)
        metrics["open_f1"] = _mean(rows[i]["f1"] for i in open_idx)
    if len(rows) >= 2:
        groups = [s.patient_id or s.id for s in samples]
        lo, hi = mean_ci([r["score"] for r in rows], groups=groups)
        metrics["accuracy_ci_low"], metrics["accuracy_ci_high"] = lo, hi
        if len(open_idx) >= 2:
            lo, hi = mean_ci(
                [rows[i]["recall"] for i in open_idx], groups=[groups[i] for i in open_idx]
            )
            metrics["open_recall_ci_low"], metrics["open_recall_ci_high"] = lo, hi
    per_sample = {s.id: rows[i] for i, s in enumerate(samples)}
    tables: dict[str, object] = {name: _group_table(g, rows) for name, g in by.items()}
    return metrics, per_sample, tables
