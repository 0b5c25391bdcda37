"""The report's figures (matplotlib, Agg backend), returned as SVG data URIs.

Each function takes plain numbers and labels, draws one figure and returns a ``data:`` URI, so
the HTML stays self-contained. Missing values are NaN and are drawn as gaps, never as zero.
Figures are sized in inches for print (at most 7 in wide, shown at their natural size in the
page) with text of at least 9 pt; models are told apart by the Okabe–Ito colour-blind-safe
palette *and* by marker shape.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision
# deficiencies. Yellow (#F0E442) is left out: too pale on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000")
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "h")
MIN_PT = 9
plt.rcParams.update(
    {
        "font.size": 10,
        "axes.titlesize": 10.5,
        "axes.labelsize": 10,
        "xtick.labelsize": MIN_PT,
        "ytick.labelsize": MIN_PT,
        "legend.fontsize": MIN_PT,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.hashsalt": "medmine",  # stable SVG ids: the same data gives the same file
        "svg.fonttype": "none",  # text stays text: selectable and crisp at any zoom
    }
)
MAX_WIDTH_IN = 7.0


def color(i: int) -> str:
    """The i-th series colour."""
    return PALETTE[i % len(PALETTE)]


def marker(i: int) -> str:
    """The i-th series marker (a second cue besides colour)."""
    return MARKERS[i % len(MARKERS)]


def to_data_uri(fig: Figure) -> str:
    """Serialise a figure as a base64 SVG data URI and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _short(label: str, limit: int = 30) -> str:
    """A label cut to fit an axis."""
    return label if len(label) <= limit else label[: limit - 1] + "…"


@dataclass(frozen=True)
class ForestRow:
    """One estimate of a forest plot: a model on a dataset, within a group (category)."""

    group: str
    dataset: str
    model: str
    value: float
    low: float | None
    high: float | None


def forest_plot(rows: Sequence[ForestRow], *, metric: str, models: Sequence[str]) -> str:
    """:func:`forest_figure` as an SVG data URI."""
    return to_data_uri(forest_figure(rows, metric=metric, models=models))


def forest_figure(rows: Sequence[ForestRow], *, metric: str, models: Sequence[str]) -> Figure:
    """Estimates with 95% intervals, one line per (dataset, model), grouped under headings.

    The x axis spans 0..1 for metrics in that range (the data range otherwise); a model keeps
    its colour and marker across all of a report's forest plots (``models`` fixes the order).
    """
    groups = list(dict.fromkeys(r.group for r in rows))
    lines: list[tuple[str, ForestRow | None]] = []
    for g in groups:
        lines.append((g, None))
        for r in (r for r in rows if r.group == g):
            lines.append((g, r))
    height = 0.9 + 0.24 * len(lines)
    fig, ax = plt.subplots(figsize=(MAX_WIDTH_IN, height))
    ys = np.arange(len(lines))[::-1]
    labels: list[str] = []
    finite = [
        v for r in rows for v in (r.value, r.low, r.high) if v is not None and math.isfinite(v)
    ]
    lo_lim = 0.0 if not finite or min(finite) >= 0 else min(finite)
    hi_lim = 1.0 if not finite or max(finite) <= 1 else max(finite) * 1.05
    for y, (group, r) in zip(ys, lines, strict=True):
        if r is None:
            labels.append(group.upper())
            ax.axhspan(y - 0.5, y + 0.5, color="#eef1f4", zorder=0)
            continue
        labels.append(f"{_short(r.dataset, 24)} · {_short(r.model, 22)}")
        i = models.index(r.model) if r.model in models else 0
        if not math.isfinite(r.value):
            ax.text(lo_lim, y, "  no value", va="center", fontsize=MIN_PT, color="#5b6575")
            continue
        if r.low is not None and r.high is not None:
            ax.plot([r.low, r.high], [y, y], color=color(i), lw=1.6, zorder=2)
        ax.plot(r.value, y, marker(i), color=color(i), ms=6, zorder=3)
        ax.text(
            1.015,
            y,
            f"{r.value:.3f}",
            va="center",
            ha="left",
            fontsize=MIN_PT,
            transform=ax.get_yaxis_transform(),
            clip_on=False,
        )
    ax.set_yticks(ys, labels)
    for tick, (_, r) in zip(ax.get_yticklabels(), lines, strict=True):
        if r is None:
            tick.set_fontweight("bold")
    ax.set_xlim(lo_lim, hi_lim)
    ax.set_ylim(-0.6, len(lines) - 0.4)
    ax.set_xlabel(f"{metric} (point: estimate; line: 95% bootstrap interval)")
    ax.grid(axis="x", alpha=0.3)
    ax.tick_params(axis="y", length=0)
    handles = [
        plt.Line2D([], [], marker=marker(i), color=color(i), lw=1.6, label=_short(m, 26))
        for i, m in enumerate(models)
        if any(r.model == m for r in rows)
    ]
    ax.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=min(3, max(1, len(handles))),
        frameon=False,
    )
    return fig


