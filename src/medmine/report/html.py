"""The self-contained HTML report: a jinja2 template, inline CSS, figures and images as data URIs.

Everything from a run (model answers, reasons, manifest values) goes through jinja2's
autoescaping; nothing is fetched from the network when the page is opened.
"""

from __future__ import annotations

import base64
import io
import math
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from medmine.core import LabelTarget, ReportTarget, Sample, TaskKind
from medmine.datasets.loaded import LoadedDataset
from medmine.report import categories, figures
from medmine.report.data import FAILURE_KEYS, Case, ReportData
from medmine.report.formatting import (
    confusion_of,
    failure_cell,
    flatten,
    fmt,
    fmt_p,
    summary_lines,
    truncated_cell,
)

GALLERY_EDGE = 560  # longest edge of a gallery image, pixels (large enough to judge an overlay)
TIME_KEYS = ("started", "finished", "created", "ts", "time", "timestamp")  # epoch seconds
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


def _models(data: ReportData) -> list[str]:
    """Every model in report order: its colour and marker are the same in every figure."""
    return list(dict.fromkeys(e.model for e in data.entries))


def _forests(data: ReportData) -> list[dict[str, Any]]:
    """One forest plot per task: headline and interval per model and dataset, by category."""
    out = []
    models = _models(data)
    for task in data.tasks:
        boards = sorted(
            (b for b in data.boards if b.task == task),
            key=lambda b: (categories.sort_key(categories.category_of(b.dataset)), b.dataset),
        )
        rows = [
            figures.ForestRow(
                categories.category_of(b.dataset),
                b.dataset,
                e.model,
                e.value,
                e.ci[0] if e.ci else None,
                e.ci[1] if e.ci else None,
            )
            for b in boards
            for e in sorted(b.entries, key=lambda e: models.index(e.model))
        ]
        head = boards[0].headline
        uri = figures.forest_plot(rows, metric=head, models=models)
        n_ci = sum(1 for r in rows if r.low is not None)
        out.append({"task": task, "uri": uri, "metric": head, "n": len(rows), "n_ci": n_ci})
    return out


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def _efficiency(data: ReportData) -> list[dict[str, Any]]:
    """Per task: each model's mean score against its mean latency and cost per sample."""
    out = []
    models = _models(data)
    for task in data.tasks:
        entries = [e for e in data.entries if e.task == task]
        points = []
        for m in dict.fromkeys(e.model for e in entries):
            mine = [e for e in entries if e.model == m]
            points.append(
                figures.EfficiencyPoint(
                    m,
                    _mean([e.value for e in mine]),
                    _mean([float(e.metrics.get("latency_mean_s", math.nan)) for e in mine]),
                    _mean([float(e.metrics.get("cost_per_sample_usd", math.nan)) for e in mine]),
                )
            )
        conc = {e.model: e.concurrency for e in entries}
        uri = figures.efficiency_chart(points, metric=entries[0].headline, models=models)
        out.append(
            {"task": task, "uri": uri, "concurrency": conc, "entries": entries, "points": points}
        )
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
    from medmine.report.strategies import compare_strategies

    template = _environment().get_template("report.html.j2")
    return template.render(
        data=data,
        strategies=compare_strategies(data),
        summary=summary_lines(data),
        forests=_forests(data),
        category_tables=categories.category_tables(data),
        category_of=categories.category_of,
        efficiency=_efficiency(data),
        confusions=_confusions(data),
        quality_html=quality_html(data),
        manifests=[(r, recipe_rows(r.manifest)) for r in data.runs],
        fmt=fmt,
        fmt_p=fmt_p,
        failure_cell=failure_cell,
        truncated_cell=truncated_cell,
        failure_keys=FAILURE_KEYS,
    )


def recipe_rows(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    """The manifest as (key, value) rows, epoch-second timestamps written as ISO 8601 (UTC)."""
    from datetime import UTC, datetime

    rows = []
    for key, value in flatten(manifest):
        leaf = key.rsplit(".", 1)[-1]
        if leaf in TIME_KEYS or leaf.endswith("_at"):
            try:
                stamp = float(value)
            except ValueError:
                stamp = math.nan
            if 1e9 < stamp < 1e10:
                value = datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")
        rows.append((key, value))
    return rows


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
    """Finds a case's sample (in the datasets the run loaded, else reloading the dataset from
    the run's recipe) and draws its images."""

    def __init__(
        self,
        data: ReportData,
        run_paths: dict[str, Path],
        data_root: Path | None,
        preloaded: Mapping[Path, Mapping[str, LoadedDataset]] | None = None,
    ):
        self.runs = {r.name: r for r in data.runs}
        self.run_paths = run_paths
        self.data_root = data_root
        self.preloaded = preloaded or {}
        self._samples: dict[tuple[str, str], dict[str, Sample] | str] = {}
        # Only the gallery's own samples are kept from each reloaded dataset.
        self._wanted: dict[tuple[str, str], set[str]] = {}
        for cases in data.gallery.values():
            for case in cases:
                self._wanted.setdefault((case.run, case.dataset), set()).add(case.sample_id)
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
        wanted = self._wanted.get((run, dataset), set())
        held = self.preloaded.get(self.run_paths.get(run, Path()), {}).get(dataset)
        if held is not None:  # the run's own copy, when it holds every case
            found = _pick(held, wanted)
            if set(found) == wanted:
                return found
        from medmine.datasets.sources import load_for_suite
        from medmine.datasets.spec import DatasetSpec

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
        return _pick(loaded, wanted)

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
        if isinstance(target, ReportTarget):
            parts = [("FINDINGS", target.findings), ("IMPRESSION", target.impression)]
            case.reference = "\n\n".join(f"{k}: {v}" for k, v in parts if v.strip())
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
            render_overlay(
                sample.images[0].path, target, value, case.task, out, max_edge=GALLERY_EDGE
            )
            case.overlay_uri = jpeg_data_uri(out.read_bytes(), max_edge=GALLERY_EDGE)
        except Exception as exc:  # an overlay bug must not stop the report
            return f"no overlay: {type(exc).__name__}: {exc}"
        return "overlay: ground truth and the model's answer"


def _pick(loaded: LoadedDataset, wanted: set[str]) -> dict[str, Sample]:
    """The wanted samples of a loaded dataset, by id (a support sample wins a shared id)."""
    return {s.id: s for part in (loaded.test, loaded.support) for s in part if s.id in wanted}
