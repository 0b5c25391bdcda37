"""The report as a paper's results section: forest plots, the per-category table, efficiency
charts from zero with every point labelled, readable text with nothing overlapping, the
recipe collapsed with ISO dates, and no radar chart."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import matplotlib
import pytest
from matplotlib.figure import Figure
from test_html_report import make_run

from medmine.report import figures
from medmine.report.build import build_report, collect
from medmine.report.categories import category_of, category_tables
from medmine.report.html import recipe_rows
from medmine.run.store import RunStore

MODELS = ["gpt-4o", "gemini-2.5-flash", "nearest-centroid", "majority"]


def _texts(fig: Figure) -> list[matplotlib.text.Text]:
    fig.canvas.draw()
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text()]


def _drawn_texts(fig: Figure) -> list[tuple[str, object]]:
    """(text, box) of what is drawn: annotations (text only, not leader lines), tick labels
    inside the view, axis labels and legend entries."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    out = []
    for ax in fig.axes:
        for t in ax.texts:
            out.append((t.get_text(), matplotlib.text.Text.get_window_extent(t, renderer)))
        for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            for tick in axis.get_major_ticks():
                label = tick.label1
                if (
                    lo - 1e-9 <= tick.get_loc() <= hi + 1e-9
                    and label.get_visible()
                    and label.get_text()
                ):
                    out.append((label.get_text(), label.get_window_extent(renderer)))
            if axis.label.get_text():
                out.append((axis.label.get_text(), axis.label.get_window_extent(renderer)))
        legend = ax.get_legend()
        if legend is not None:
            out += [(t.get_text(), t.get_window_extent(renderer)) for t in legend.get_texts()]
    return out


def _overlaps(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of drawn texts whose boxes intersect by more than 1 px each way."""
    out = []
    for (a, ba), (b, bb) in itertools.combinations(_drawn_texts(fig), 2):
        inter_w = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
        inter_h = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
        if inter_w > 1 and inter_h > 1:
            out.append((a, b))
    return out


def _forest_rows() -> list[figures.ForestRow]:
    rows = []
    for cat, ds in (
        ("dermatology", "ham10000"),
        ("radiology", "chestxray2017"),
        ("endoscopy", "kvasir"),
    ):
        for i, m in enumerate(MODELS):
            v = 0.4 + 0.15 * i if cat != "endoscopy" or i < 3 else math.nan
            rows.append(figures.ForestRow(cat, ds, m, v, max(0, v - 0.1), min(1, v + 0.1)))
    return rows


def test_forest_plot_groups_by_category_with_intervals_readable_and_unoverlapped() -> None:
    fig = figures.forest_figure(_forest_rows(), metric="accuracy", models=MODELS)
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert [t for t in ticks if t.isupper()] == ["DERMATOLOGY", "RADIOLOGY", "ENDOSCOPY"]
    assert ax.get_xlim() == (0.0, 1.0)
    assert all(t.get_fontsize() >= figures.MIN_PT for t in _texts(fig))
    assert _overlaps(fig) == []
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == MODELS
    assert sum("no value" in t.get_text() for t in _texts(fig)) == 1  # NaN is not drawn as 0


def test_efficiency_axes_start_at_zero_and_every_point_is_labelled() -> None:
    points = [
        figures.EfficiencyPoint("gpt-4o", 0.81, 2.1, 0.012),
        figures.EfficiencyPoint("gemini-2.5-flash", 0.80, 0.9, 0.0011),
        figures.EfficiencyPoint("nearest-centroid", 0.79, 0.01, 0.0),
        figures.EfficiencyPoint("majority", 0.33, 0.0, 0.0),
    ]
    fig = figures.efficiency_figure(points, metric="accuracy", models=MODELS)
    for ax in fig.axes:
        assert ax.get_xlim()[0] == 0 and ax.get_ylim()[0] == 0
        labels = [t.get_text() for t in ax.texts]
        assert sorted(labels) == sorted(MODELS)
    assert all(t.get_fontsize() >= figures.MIN_PT for t in _texts(fig))
    assert _overlaps(fig) == []


def test_palette_is_okabe_ito_and_models_also_differ_by_marker() -> None:
    okabe_ito = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000"}
    assert set(figures.PALETTE) <= okabe_ito
    assert len({figures.marker(i) for i in range(len(figures.PALETTE))}) == len(figures.PALETTE)


def test_categories_follow_the_demo_and_the_catalog() -> None:
    assert category_of("demo-dentistry") == "dentistry"
    assert category_of("demo-reports") == "reports"
    assert category_of("ham10000") == "dermatology"
    assert category_of("kvasir_seg") == "endoscopy"
    assert category_of("my-private-set") == "other"


def test_category_table_means_and_marks_only_significant_bests(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    data, _ = collect([run])
    (table,) = category_tables(data)
    assert table.categories == ["other"]
    store = RunStore(run)
    scores = store.scores()
    store.close()
    for model in table.models:
        values = [s["metrics"][s["headline"]] for s in scores if s["model"] == model]
        assert table.cells[(model, "other")].value == pytest.approx(sum(values) / len(values))
    # 'good' wins significantly on toy but not on tiny: not best over the whole category
    assert not any(c.best for c in table.cells.values())


def test_html_has_forests_category_tables_and_no_radar_and_a_collapsed_recipe(
    tmp_path: Path,
) -> None:
    run = make_run(tmp_path)
    store = RunStore(run)
    store.set_manifest({"started": 1796398958.3370445, "finished": 1796399033.4})
    store.close()
    html = build_report([run], tmp_path / "out")["html"].read_text(encoding="utf-8")
    assert "radar" not in html.lower() and "heatmap" not in html.lower()
    assert html.count('<figure class="forest"') == 1
    assert html.count('<table class="category"') == 1
    assert re.search(r'<details class="recipe-block">', html)
    assert "2026-12-04T" in html and "1796398958" not in html
    assert html.count("<figcaption>") >= 2


def test_recipe_rows_turn_epoch_seconds_into_iso_dates_only_for_time_keys() -> None:
    rows = dict(recipe_rows({"started": 1.7e9, "n_test": 1700000000, "a": {"finished": "x"}}))
    assert rows["started"] == "2023-11-14T22:13:20+00:00"
    assert rows["n_test"] == "1700000000"
    assert rows["a.finished"] == "x"
