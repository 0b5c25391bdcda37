"""RadGraph F1 (Jain et al., 2021; Delbrouck et al., 2022) from two annotated reports.

An annotation is RadGraph's JSON: ``{"entities": {id: {"tokens", "label", "relations":
[[relation, target_id], ...]}}}``. Three levels, each an F1 of two sets (precision over the
candidate's set, recall over the reference's):

- ``entity`` ("simple"): the (tokens, label) pairs of all entities;
- ``relation_exists`` ("partial"): (tokens, label) for entities without relations and
  (tokens, label, True) for entities with at least one;
- ``relation`` ("complete"): (tokens, label) for entities without relations and, for each
  relation, (lower-cased tokens, label, relation, lower-cased target tokens).

A report with no entity on either side scores 0 at every level (as the radgraph package).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LEVELS = ("entity", "relation_exists", "relation")


def _f1(hyp: set[tuple[Any, ...]], ref: set[tuple[Any, ...]]) -> float:
    hit_p = sum(x in ref for x in hyp)
    hit_r = sum(x in hyp for x in ref)
    p = hit_p / len(hyp) if hyp else 0.0
    r = hit_r / len(ref) if ref else 0.0
    return 2 * p * r / (p + r) if (p + r) > 0 else 0.0


def _sets(annotation: Mapping[str, Any]) -> tuple[set, set, set]:
    entities = annotation.get("entities", {})
    simple: set[tuple[Any, ...]] = set()
    partial: set[tuple[Any, ...]] = set()
    complete: set[tuple[Any, ...]] = set()
    for ent in entities.values():
        tokens, label, rels = ent["tokens"], ent["label"], ent.get("relations") or []
        simple.add((tokens, label))
        if not rels:
            partial.add((tokens, label))
            complete.add((tokens, label))
        else:
            partial.add((tokens, label, True))
            for rel, target in rels:
                complete.add((tokens.lower(), label, rel, entities[target]["tokens"].lower()))
    return simple, partial, complete


def radgraph_f1(hyp: Mapping[str, Any], ref: Mapping[str, Any]) -> dict[str, float]:
    """The three RadGraph F1 levels of one candidate annotation against its reference."""
    if not hyp.get("entities") or not ref.get("entities"):
        return dict.fromkeys(LEVELS, 0.0)
    hs, rs = _sets(hyp), _sets(ref)
    return {lvl: _f1(h, r) for lvl, h, r in zip(LEVELS, hs, rs, strict=True)}
