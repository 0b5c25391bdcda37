"""The demo report in headless Chromium at 1400 px: every figure rendered, no console error,
the per-category table's numbers equal the run database's, no two pieces of text overlapping;
a screenshot of each section is saved (to ``$MEDMINE_SCREENSHOTS`` when set, for a person to
look at, else the test's tmp dir)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from cdp_browser import NEEDS_CHROMIUM, page

from medmine.report.build import build_report
from medmine.report.categories import category_of
from medmine.run.store import RunStore

pytestmark = NEEDS_CHROMIUM
WIDTH = 1400

# Leaf text elements of one section whose boxes intersect (neither containing the other).
OVERLAPS_JS = """
(() => {
  const sel = 'h2,h3,p,li,figcaption,summary,th,td,pre,.tag,strong,code,img';
  const out = [];
  for (const sec of document.querySelectorAll('main section')) {
    const shown = e => { const d = e.closest('details:not([open])');
                         return !d || e.closest('summary') !== null; };
    const els = Array.from(sec.querySelectorAll(sel)).filter(e => {
      const r = e.getBoundingClientRect(); return shown(e) && r.width > 0 && r.height > 0;
    });
    const boxes = els.map(e => [e, e.getBoundingClientRect()]);
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      if (a.contains(b) || b.contains(a)) continue;
      const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (w > 1 && h > 1) out.push([sec.id, a.tagName + ':' + a.textContent.slice(0, 40),
                                    b.tagName + ':' + b.textContent.slice(0, 40)]);
    }
  }
  return out.slice(0, 20);
})()
"""


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``medmine run`` on the demo suite (3 cases per dataset, four of the tasks) and its report."""
    from medmine.run.execute import RunOptions, execute
    from medmine.run.suite import load_suite

    base = tmp_path_factory.mktemp("paper_report")
    mp = pytest.MonkeyPatch()
    mp.setenv("MEDMINE_CACHE_DIR", str(base / "cache"))
    try:
        opts = RunOptions(
            out=base / "run",
            limit=3,
            tasks=["classification", "localization", "diagnosis", "report_generation"],
            use_cache=False,
            progress=False,
        )
        execute(load_suite("demo"), opts)
        out = build_report([opts.out], base / "report", gallery_per_task=3)
    finally:
        mp.undo()
    return opts.out, out["html"]


def test_demo_report_renders_every_figure_with_db_numbers_and_no_overlap(
    demo_report: tuple[Path, Path], tmp_path: Path
) -> None:
    run, html = demo_report
    shots = Path(os.environ.get("MEDMINE_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    with page(tmp_path, WIDTH, 900) as dt:
        dt.navigate(html.resolve().as_uri())
        images = dt.evaluate(
            "Array.from(document.images).map(i => ({alt: i.alt, ok: i.complete &&"
            " i.naturalWidth > 0, w: i.getBoundingClientRect().width}))"
        )
        forests = dt.evaluate(
            "Array.from(document.querySelectorAll('figure.forest')).map(f => f.dataset.task)"
        )
        cells = dt.evaluate(
            "Array.from(document.querySelectorAll('table.category td[data-category]')).map(td =>"
            " ({task: td.closest('table').dataset.task, model: td.parentElement.dataset.model,"
            " category: td.dataset.category, value: td.dataset.value, text: td.textContent}))"
        )
        overlaps = dt.evaluate(OVERLAPS_JS)
        sections = dt.evaluate(
            "Array.from(document.querySelectorAll('main section')).map(s => {"
            " const r = s.getBoundingClientRect(); return [s.id, r.top + scrollY, r.height]; })"
        )
        for sid, top, height in sections:
            png = dt.screenshot(0, top, WIDTH, min(height, 4000))
            assert png[:8] == b"\x89PNG\r\n\x1a\n"
            (shots / f"{sid}.png").write_bytes(png)
        dt.drain()
        errors = dt.errors()
    assert errors == []
    assert images and all(i["ok"] for i in images), [i["alt"] for i in images if not i["ok"]]
    assert not any("radar" in i["alt"] for i in images)
    store = RunStore(run)
    scores = store.scores()
    store.close()
    assert sorted(forests) == sorted({s["task"] for s in scores})
    expected: dict[tuple[str, str, str], list[float]] = {}
    for s in scores:
        key = (s["task"], s["model"], category_of(s["dataset"]))
        expected.setdefault(key, []).append(s["metrics"][s["headline"]])
    assert len(cells) == len(expected)
    for c in cells:
        values = [v for v in expected[(c["task"], c["model"], c["category"])] if math.isfinite(v)]
        if not values:  # no value: shown as a dash, never as a number
            assert c["value"] == "nan" and c["text"] == "—"
            continue
        mean = sum(values) / len(values)
        assert math.isclose(float(c["value"]), mean, abs_tol=1e-12)
        assert c["text"] == f"{mean:.3f}"
    assert {s[0] for s in sections} >= {"summary", "results", "efficiency", "gallery", "recipe"}
    assert overlaps == []