@dataclass(frozen=True)
class EfficiencyPoint:
    """One model's mean score, latency and cost on a task (means over its datasets)."""

    model: str
    score: float
    latency_s: float
    cost_usd: float


def efficiency_chart(
    points: Sequence[EfficiencyPoint], *, metric: str, models: Sequence[str]
) -> str:
    """:func:`efficiency_figure` as an SVG data URI."""
    return to_data_uri(efficiency_figure(points, metric=metric, models=models))


def efficiency_figure(
    points: Sequence[EfficiencyPoint], *, metric: str, models: Sequence[str]
) -> Figure:
    """Score against mean latency (left) and cost per sample (right); every point labelled.

    Both axes start at zero. A panel where nothing was recorded says so instead of plotting.
    """
    fig, axes = plt.subplots(1, 2, figsize=(MAX_WIDTH_IN, 3.8), sharey=True)
    fig.subplots_adjust(wspace=0.3)
    panels = (
        (axes[0], "latency_s", "mean latency per answer (s)"),
        (axes[1], "cost_usd", "cost per sample (USD)"),
    )
    scores = [p.score for p in points if math.isfinite(p.score)]
    top = max(1.0, max(scores) * 1.1) if scores else 1.0
    for ax, attr, xlabel in panels:
        drawn = [p for p in points if math.isfinite(getattr(p, attr)) and math.isfinite(p.score)]
        xs = [getattr(p, attr) for p in drawn]
        right = max(xs) * 1.25 if xs and max(xs) > 0 else 1.0
        ax.set_xlim(0, right)
        ax.set_ylim(0, top)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        if not drawn:
            ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes)
            continue
        if attr == "cost_usd" and max(xs) == 0:
            ax.set_xlabel(f"{xlabel}\nall $0 (offline or cached)")
        marks = []
        for p in sorted(drawn, key=lambda q: -q.score):
            i = models.index(p.model) if p.model in models else 0
            x = getattr(p, attr)
            ax.plot(x, p.score, marker(i), color=color(i), ms=7, zorder=3)
            marks.append((x, p.score, _short(p.model, 20)))
        ax.xaxis.set_major_locator(MaxNLocator(4))
        _place_labels(fig, ax, marks)
    axes[0].set_ylabel(metric)
    return fig


# Where a point's label may go, in points from the point: right, left, then further away.
_OFFSETS = [
    (dx, dy, ha)
    for dy in sorted(range(-110, 111, 11), key=abs)
    for dx, ha in ((8, "left"), (-8, "right"), (24, "left"), (-24, "right"))
]


def _place_labels(fig: Figure, ax: plt.Axes, marks: list[tuple[float, float, str]]) -> None:
    """Label every point where its text overlaps no other label, no marker and stays inside
    the axes (the first free place of :data:`_OFFSETS`); a leader line joins a moved label."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    obstacles = []
    for x, y, _ in marks:
        px, py = ax.transData.transform((x, y))
        obstacles.append(Bbox.from_bounds(px - 5, py - 5, 10, 10))
    for x, y, text in marks:
        chosen = None
        for dx, dy, ha in _OFFSETS:
            ann = ax.annotate(
                text,
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                ha=ha,
                va="center",
                fontsize=MIN_PT,
            )
            box = ann.get_window_extent(renderer).expanded(1.05, 1.1)
            ann.remove()
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0
            if inside and box.y1 <= frame.y1 and not any(box.overlaps(o) for o in obstacles):
                chosen = (dx, dy, ha, box)
                break
        dx, dy, ha, box = chosen or (8, 0, "left", None)  # crowded: the plain right-hand place
        far = abs(dy) > 0 or abs(dx) > 8
        ann = ax.annotate(
            text,
            (x, y),
            xytext=(dx, dy),
            textcoords="offset points",
            ha=ha,
            va="center",
            fontsize=MIN_PT,
            arrowprops={"arrowstyle": "-", "color": "#9aa3af", "lw": 0.6} if far else None,
        )
        obstacles.append(box if box is not None else ann.get_window_extent(renderer))
