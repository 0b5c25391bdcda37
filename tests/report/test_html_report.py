"""The report files: numbers equal the run DB's, failures next to scores, escaping, merging."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from medmine.core import ImageRef, LabelTarget, Request, Response, Sample
from medmine.report.build import build_report
from medmine.report.html import GALLERY_EDGE
from medmine.run.runner import Job, Runner
from medmine.run.store import RunStore
from medmine.tasks.classification import ClassificationTask

LABELS = ("dark", "bright")
NOTICE = "SYNTHETIC demo data: these figures check the pipeline, not clinical skill."
SCRIPT = "<script>alert('x')</script>"


class Scripted:
    """A fake model: answers by sample index with a script of outcomes (right, wrong, ...)."""

    max_concurrency = 4

    def __init__(self, name: str, plan: dict[int, str], default: str = "right") -> None:
        self.name = name
        self.plan = plan
        self.default = default
        self.cache_id = f"test:{name}"

    def describe(self) -> dict[str, str]:
        """Recorded settings."""
        return {"provider": "test", "api_key_env": "NOT_A_SECRET"}

    async def generate(self, request: Request) -> Response:
        """Answer according to the plan."""
        i = int(request.intent.sample_id.rsplit("_", 1)[1])
        truth = LABELS[i % 2]
        what = self.plan.get(i, self.default)
        kw: dict[str, Any] = {"model": self.cache_id, "latency_s": 0.5 + 0.01 * i}
        kw["cost_usd"] = 0.001
        if what == "right":
            return Response(f'{{"label": "{truth}"}}', **kw)
        if what == "wrong":
            return Response(f'{{"label": "{LABELS[1 - i % 2]}"}}', **kw)
        if what == "dark":
            return Response('{"label": "dark"}', **kw)
        if what == "refuse":
            return Response(f"I cannot help with medical images. {SCRIPT}", refused=True, **kw)
        if what == "garbage":
            return Response("~~~ no idea ~~~", **kw)
        return Response("", error="HTTP 503: overloaded", error_kind="server", **kw)


def _samples(root: Path, dataset: str, n: int) -> list[Sample]:
    """n small PNG cases, alternating dark and bright."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        label = LABELS[i % 2]
        path = root / f"{dataset}_{i:02d}.png"
        level = 40 if label == "dark" else 210
        pixels = rng.normal(level, 10, (16, 16, 3)).clip(0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(path)
        out.append(
            Sample(
                f"{dataset}/s_{i:02d}",
                dataset,
                (ImageRef(path),),
                targets={"classification": LabelTarget(label, LABELS)},
            )
        )
    return out


def make_run(root: Path, models: list[Scripted] | None = None) -> Path:
    """A run: 'good' (1 refusal, 1 unparseable, 2 wrong), 'flaky' (3 provider errors), 'dark'.

    On ``toy`` (40 cases) 'good' beats both others significantly; on ``tiny`` (6 cases) nothing
    is significant.
    """
    run_dir = root / "run"
    store = RunStore(run_dir)
    if models is None:
        models = [
            Scripted("good", {2: "refuse", 3: "garbage", 5: "wrong", 7: "wrong"}),
            Scripted(
                "flaky", {0: "error", 1: "error", 4: "error", **{i: "wrong" for i in range(8, 20)}}
            ),
            Scripted("dark", {}, default="dark"),
        ]
    store.set_manifest(
        {
            "concurrency": {m.name: m.max_concurrency for m in models},
            "models": {m.name: m.describe() for m in models},
            "datasets": {"toy": {"notice": NOTICE}, "tiny": {"notice": NOTICE}},
            "suite": {"name": "handmade <suite>", "datasets": [{"name": "toy"}]},
        }
    )
    runner = Runner(store, None, progress=False)
    data = {"toy": _samples(root / "img", "toy", 40), "tiny": _samples(root / "img", "tiny", 6)}
    jobs = [
        Job(m, ClassificationTask(), ds, samples) for m in models for ds, samples in data.items()
    ]
    ready = asyncio.run(runner.run(jobs))
    runner.score(ready)
    store.close()
    return run_dir


class LeaderboardRows(HTMLParser):
    """Collects leaderboard rows: table attributes, row attributes, cells with attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self.table: dict[str, str | None] | None = None
        self.row: dict[str, Any] | None = None
        self.cell: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and "leaderboard" in (a.get("class") or ""):
            self.table = a
        elif tag == "tr" and self.table is not None and "data-model" in a:
            self.row = {"table": self.table, "attrs": a, "cells": []}
        elif tag == "td" and self.row is not None:
            self.cell = {"attrs": a, "text": ""}

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.row is not None and self.cell is not None:
            self.row["cells"].append(self.cell)
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.rows.append(self.row)
            self.row = None
        elif tag == "table":
            self.table = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell["text"] += data


def _rows(html: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    parser = LeaderboardRows()
    parser.feed(html)
    return {
        (r["table"]["data-task"], r["table"]["data-dataset"], r["attrs"]["data-model"]): r
        for r in parser.rows
    }


def _cell(row: dict[str, Any], cls: str | None = None, key: str | None = None) -> dict[str, Any]:
    for c in row["cells"]:
        if cls and cls in (c["attrs"].get("class") or "").split():
            return c
        if key and c["attrs"].get("data-key") == key:
            return c
    raise AssertionError(f"no cell {cls or key} in row")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("html_run"))


@pytest.fixture(scope="module")
def report(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_report([run_dir], tmp_path_factory.mktemp("out"), gallery_per_task=500)


def test_leaderboard_numbers_equal_the_run_database(run_dir: Path, report: dict[str, Path]) -> None:
    rows = _rows(report["html"].read_text(encoding="utf-8"))
    store = RunStore(run_dir)
    scores = store.scores()
    store.close()
    assert len(scores) == 6 and len(rows) == 6
    for sc in scores:
        row = rows[(sc["task"], sc["dataset"], sc["model"])]
        value = sc["metrics"][sc["headline"]]
        head = _cell(row, cls="headline")
        assert float(head["attrs"]["data-value"]) == value
        assert head["text"] == f"{value:.3f}"
        assert _cell(row, cls="n")["text"] == str(int(sc["metrics"]["n"]))
    # the scripted outcomes: good = 36/40 on toy, flaky = 25/40, dark = 20/40
    assert (
        float(_cell(rows[("classification", "toy", "good")], cls="headline")["attrs"]["data-value"])
        == 0.9
    )
    assert (
        float(
            _cell(rows[("classification", "toy", "flaky")], cls="headline")["attrs"]["data-value"]
        )
        == 25 / 40
    )


def test_failures_and_refusals_are_shown_next_to_the_scores(report: dict[str, Path]) -> None:
    rows = _rows(report["html"].read_text(encoding="utf-8"))
    good = rows[("classification", "toy", "good")]
    assert _cell(good, key="refusal_rate")["attrs"]["data-count"] == "1"
    assert _cell(good, key="refusal_rate")["text"] == "1 (2.5%)"
    assert _cell(good, key="parse_failure_rate")["text"] == "1 (2.5%)"
    assert _cell(good, key="error_rate")["text"] == "0 (0.0%)"
    assert _cell(good, key="truncated")["text"] == "0 (0.0%)"  # its own column
    flaky = rows[("classification", "toy", "flaky")]
    assert _cell(flaky, key="error_rate")["text"] == "3 (7.5%)"
    tiny = rows[("classification", "tiny", "flaky")]  # samples 0, 1, 4 of 6 failed
    assert _cell(tiny, key="error_rate")["text"] == "3 (50.0%)"
    md = report["md"].read_text(encoding="utf-8")
    assert re.search(
        r"\| good \| \*\*0\.900\*\* \| [^|]+ \| 40 \| 1 \(2\.5%\) \| 0 \(0\.0%\) \| 1 \(2\.5%\) \|",
        md,
    )


def test_best_is_bold_only_when_significant_after_holm(report: dict[str, Path]) -> None:
    html = report["html"].read_text(encoding="utf-8")
    rows = _rows(html)
    assert rows[("classification", "toy", "good")]["attrs"]["class"] == "best"
    for model in ("flaky", "dark"):
        assert rows[("classification", "toy", model)]["attrs"]["class"] == ""
        assert rows[("classification", "tiny", model)]["attrs"]["class"] == ""
    assert rows[("classification", "tiny", "good")]["attrs"]["class"] == ""
    assert "good is significantly better than every other model" in html
    assert "no significant difference" in html
    tex = report["tex"].read_text(encoding="utf-8")
    assert tex.count("\\textbf{") == 1 and "\\textbf{0.900}" in tex
    assert "\\toprule" in tex and "\\bottomrule" in tex
    assert "α" not in tex and "$\\alpha$" in tex  # pdflatex-safe


def test_html_is_self_contained_escaped_and_shows_the_notice(report: dict[str, Path]) -> None:
    html = report["html"].read_text(encoding="utf-8")
    assert re.search(r'class="notice"[^>]*>⚠ ' + re.escape(NOTICE), html)
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html  # the refusal, escaped
    assert "handmade &lt;suite&gt;" in html  # the recipe, escaped
    assert "data:image/svg+xml;base64," in html  # figures embedded
    assert "Measured at concurrency: " in html and "good = 4" in html
    assert "image not shown" in html  # the gallery says why there is no image


def test_csv_has_one_row_per_metric(run_dir: Path, report: dict[str, Path]) -> None:
    rows = list(csv.DictReader(io.StringIO(report["csv"].read_text(encoding="utf-8"))))
    outcomes = [r for r in rows if r["metric"].startswith("outcome_")]
    rows = [r for r in rows if not r["metric"].startswith("outcome_")]
    store = RunStore(run_dir)
    scores = store.scores()
    store.close()
    assert len(rows) == sum(len(s["metrics"]) for s in scores)
    # Each score's outcome counts sit next to it.
    assert len(outcomes) == sum(len(s["tables"].get("outcomes", {})) for s in scores)
    got = {(r["model"], r["dataset"], r["metric"]): float(r["value"]) for r in rows}
    for sc in scores:
        for k, v in sc["metrics"].items():
            if isinstance(v, float) and math.isnan(v):
                assert math.isnan(got[(sc["model"], sc["dataset"], k)])
            else:
                assert got[(sc["model"], sc["dataset"], k)] == v


def test_two_runs_merge_and_shared_model_names_get_the_run_suffix(tmp_path: Path) -> None:
    a = make_run(tmp_path / "a", [Scripted("good", {}), Scripted("dark", {}, default="dark")])
    b_root = tmp_path / "b"
    b = make_run(b_root, [Scripted("good", {1: "wrong"}), Scripted("other", {})])
    a_named, b_named = a.rename(tmp_path / "a" / "run-a"), b.rename(b_root / "run-b")
    out = build_report([a_named, b_named], tmp_path / "out", gallery_per_task=0)
    rows = _rows(out["html"].read_text(encoding="utf-8"))
    models = {m for (_, ds, m) in rows if ds == "toy"}
    assert models == {"good (run-a)", "good (run-b)", "dark", "other"}


def test_bad_arguments_raise_clear_errors(tmp_path: Path, run_dir: Path) -> None:
    with pytest.raises(ValueError, match="at least one run directory"):
        build_report([], tmp_path / "out")
    with pytest.raises(FileNotFoundError, match=r"run\.sqlite"):
        build_report([tmp_path], tmp_path / "out")
    with pytest.raises(ValueError, match="gallery_per_task"):
        build_report([run_dir], tmp_path / "out", gallery_per_task=-1)


def test_demo_run_gallery_embeds_downscaled_images(tmp_path: Path) -> None:
    from medmine.run.execute import RunOptions, execute
    from medmine.run.suite import load_suite

    opts = RunOptions(
        out=tmp_path / "demo",
        tasks=["classification", "segmentation"],
        datasets=["demo-dermatology"],
        limit=6,
        use_cache=False,
        progress=False,
    )
    execute(load_suite("demo"), opts)
    out = build_report([opts.out], tmp_path / "out", gallery_per_task=3, seed=1)
    html = out["html"].read_text(encoding="utf-8")
    uris = re.findall(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', html)
    assert uris, "no gallery image embedded"
    from base64 import b64decode

    for uri in uris:
        with Image.open(io.BytesIO(b64decode(uri))) as im:
            assert max(im.size) <= GALLERY_EDGE
    assert re.search(r'class="notice"', html)
    again = build_report([opts.out], tmp_path / "out2", gallery_per_task=3, seed=1)
    assert again["html"].read_text(encoding="utf-8") == html  # seeded: identical report


def test_the_gallery_takes_its_cases_from_the_datasets_the_run_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Right after a run the report does not read its datasets again (at 100,000 samples that
    cost seconds and a second copy in memory), and shows the very same report; a dataset
    not held, or missing a case, is read as before."""
    import medmine.datasets.sources as sources
    from medmine.run.execute import RunOptions, execute
    from medmine.run.suite import load_suite

    opts = RunOptions(
        out=tmp_path / "demo",
        tasks=["classification", "segmentation"],
        datasets=["demo-dermatology"],
        limit=6,
        use_cache=False,
        progress=False,
    )
    outcome = execute(load_suite("demo"), opts)
    assert [d.name for d in outcome.datasets] == ["demo-dermatology"]
    read_again = build_report([opts.out], tmp_path / "a", gallery_per_task=3, seed=1)
    reads: list[str] = []
    real = sources.load_for_suite

    def counting(spec, *args, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(spec.name)
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(sources, "load_for_suite", counting)
    loaded = {d.name: d for d in outcome.datasets}
    held = build_report([opts.out], tmp_path / "b", gallery_per_task=3, seed=1, loaded=loaded)
    assert reads == []
    html = held["html"].read_text(encoding="utf-8")
    assert html == read_again["html"].read_text(encoding="utf-8")
    assert "image not shown" not in html
    emptied = {n: dataclasses.replace(d, test=d.test[:1], support=[]) for n, d in loaded.items()}
    build_report([opts.out], tmp_path / "c", gallery_per_task=3, seed=1, loaded=emptied)
    assert reads == ["demo-dermatology"]  # cases missing from the held copy: read again


class _Batched(Scripted):
    """Answers like 'good' but as a provider batch API would: no latency, batch-priced."""

    async def generate(self, request: Request) -> Response:
        r = await super().generate(request)
        return Response(
            r.text,
            model=r.model,
            cost_usd=0.0005,
            refused=r.refused,
            extra={"batch": True, "batch_id": "batch_1"},
        )


def test_batch_answers_are_marked_in_the_efficiency_figures(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, [_Batched("batched", {}), Scripted("live", {})])
    html = build_report([run_dir], tmp_path / "out")["html"].read_text()
    assert "batch 100%" in html
    assert "answered (in that share) through a provider batch API" in html
