"""Build the full report of one or more run directories: HTML, Markdown, CSV and LaTeX.

:func:`collect` reads the run databases into a :class:`ReportData` (leaderboards with paired
significance tests, efficiency, failures, bad and skipped samples, gallery cases, manifests);
the views (``html``, ``latex``, ``markdown``) only format it. The data model lives in
``data``, its collection in ``collect``, the case gallery in ``gallery``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from medmine.datasets.loaded import LoadedDataset
from medmine.report.collect import collect, display_names
from medmine.report.data import Board, Case, Entry, ReportData, RunInfo
from medmine.report.gallery import fill_cases, pick_cases
from medmine.report.html import render_html
from medmine.report.latex import to_latex
from medmine.report.markdown import to_csv, to_markdown

__all__ = [
    "Board",
    "Case",
    "Entry",
    "ReportData",
    "RunInfo",
    "build_report",
    "collect",
    "display_names",
]


def build_report(
    run_dirs: Sequence[Path],
    out_dir: Path,
    *,
    gallery_per_task: int = 6,
    seed: int = 0,
    data_root: Path | None = None,
    loaded: Mapping[str, LoadedDataset] | None = None,
) -> dict[str, Path]:
    """Write report.html, report.md, report.csv and report.tex comparing the given runs.

    Models from different runs on the same task and dataset appear side by side; a model name
    found in two runs is suffixed with its run directory's name. ``data_root`` is where the
    runs' datasets live (to show gallery images); images that cannot be loaded are left out
    with a caption saying why. ``loaded`` holds the datasets of the first run as that run
    loaded them (by name): the gallery finds its cases there before reading a dataset again.
    """
    data, paths = collect(run_dirs, seed=seed)
    data.gallery = pick_cases(data, gallery_per_task, seed)
    preloaded = {Path(run_dirs[0]): dict(loaded)} if loaded and run_dirs else {}
    fill_cases(data, paths, data_root, preloaded)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {
        "html": out_dir / "report.html",
        "md": out_dir / "report.md",
        "csv": out_dir / "report.csv",
        "tex": out_dir / "report.tex",
    }
    written["html"].write_text(render_html(data), encoding="utf-8")
    written["md"].write_text(to_markdown(data), encoding="utf-8")
    written["csv"].write_text(to_csv(data), encoding="utf-8", newline="")
    written["tex"].write_text(to_latex(data), encoding="utf-8")
    return written
