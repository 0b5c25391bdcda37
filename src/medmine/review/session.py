"""One review of one run: its items, plan, decisions and precision, behind plain methods.

The web app (:mod:`medmine.review.app`) and the export call these; nothing here knows HTTP.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from medmine.review.items import (
    ReviewItem,
    label_choices,
    labels_of,
    load_items,
    rule_labeler_answer,
)
from medmine.review.media import Media, MediaFinder, image_size
from medmine.review.plan import PlanSpec, draw_plan
from medmine.review.precision import LabelPrecision, precision_table
from medmine.review.store import Decision, PlanRow, ReviewStore
from medmine.run.store import RunStore


class ReviewError(ValueError):
    """A request the review cannot honour (unknown item, bad decision): the message says why."""


class ReviewSession:
    """The state of a review, read from and written to ``RUN_DIR/run.sqlite``."""

    def __init__(
        self,
        run_dir: Path,
        *,
        reviewer: str,
        model: str | None = None,
        spec: PlanSpec | None = None,
        replan: bool = False,
        keep_plan: bool = False,
        data_root: Path | None = None,
    ) -> None:
        run_dir = Path(run_dir)
        if not (run_dir / RunStore.FILENAME).is_file():
            raise ReviewError(f"{run_dir}: no {RunStore.FILENAME} here; is it a run directory?")
        if not reviewer.strip():
            raise ReviewError("--reviewer must name who reviews (it is saved with each decision)")
        self.run_dir = run_dir
        self.reviewer = reviewer.strip()
        self.lock = threading.Lock()
        self.runs = RunStore(run_dir)
        self.store = ReviewStore(self.runs.con)
        self.manifest = self.runs.manifest()
        self.items = {it.key: it for it in load_items(self.runs, model)}
        if not self.items:
            raise ReviewError(f"{run_dir}: the run holds no answer to review")
        self.finder = MediaFinder(run_dir, self.manifest, data_root)
        self.plan = self._plan(spec or PlanSpec(), replan, keep_plan)
        self.notes: list[str] = []

    def close(self) -> None:
        """Close the database."""
        self.runs.close()

    # -- plan -------------------------------------------------------------------------------
    def _plan(self, spec: PlanSpec, replan: bool, keep: bool) -> list[PlanRow]:
        """The stored plan (resume), or a new one; ``keep`` takes the stored one as it is."""
        stored = self.store.plan()
        params = self.store.plan_params()
        if stored and not replan:
            if params != spec.params() and not keep:
                raise ReviewError(
                    f"this run already has a review plan drawn with {params}; you asked for "
                    f"{spec.params()}. Drop the options to resume it, or pass --replan to draw "
                    "a new plan (decisions already made are kept)"
                )
            missing = [r.item for r in stored if r.item not in self.items]
            if missing:
                raise ReviewError(
                    f"the stored review plan names {len(missing)} item(s) this run no longer "
                    f"holds (first: {missing[0]!r}); pass --replan"
                )
            return stored
        rows = draw_plan(list(self.items.values()), spec)
        self.store.save_plan(rows, spec.params())
        return rows

    def resume_position(self) -> int:
        """The first planned item without a decision (the plan's length when all are done)."""
        decided = self.store.decisions()
        return next((r.position for r in self.plan if r.item not in decided), len(self.plan))

    # -- reading ----------------------------------------------------------------------------
    def row(self, position: int) -> PlanRow:
        """The plan row at a position (ReviewError when out of range)."""
        if not 0 <= position < len(self.plan):
            raise ReviewError(f"position {position} is outside the plan (0..{len(self.plan) - 1})")
        return self.plan[position]

    def media(self, position: int) -> tuple[ReviewItem, Media]:
        """The item at a position and where its inputs are."""
        item = self.items[self.row(position).item]
        return item, self.finder.find(item.dataset, item.sample_id)

    def item_payload(self, position: int) -> dict[str, Any]:
        """Everything the page shows for one item (JSON-ready)."""
        row = self.row(position)
        item, media = self.media(position)
        others = list(item.others)
        if media.text and item.task == "diagnosis":
            others.append(rule_labeler_answer(media.text))
        with self.lock:
            decision = self.store.decisions().get(item.key)
        size = None
        if media.image is not None and media.image.is_file():
            try:
                size = image_size(media.image)
            except OSError as exc:
                media.missing = f"{media.image}: cannot read image ({exc})"
        choices = list(media.labels) or label_choices(
            item.task, list(self.items.values()), self.manifest
        )
        mine = item.predicted
        return {
            "position": position,
            "total": len(self.plan),
            "key": item.key,
            "task": item.task,
            "dataset": item.dataset,
            "sample_id": item.sample_id,
            "stratum": row.stratum,
            "disagreement": any(labels_of(item.task, o.value, o.status) != mine for o in others),
            "has_image": size is not None,
            "image_size": size,
            "text": media.text,
            "highlights": phrase_spans(media.text) if media.text else [],
            "missing": media.missing,
            "answer": item.answer.as_dict(),
            "predicted": sorted(mine),
            "others": [
                {**o.as_dict(), "labels": sorted(labels_of(item.task, o.value, o.status))}
                for o in others
            ],
            "choices": choices,
            "decision": _decision_dict(decision),
        }

    def decisions(self) -> dict[str, Decision]:
        """Item -> current decision."""
        with self.lock:
            return self.store.decisions()

    def precision(self) -> list[LabelPrecision]:
        """Per-label precision of the reviewed model over the decisions so far."""
        decisions = self.decisions()
        predicted = {k: it.predicted for k, it in self.items.items()}
        reviewed: dict[str, frozenset[str] | None] = {}
        for key, d in decisions.items():
            item = self.items.get(key)
            if item is None:
                continue
            reviewed[key] = reviewed_labels(item, d)
        return precision_table(predicted, reviewed)

    def state(self) -> dict[str, Any]:
        """The review's progress and precision table (JSON-ready)."""
        decisions = self.decisions()
        planned = {r.item for r in self.plan}
        return {
            "run": str(self.run_dir),
            "reviewer": self.reviewer,
            "total": len(self.plan),
            "items_in_run": len(self.items),
            "decided": sum(1 for k in decisions if k in planned),
            "resume": self.resume_position(),
            "precision": [p.as_dict() for p in self.precision()],
            "params": self.store.plan_params(),
        }

    # -- writing ----------------------------------------------------------------------------
    def decide(self, position: int, action: str, value: Any = None) -> Decision:
        """Record a decision on the item at ``position``; a correction must carry its value."""
        item = self.items[self.row(position).item]
        if action == "accept":
            value = item.answer.value
        elif action == "unreadable":
            value = None
        elif action == "correct":
            value = check_correction(item, value)
        with self.lock:
            try:
                return self.store.decide(item.key, item.answer.model, action, value, self.reviewer)
            except ValueError as exc:
                raise ReviewError(str(exc)) from None


def reviewed_labels(item: ReviewItem, decision: Decision) -> frozenset[str] | None:
    """The labels the reviewer kept (None: flagged unreadable)."""
    if decision.action == "unreadable":
        return None
    if decision.action == "accept":
        return item.predicted
    return labels_of(item.task, decision.value, "ok")


def check_correction(item: ReviewItem, value: Any) -> dict[str, Any]:
    """Validate a corrected value for the item's task (ReviewError naming what is wrong)."""
    if not isinstance(value, dict):
        raise ReviewError(f"{item.sample_id}: a correction needs a value object, got {value!r}")
    task = item.task
    if task == "classification":
        if not isinstance(value.get("label"), str) or not value["label"]:
            raise ReviewError(f"{item.sample_id}: a corrected classification needs a label")
        return {"label": value["label"]}
    if task == "diagnosis":
        obs = value.get("observations")
        if not isinstance(obs, dict) or any(v not in (1.0, 0.0, -1.0, None) for v in obs.values()):
            raise ReviewError(
                f"{item.sample_id}: corrected observations must map names to 1, 0, -1 or null"
            )
        return {"observations": obs}
    if task in ("detection", "segmentation", "localization"):
        out: dict[str, Any] = {}
        for key in ("boxes", "polygons", "points"):
            out[key] = value.get(key) or []
        for b in out["boxes"]:
            box = b.get("box") if isinstance(b, dict) else None
            if not (
                isinstance(box, list) and len(box) == 4 and box[0] < box[2] and box[1] < box[3]
            ):
                raise ReviewError(
                    f"{item.sample_id}: a box must be [x0, y0, x1, y1] with x0<x1, y0<y1"
                )
        size = item.answer.value.get("image_size") if isinstance(item.answer.value, dict) else None
        if size:
            out["image_size"] = size
        return out
    if not isinstance(value.get("text"), str):
        raise ReviewError(f"{item.sample_id}: a corrected report needs its text")
    return {"text": value["text"]}


def _decision_dict(d: Decision | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"action": d.action, "value": d.value, "reviewer": d.reviewer, "when": d.when}


def phrase_spans(text: str) -> list[dict[str, Any]]:
    """Where the rule labeler's mention phrases occur in the original text (for highlighting).

    The labeler matches on a lower-cased, re-spaced copy, so each matched phrase is found again
    in the original text case-insensitively with any whitespace between its words.
    """
    from medmine.chexpert.labeler import clean_report, extract_mentions, split_sentences

    mentions = extract_mentions(split_sentences(clean_report(text)))
    spans: list[dict[str, Any]] = []
    taken: list[tuple[int, int]] = []
    # Longer phrases first ("pleural thickening" before "thickening"); a phrase may be a stem
    # ("atelecta"), so the match runs on to the end of its last word.
    for m in sorted(mentions, key=lambda m: -len(m.text.strip())):
        words = [re.escape(w) for w in m.text.split()]
        if not words:
            continue
        pattern = re.compile(r"\b" + r"\s+".join(words) + r"\w*", re.IGNORECASE)
        for hit in pattern.finditer(text):
            s, e = hit.span()
            if any(s < te and e > ts for ts, te in taken):
                continue
            taken.append((s, e))
            spans.append({"start": s, "end": e, "observation": m.observation})
    return sorted(spans, key=lambda x: x["start"])
