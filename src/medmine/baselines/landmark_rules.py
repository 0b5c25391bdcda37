"""Where the landmark-intensity baseline looks for a structure: a rule per structure name, finding
priors, and keyword fallbacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class LandmarkRule:
    """How to find a structure: bright or dark blob, its size, and where to search."""

    polarity: Literal["bright", "dark", "enclosed-dark"]
    size: float  # blob scale as a fraction of the longer image side
    window: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # x0, y0, x1, y1 fractions
    why: str = ""


# Exact structure names (lower case). Radiographs follow the radiological convention: the
# patient's right is on the image's left.
LANDMARK_RULES: dict[str, LandmarkRule] = {
    "optic disc": LandmarkRule("bright", 0.06, why="the disc is the brightest fundus blob"),
    "optic disk": LandmarkRule("bright", 0.06, why="the disc is the brightest fundus blob"),
    "optic cup": LandmarkRule("bright", 0.04, why="the cup is the brightest part of the disc"),
    "fovea": LandmarkRule(
        "dark", 0.035, (0.3, 0.3, 0.7, 0.7), "the fovea is the darkest central fundus blob"
    ),
    "macula": LandmarkRule(
        "dark", 0.07, (0.25, 0.25, 0.75, 0.75), "the macula is the darkest central fundus region"
    ),
    "heart": LandmarkRule(
        "bright", 0.08, (0.3, 0.4, 0.8, 0.72), "the heart is a bright mediastinal mass"
    ),
    "right lung": LandmarkRule(
        "enclosed-dark",
        0.12,
        (0.0, 0.0, 0.5, 1.0),
        "the lung is a dark region enclosed by the body; patient's right is image left",
    ),
    "left lung": LandmarkRule(
        "enclosed-dark",
        0.12,
        (0.5, 0.0, 1.0, 1.0),
        "the lung is a dark region enclosed by the body; patient's left is image right",
    ),
}


# Chest radiograph findings (NIH ChestX-ray14 box labels): naive intensity priors, so the
# baseline answers every NIH sample and its notes say which prior it used.
_FINDING_PRIORS: tuple[tuple[tuple[str, ...], LandmarkRule], ...] = (
    (
        ("atelecta", "infiltrat", "pneumonia", "consolidat", "opacity", "mass", "nodule"),
        LandmarkRule("bright", 0.05, (0.1, 0.1, 0.9, 0.85), "a lung finding: bright chest blob"),
    ),
    (
        ("cardiomegaly",),
        LandmarkRule("bright", 0.10, (0.3, 0.4, 0.8, 0.75), "cardiomegaly: the heart blob"),
    ),
    (
        ("effusion",),
        LandmarkRule("bright", 0.06, (0.0, 0.55, 1.0, 0.95), "effusion: bright blob at the bases"),
    ),
    (
        ("pneumothorax",),
        LandmarkRule("dark", 0.06, (0.0, 0.0, 1.0, 0.6), "pneumothorax: dark upper-chest blob"),
    ),
)


# Fallbacks by keyword, stated in the answer's notes when used.
LANDMARK_KEYWORDS: tuple[tuple[str, LandmarkRule], ...] = (
    ("lung", LandmarkRule("enclosed-dark", 0.12, why="keyword 'lung': aerated lung is dark")),
    ("disc", LandmarkRule("bright", 0.06, why="keyword 'disc': bright blob")),
    ("cardiac", LandmarkRule("bright", 0.10, why="keyword 'cardiac': bright mass")),
    ("bone", LandmarkRule("bright", 0.08, why="keyword 'bone': bone is bright on radiographs")),
    *((word, rule) for words, rule in _FINDING_PRIORS for word in words),
)


_TOOTH = re.compile(r"^tooth\s*([1-4])([1-8])$")


def landmark_rule(structure: str) -> tuple[LandmarkRule, str]:
    """The rule for a structure and a note saying which rule applied.

    Teeth use FDI numbers (``tooth 36``): quadrant 1/2 upper, 3/4 lower; quadrants 1 and 4 are
    the patient's right, on the image's left; the n-th tooth from the midline is searched in a
    band centred ``(n - 0.5) / 8 * 0.45`` image widths from the midline (the dentition spans
    about 90% of a panoramic radiograph). Raises ValueError for an unknown structure.
    """
    key = re.sub(r"\s+", " ", structure.strip().lower())
    if key in LANDMARK_RULES:
        rule = LANDMARK_RULES[key]
        return rule, f"rule for {key!r}: {rule.polarity} blob ({rule.why})"
    m = _TOOTH.match(key)
    if m:
        quadrant, n = int(m.group(1)), int(m.group(2))
        side = -1 if quadrant in (1, 4) else 1
        centre = 0.5 + side * (n - 0.5) / 8 * 0.45
        y0, y1 = (0.15, 0.55) if quadrant in (1, 2) else (0.45, 0.85)
        window = (centre - 0.02, y0, centre + 0.02, y1)
        note = f"rule for FDI tooth {quadrant}{n}: bright blob in its arch band"
        return LandmarkRule("bright", 0.012, window, "teeth are bright"), note
    for word, rule in LANDMARK_KEYWORDS:
        if word in key:
            return rule, f"fallback rule for {structure!r}: {rule.polarity} blob ({rule.why})"
    raise ValueError(f"landmark-intensity does not know structure {structure!r}")
