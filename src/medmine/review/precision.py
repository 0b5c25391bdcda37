"""How often the model's labels were right, per label, with a Wilson score interval."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal distribution


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n``.

    centre = (p + z²/2n) / (1 + z²/n), half = z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n).
    ``n = 0`` gives (0, 1): nothing is known yet.
    """
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"wilson: need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def sample_size(width: float, z: float = Z95, population: int | None = None) -> int:
    """The smallest n whose Wilson interval at p = 0.5 (the widest case) is at most ``width``.

    Capped at ``population`` when given (a stratum smaller than n is reviewed whole).
    """
    if not 0 < width < 1:
        raise ValueError(f"target interval width must be between 0 and 1, got {width}")
    n = 1
    while _width_at_half(n, z) > width:
        n += 1
    return n if population is None else min(n, population)


def _width_at_half(n: int, z: float) -> float:
    """Full width of the Wilson interval when the observed proportion is 0.5."""
    return 2 * z * math.sqrt(0.25 / n + z * z / (4 * n * n)) / (1 + z * z / n)


@dataclass(frozen=True)
class LabelPrecision:
    """One label: items the model gave it, how many were reviewed, how many were right."""

    label: str
    predicted: int  # items in the run with this predicted label
    reviewed: int  # of them, decided (accepted or corrected; unreadable excluded)
    correct: int  # of them, the reviewer kept the label
    unreadable: int

    @property
    def precision(self) -> float:
        """correct / reviewed (NaN before any decision)."""
        return self.correct / self.reviewed if self.reviewed else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% Wilson interval of the precision."""
        return wilson(self.correct, self.reviewed)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready row (NaN as None)."""
        lo, hi = self.interval
        p = self.precision
        return {
            "label": self.label,
            "predicted": self.predicted,
            "reviewed": self.reviewed,
            "correct": self.correct,
            "unreadable": self.unreadable,
            "precision": None if math.isnan(p) else p,
            "ci_low": lo,
            "ci_high": hi,
        }


def precision_table(
    predicted: Mapping[str, frozenset[str]],
    reviewed: Mapping[str, frozenset[str] | None],
) -> list[LabelPrecision]:
    """Per-label precision from predicted and reviewed label sets.

    ``predicted`` maps an item key to the labels the model gave; ``reviewed`` maps a decided
    item's key to the labels the reviewer kept (``None``: flagged unreadable). An item counts
    as correct for label L when L is in both sets.
    """
    labels: dict[str, list[int]] = {}
    for key, labs in predicted.items():
        for lab in labs:
            row = labels.setdefault(lab, [0, 0, 0, 0])
            row[0] += 1
            if key not in reviewed:
                continue
            kept = reviewed[key]
            if kept is None:
                row[3] += 1
                continue
            row[1] += 1
            row[2] += int(lab in kept)
    return [LabelPrecision(lab, *labels[lab]) for lab in sorted(labels)]
