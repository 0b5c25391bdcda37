"""The review plan: a stratified random sample per predicted label, sized for an interval width.

Each item goes in the stratum of its rarest predicted label (so a rare label is not drowned by
a common one on the same item). From each stratum a seeded random sample is drawn, of the size
whose 95% Wilson interval is at most ``width`` wide even at precision 0.5
(:func:`medmine.review.precision.sample_size`), or the whole stratum when it is smaller. The
strata are interleaved (one item of each in turn), so every label's estimate sharpens as the
review goes on; with ``disagreements_first`` the sampled items where the answers disagree
come before the others.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from medmine.review.items import ReviewItem
from medmine.review.precision import sample_size
from medmine.review.store import PlanRow


@dataclass(frozen=True)
class PlanSpec:
    """How to draw the plan."""

    width: float = 0.2
    seed: int = 0
    disagreements_first: bool = False
    everything: bool = False  # review every item instead of a sample

    def params(self) -> dict[str, object]:
        """What is stored with the plan (a different spec redraws it only when asked)."""
        return {
            "width": self.width,
            "seed": self.seed,
            "disagreements_first": self.disagreements_first,
            "everything": self.everything,
        }


def stratum_of(item: ReviewItem, frequency: Counter[str]) -> str:
    """The item's rarest predicted label (ties broken by name): its stratum."""
    return min(item.predicted, key=lambda lab: (frequency[lab], lab))


def draw_plan(items: Sequence[ReviewItem], spec: PlanSpec) -> list[PlanRow]:
    """The ordered plan (see the module doc)."""
    frequency: Counter[str] = Counter(lab for it in items for lab in it.predicted)
    strata: dict[str, list[ReviewItem]] = {}
    for it in items:
        strata.setdefault(stratum_of(it, frequency), []).append(it)
    rng = random.Random(spec.seed)
    drawn: dict[str, list[ReviewItem]] = {}
    for name in sorted(strata):
        pool = sorted(strata[name], key=lambda it: it.key)
        n = len(pool) if spec.everything else sample_size(spec.width, population=len(pool))
        drawn[name] = rng.sample(pool, n)
    ordered = _interleave(drawn)
    if spec.disagreements_first:
        ordered = [p for p in ordered if p[1].disagreement] + [
            p for p in ordered if not p[1].disagreement
        ]
    return [
        PlanRow(pos, it.key, stratum, it.disagreement) for pos, (stratum, it) in enumerate(ordered)
    ]


def _interleave(drawn: dict[str, list[ReviewItem]]) -> list[tuple[str, ReviewItem]]:
    """One item of each stratum in turn, until all are used."""
    out: list[tuple[str, ReviewItem]] = []
    depth = max((len(v) for v in drawn.values()), default=0)
    for i in range(depth):
        for name, its in drawn.items():
            if i < len(its):
                out.append((name, its[i]))
    return out
