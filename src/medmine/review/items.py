"""What there is to review in a run: one item per (task, dataset, sample), every model's answer.

An item's *predicted labels* are what a per-label precision is computed over:

============== ===================================================================
task           predicted labels
============== ===================================================================
classification the label the model chose (``(no answer)`` when it gave none)
detection      the classes of its boxes, or ``no finding`` when it drew none
segmentation,  ``found`` when it drew any geometry, ``nothing found`` otherwise
localization
diagnosis      the observations it called positive, or ``no positive finding``
report         ``report`` (the whole text is accepted or corrected)
============== ===================================================================

The reviewed model is the one named by ``--model``, else the first model (by name) that
answered the item; the other models' answers (and, for report text, the CheXpert rule
labeler's) are shown beside it, and the item is a *disagreement* when any of them differs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from medmine.run.store import RunStore

NO_ANSWER = "(no answer)"
RULE_LABELER = "chexpert rule labeler"
ANSWERED = frozenset({"ok", "repaired"})


@dataclass(frozen=True)
class Answer:
    """One model's stored answer to an item."""

    model: str
    status: str
    value: Any
    raw: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "model": self.model,
            "status": self.status,
            "value": self.value,
            "raw": self.raw,
            "detail": self.detail,
        }


@dataclass
class ReviewItem:
    """One sample of one task to review: the reviewed answer and the others."""

    task: str
    dataset: str
    sample_id: str
    answer: Answer
    others: list[Answer] = field(default_factory=list)

    @property
    def key(self) -> str:
        """A stable identity: task, dataset and sample id joined by tabs."""
        return item_key(self.task, self.dataset, self.sample_id)

    @property
    def predicted(self) -> frozenset[str]:
        """The reviewed model's labels (see the module doc)."""
        return labels_of(self.task, self.answer.value, self.answer.status)

    @property
    def disagreement(self) -> bool:
        """True when another answer's labels differ from the reviewed model's."""
        mine = self.predicted
        return any(labels_of(self.task, o.value, o.status) != mine for o in self.others)


def item_key(task: str, dataset: str, sample_id: str) -> str:
    """The key under which decisions and plan positions are stored."""
    return f"{task}\t{dataset}\t{sample_id}"


def labels_of(task: str, value: Any, status: str = "ok") -> frozenset[str]:
    """The labels an answer (a stored prediction value) gives, per the table in the module doc."""
    if status not in ANSWERED or not isinstance(value, Mapping):
        return frozenset({NO_ANSWER})
    if task == "classification":
        label = value.get("label")
        return frozenset({str(label)}) if label else frozenset({NO_ANSWER})
    if task == "detection":
        boxes = value.get("boxes") or []
        found = {str(b.get("label") or "lesion") for b in boxes if isinstance(b, Mapping)}
        return frozenset(found or {"no finding"})
    if task in ("segmentation", "localization"):
        drawn = any(value.get(k) for k in ("polygons", "boxes", "points"))
        return frozenset({"found" if drawn else "nothing found"})
    if task == "diagnosis":
        obs = value.get("observations")
        if not isinstance(obs, Mapping):
            return frozenset({NO_ANSWER})
        positive = {str(k) for k, v in obs.items() if v == 1.0 and k != "No Finding"}
        return frozenset(positive or {"no positive finding"})
    return frozenset({"report"})


def _raw(response_json: str) -> str:
    """The raw answer text (or the provider error) of a stored response."""
    resp = json.loads(response_json)
    text = resp.get("text") or ""
    if resp.get("error"):
        text = f"[provider error] {resp['error']}\n{text}".strip()
    return text


def load_items(store: RunStore, model: str | None = None) -> list[ReviewItem]:
    """Every reviewable item of a run (first repeat of each answer), in a stable order.

    Raises ValueError when ``model`` is given but answered nothing in this run.
    """
    rows = store.con.execute(
        "SELECT model, task, dataset, sample_id, response, status, prediction, detail"
        " FROM results WHERE repeat = 0 ORDER BY task, dataset, sample_id, model"
    ).fetchall()
    models = sorted({r[0] for r in rows})
    if model is not None and model not in models:
        raise ValueError(
            f"--model {model!r} answered nothing in this run (models: {', '.join(models) or '-'})"
        )
    grouped: dict[tuple[str, str, str], list[Answer]] = {}
    for m, task, ds, sid, resp, status, pred, detail in rows:
        grouped.setdefault((task, ds, sid), []).append(
            Answer(m, status, json.loads(pred), _raw(resp), detail or "")
        )
    items = []
    for (task, ds, sid), answers in grouped.items():
        chosen = next((a for a in answers if a.model == model), None) if model else answers[0]
        if chosen is None:
            continue
        others = [a for a in answers if a is not chosen]
        items.append(ReviewItem(task, ds, sid, chosen, others))
    return items


def rule_labeler_answer(text: str) -> Answer:
    """The CheXpert rule labeler's reading of a report, as one more answer to compare with."""
    from medmine.chexpert.labeler import label_report

    values = label_report(text)
    return Answer(RULE_LABELER, "ok", {"observations": values}, "(rules, no raw text)")


def label_choices(task: str, items: Sequence[ReviewItem], manifest: Mapping[str, Any]) -> list[str]:
    """The labels a reviewer can pick for a task (the mining question's, else those seen)."""
    question = manifest.get("question") or {}
    if task == "diagnosis":
        from medmine.chexpert.observations import OBSERVATIONS

        return list(OBSERVATIONS)
    asked = [str(x) for x in question.get("labels") or []]
    if asked:
        return asked
    seen: dict[str, None] = {}
    for it in items:
        if it.task != task:
            continue
        for ans in (it.answer, *it.others):
            for lab in labels_of(task, ans.value, ans.status):
                if lab != NO_ANSWER:
                    seen[lab] = None
    return sorted(seen)
