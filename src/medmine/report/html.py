"""The self-contained HTML report: a jinja2 template, inline CSS, figures and images as data URIs.

Everything from a run (model answers, reasons, manifest values) goes through jinja2's
autoescaping; nothing is fetched from the network when the page is opened.
"""

from __future__ import annotations

import base64
import io
import math
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from medmine.core import LabelTarget, Sample, TaskKind
from medmine.report import figures
from medmine.report.build import (
    FAILURE_KEYS,
    Case,
    ReportData,
    confusion_of,
    failure_cell,
    flatten,
    fmt,
    fmt_p,
    summary_lines,
)

GALLERY_EDGE = 320  # longest edge of a gallery image, pixels
TEXT_EXCERPT = 800  # characters of a report text shown next to a case
OVERLAY_TASKS = frozenset({TaskKind.SEGMENTATION, TaskKind.LOCALIZATION, TaskKind.DETECTION})


@cache
def _environment() -> jinja2.Environment:
    """The template environment (autoescaping on for everything)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("medmine.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _heatmaps(data: ReportData) -> list[dict[str, str]]:
    """One models × datasets heatmap of the headline per task."""
    out = []
    for task in data.tasks:
        boards = [b for b in data.boards if b.task == task]
        models = list(dict.fromkeys(e.model for b in boards for e in b.entries))
        datasets = [b.dataset for b in boards]
        vals = np.full((len(models), len(datasets)), np.nan)
        for j, b in enumerate(boards):
            for e in b.entries:
                vals[models.index(e.model), j] = e.value
        head = boards[0].headline
        uri = figures.heatmap(models, datasets, vals, title=f"{task}: {head}", metric=head)
        out.append({"task": task, "uri": uri, "metric": head})
    return out


def _radar(data: ReportData) -> str | None:
    """Mean headline per task and model (across datasets) as a radar chart."""
    if not data.boards:
        return None
    tasks = data.tasks
    models = list(dict.fromkeys(e.model for e in data.entries))
    vals = np.full((len(models), len(tasks)), np.nan)
    for i, m in enumerate(models):
        for j, t in enumerate(tasks):
            v = [e.value for e in data.entries if e.model == m and e.task == t]
            v = [x for x in v if not math.isnan(x)]
            if v:
                vals[i, j] = float(np.mean(v))
    return figures.radar(models, tasks, vals, title="Mean headline per task (across datasets)")


def _efficiency(data: ReportData) -> list[dict[str, Any]]:
    """Per task: the latency/cost scatter and the concurrency each model was measured at."""
    out = []
    for task in data.tasks:
        entries = [e for e in data.entries if e.task == task]
        points = [
            (
                e.model,
                e.dataset,
                float(e.metrics.get("latency_mean_s", math.nan)),
                float(e.metrics.get("cost_per_sample_usd", math.nan)),
                e.value,
            )
            for e in entries
        ]
        conc = {e.model: e.concurrency for e in entries}
        uri = figures.efficiency_scatter(points, task=task, metric=entries[0].headline)
        out.append({"task": task, "uri": uri, "concurrency": conc, "entries": entries})
    return out


def _confusions(data: ReportData) -> list[dict[str, Any]]:
    """Classification confusion tables with a per-row shading share."""
    out = []
    for e in data.entries:
        if not isinstance(e.tables.get("confusion"), dict):
            continue
        labels, matrix = confusion_of(e)
        rows = []
        for lab, row in zip(labels, matrix, strict=False):
            total = sum(row) or 1
            rows.append({"label": lab, "cells": [(v, v / total) for v in row]})
        out.append({"entry": e, "labels": labels, "rows": rows})
    return out


def render_html(data: ReportData) -> str:
    """The report page."""
    from medmine.report.quality import quality_html

    template = _environment().get_template("report.html.j2")
    return template.render(
        data=data,
        summary=summary_lines(data),
        heatmaps=_heatmaps(data),
        radar=_radar(data),
        efficiency=_efficiency(data),
        confusions=_confusions(data),
        quality_html=quality_html(data),
        manifests=[(r, flatten(r.manifest)) for r in data.runs],
        fmt=fmt,
        fmt_p=fmt_p,
        failure_cell=failure_cell,
        failure_keys=FAILURE_KEYS,
    )


# --------------------------------------------------------------------------- gallery media


def jpeg_data_uri(image_bytes: bytes, max_edge: int = GALLERY_EDGE, quality: int = 80) -> str:
    """Downscale an encoded image and return it as a JPEG data URI."""
    from PIL import Image

    with Image.open(io.BytesIO(image_bytes)) as im:
        im.load()
        rgb = im.convert("RGB")
    rgb.thumbnail((max_edge, max_edge))
    buf = io.BytesIO()
    rgb.save(buf, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class GalleryMedia:
    """Finds a case's sample (reloading its dataset from the run's recipe) and draws its images."""

    def __init__(self, data: ReportData, run_paths: dict[str, Path], data_root: Path | None):
        self.runs = {r.name: r for r in data.runs}
        self.run_paths = run_paths
        self.data_root = data_root
        self._samples: dict[tuple[str, str], dict[str, Sample] | str] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="medmine-report-")
        self._count = 0

    def close(self) -> None:
        """Remove the temporary overlay files."""
        self._tmp.cleanup()

    def samples(self, run: str, dataset: str) -> dict[str, Sample] | str:
        """Sample id -> Sample for a run's dataset, or the reason it cannot be loaded."""
        key = (run, dataset)
        if key not in self._samples:
            self._samples[key] = self._load(run, dataset)
        return self._samples[key]

    def _load(self, run: str, dataset: str) -> dict[str, Sample] | str:
        from medmine.datasets.sources import load_for_suite
        from medmine.run.suite import DatasetSpec

        suite = self.runs[run].manifest.get("suite") or {}
        specs = [d for d in suite.get("datasets", []) if d.get("name") == dataset]
        if not specs:
            return f"the run's recipe does not describe dataset {dataset!r}"
        try:
            spec = DatasetSpec(**{**specs[0], "limit": None, "per_class": None})
            loaded = load_for_suite(spec, self.data_root, int(suite.get("seed", 0)))
        except Exception as exc:  # a missing or moved dataset must not stop the report
            why = str(exc) if len(str(exc)) <= 120 else str(exc)[:120] + "…"
            return f"dataset {dataset!r} could not be loaded ({type(exc).__name__}: {why})"
        return {s.id: s for s in [*loaded.test, *loaded.support]}

    def attach(self, case: Case) -> None:
        """Fill a case's image, overlay, report text and caption."""
        samples = self.samples(case.run, case.dataset)
        if isinstance(samples, str):
            case.caption = f"image not shown: {samples}"
            return
        sample = samples.get(case.sample_id)
        if sample is None:
            case.caption = f"image not shown: sample {case.sample_id!r} not found in {case.dataset}"
            return
        target = sample.target(case.task)
        if isinstance(target, LabelTarget):
            case.truth = target.label
        if sample.text:
            text = sample.text
            case.text = text if len(text) <= TEXT_EXCERPT else text[:TEXT_EXCERPT] + "…"
        if not sample.images:
            case.caption = "text-only case"
            return
        from medmine.models.images import encode_image

        ref = sample.images[0]
        try:
            enc = encode_image(ref, max_edge=GALLERY_EDGE)
            case.image_uri = jpeg_data_uri(enc.data)
        except (OSError, ValueError) as exc:
            case.caption = f"image not shown: {exc}"
            return
        case.caption = self._overlay(case, sample)

    def _overlay(self, case: Case, sample: Sample) -> str:
        """Draw the target and the prediction over the image when the overlay module exists."""
        try:
            from medmine.report.overlays import render_overlay
        except ImportError:
            return "no overlay: medmine.report.overlays is not available"
        if case.task not in OVERLAY_TASKS:
            return ""  # nothing spatial to draw
        target = sample.target(case.task)
        if target is None:
            return "no overlay: the sample has no target for this task"
        self._count += 1
        out = Path(self._tmp.name) / f"overlay_{self._count}.png"
        value = case.prediction if isinstance(case.prediction, dict) else None
        try:
            render_overlay(sample.images[0].path, target, value, case.task, out, max_edge=512)
            case.overlay_uri = jpeg_data_uri(out.read_bytes(), max_edge=GALLERY_EDGE)
        except Exception as exc:  # an overlay bug must not stop the report
            return f"no overlay: {type(exc).__name__}: {exc}"
        return "overlay: ground truth and the model's answer"
