"""The report's figures (matplotlib, Agg backend), returned as SVG data URIs.

Each function takes plain numbers and labels, draws one figure and returns a ``data:`` URI, so
the HTML stays self-contained. Missing values are NaN and are drawn as gaps, never as zero.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

PALETTE = (
    "#1f6feb",
    "#d9480f",
    "#2f9e44",
    "#ae3ec9",
    "#f08c00",
    "#0c8599",
    "#e03131",
    "#5c7cfa",
    "#66a80f",
    "#862e9c",
)
plt.rcParams.update(
    {
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.hashsalt": "medmine",  # stable SVG ids: the same data gives the same file
    }
)


def color(i: int) -> str:
    """The i-th series colour."""
    return PALETTE[i % len(PALETTE)]


def to_data_uri(fig: Figure) -> str:
    """Serialise a figure as a base64 SVG data URI and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _short(label: str, limit: int = 28) -> str:
    """A label cut to fit an axis."""
    return label if len(label) <= limit else label[: limit - 1] + "…"


def heatmap(
    rows: Sequence[str], cols: Sequence[str], values: np.ndarray, *, title: str, metric: str
) -> str:
    """A models (rows) × datasets (columns) heatmap of one headline metric, values written in."""
    vals = np.asarray(values, dtype=float)
    if vals.shape != (len(rows), len(cols)):
        raise ValueError(f"heatmap values have shape {vals.shape}, want {(len(rows), len(cols))}")
    fig, ax = plt.subplots(
        figsize=(min(1.2 + 1.1 * len(cols), 14), min(1.0 + 0.42 * len(rows), 12))
    )
    masked = np.ma.masked_invalid(vals)
    finite = vals[np.isfinite(vals)]
    vmin, vmax = (0.0, 1.0)
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        vmin, vmax = float(finite.min()), float(finite.max())
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#eeeeee")
    im = ax.imshow(masked, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(cols)), [_short(c) for c in cols], rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), [_short(r) for r in rows])
    for i in range(len(rows)):
        for j in range(len(cols)):
            v = vals[i, j]
            text = "—" if not math.isfinite(v) else f"{v:.2f}"
            shade = (v - vmin) / (vmax - vmin) if math.isfinite(v) and vmax > vmin else 0.0
            ax.text(j, i, text, ha="center", va="center", color="black" if shade > 0.6 else "white")
    ax.set_title(title, loc="left")
    fig.colorbar(im, ax=ax, label=metric, fraction=0.04)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    return to_data_uri(fig)


def radar(models: Sequence[str], tasks: Sequence[str], values: np.ndarray, *, title: str) -> str:
    """Models across tasks (mean headline per task) as a radar chart; bars under three tasks."""
    vals = np.asarray(values, dtype=float)
    if vals.shape != (len(models), len(tasks)):
        raise ValueError(f"radar values have shape {vals.shape}, want {(len(models), len(tasks))}")
    if len(tasks) < 3:
        fig, ax = plt.subplots(figsize=(6.5, 3.2))
        width = 0.8 / max(len(models), 1)
        for i, m in enumerate(models):
            x = np.arange(len(tasks)) + i * width
            ax.bar(x, np.nan_to_num(vals[i], nan=0.0), width, label=_short(m), color=color(i))
        ax.set_xticks(np.arange(len(tasks)) + 0.4 - width / 2, list(tasks))
        ax.set_ylim(0, max(1.0, float(np.nanmax(vals)) if np.isfinite(vals).any() else 1.0))
        ax.set_ylabel("mean headline")
    else:
        angles = np.linspace(0, 2 * np.pi, len(tasks), endpoint=False)
        fig = plt.figure(figsize=(6.5, 5))
        ax = fig.add_subplot(projection="polar")
        closed = np.concatenate([angles, angles[:1]])
        for i, m in enumerate(models):
            v = np.concatenate([vals[i], vals[i][:1]])
            ax.plot(closed, v, color=color(i), linewidth=1.6, marker="o", ms=4, label=_short(m))
            ax.fill(closed, np.nan_to_num(v, nan=0.0), color=color(i), alpha=0.08)
        ax.set_xticks(angles, list(tasks))
        ax.set_ylim(0, max(1.0, float(np.nanmax(vals)) if np.isfinite(vals).any() else 1.0))
    ax.set_title(title, loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.05, 1.0), frameon=False)
    return to_data_uri(fig)


def efficiency_scatter(
    points: Sequence[tuple[str, str, float, float, float]], *, task: str, metric: str
) -> str:
    """Score against mean latency (left) and against cost per sample (right), one colour a model.

    ``points`` are (model, dataset, latency_s, cost_per_sample_usd, score); NaN coordinates
    leave the point out of that panel.
    """
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.4), sharey=True)
    models = list(dict.fromkeys(p[0] for p in points))
    for ax, col, label in (
        (axes[0], 2, "mean latency per answer (s)"),
        (axes[1], 3, "cost per sample (USD)"),
    ):
        drawn = False
        for i, m in enumerate(models):
            xs = [p[col] for p in points if p[0] == m and math.isfinite(p[col])]
            ys = [p[4] for p in points if p[0] == m and math.isfinite(p[col])]
            if xs:
                drawn = True
                ax.scatter(xs, ys, s=28, color=color(i), label=_short(m), alpha=0.85)
        if not drawn:
            ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(label)
        ax.grid(alpha=0.25)
    axes[0].set_ylabel(metric)
    axes[0].set_title(f"{task}: score against latency and cost", loc="left")
    handles, labels = axes[0].get_legend_handles_labels()
    if not handles:
        handles, labels = axes[1].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(0.92, 0.9), frameon=False)
    return to_data_uri(fig)
