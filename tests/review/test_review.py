"""The review's parts without a browser: Wilson intervals and plan sizes, the stratified plan,
decisions in run.sqlite (append-only, resume), the token guard, corrections, the export; on a
real evaluation run of the demo (classification by two models, diagnosis from report text)."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from medmine.review.items import Answer, ReviewItem
from medmine.review.plan import PlanSpec, draw_plan
from medmine.review.precision import precision_table, sample_size, wilson
from medmine.review.session import ReviewError, ReviewSession, phrase_spans

SRC = Path(__file__).parents[2] / "src"


@pytest.fixture(scope="module")
def eval_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``medmine run demo`` on 4 samples per dataset, classification and diagnosis."""
    base = tmp_path_factory.mktemp("review_eval")
    env = {
        **__import__("os").environ,
        "MEDMINE_CACHE_DIR": str(base / "cache"),
        "PYTHONPATH": str(SRC),
    }
    out = base / "run"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "medmine",
            "run",
            "demo",
            "--limit",
            "4",
            "--task",
            "diagnosis",
            "--task",
            "classification",
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.fixture
def run_copy(eval_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import shutil

    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(eval_run.parent / "cache"))
    dst = tmp_path / "run"
    shutil.copytree(eval_run, dst)
    return dst


# ----------------------------------------------------------------------------- statistics
@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 1), (8, 10), (3, 40), (97, 100), (0, 25)])
def test_wilson_matches_statsmodels(k: int, n: int) -> None:
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    lo, hi = proportion.proportion_confint(k, n, alpha=0.05, method="wilson")
    assert wilson(k, n) == pytest.approx((lo, hi), abs=1e-12)


def test_wilson_rejects_impossible_counts_and_knows_nothing_at_zero() -> None:
    assert wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="k <= n"):
        wilson(5, 3)


def test_sample_size_is_the_smallest_n_reaching_the_width() -> None:
    for width in (0.1, 0.2, 0.3):
        n = sample_size(width)
        lo, hi = wilson(n // 2, n) if n % 2 == 0 else (0.0, 1.0)
        if n % 2 == 0:
            assert hi - lo <= width + 1e-9
        half = [wilson(m // 2, m) for m in (n - 2, n - 3) if m > 0 and m % 2 == 0]
        assert all(h - lo_ > width for lo_, h in half)
    assert sample_size(0.2) == 93
    assert sample_size(0.2, population=12) == 12
    with pytest.raises(ValueError, match="between 0 and 1"):
        sample_size(0)


def test_precision_counts_kept_labels_and_leaves_unreadable_out() -> None:
    predicted = {
        "a": frozenset({"x"}),
        "b": frozenset({"x"}),
        "c": frozenset({"y"}),
        "d": frozenset({"x"}),
    }
    reviewed = {"a": frozenset({"x"}), "b": frozenset({"y"}), "d": None}
    rows = {r.label: r for r in precision_table(predicted, reviewed)}
    assert (rows["x"].predicted, rows["x"].reviewed, rows["x"].correct) == (3, 2, 1)
    assert rows["x"].unreadable == 1 and rows["x"].precision == 0.5
    assert rows["y"].reviewed == 0 and math.isnan(rows["y"].precision)


# ----------------------------------------------------------------------------- plan
def _item(i: int, label: str, other: str | None = None) -> ReviewItem:
    ans = Answer("m", "ok", {"label": label}, label)
    others = [Answer("o", "ok", {"label": other}, other)] if other else []
    return ReviewItem("classification", "d", f"s{i:03d}", ans, others)


def test_plan_samples_each_label_for_the_width_and_interleaves_strata() -> None:
    items = [_item(i, "common") for i in range(300)] + [_item(300 + i, "rare") for i in range(7)]
    plan = draw_plan(items, PlanSpec(width=0.2, seed=1))
    counts = Counter(r.stratum for r in plan)
    assert counts == {"common": 93, "rare": 7}
    assert [r.stratum for r in plan[:4]] == ["common", "rare", "common", "rare"]
    assert plan == draw_plan(items, PlanSpec(width=0.2, seed=1))  # seeded
    assert plan != draw_plan(items, PlanSpec(width=0.2, seed=2))
    assert len(draw_plan(items, PlanSpec(everything=True))) == 307


def test_plan_puts_disagreements_first_when_asked() -> None:
    items = [_item(i, "a", "a" if i % 5 else "b") for i in range(40)]
    plan = draw_plan(items, PlanSpec(disagreements_first=True))
    flags = [r.disagreement for r in plan]
    assert flags == sorted(flags, reverse=True) and sum(flags) == 8


# ----------------------------------------------------------------------------- session
def test_evaluation_run_items_show_disagreement_text_highlights_and_labels(run_copy: Path) -> None:
    s = ReviewSession(run_copy, reviewer="dr a")
    try:
        payloads = [s.item_payload(i) for i in range(len(s.plan))]
    finally:
        s.close()
    cls = [p for p in payloads if p["task"] == "classification"]
    diag = [p for p in payloads if p["task"] == "diagnosis"]
    assert cls and diag
    assert all(p["has_image"] and p["missing"] is None for p in cls)
    assert all(p["others"] and p["others"][0]["model"] != p["answer"]["model"] for p in cls)
    assert any(p["disagreement"] for p in cls)
    assert set(cls[0]["choices"]) >= set(cls[0]["predicted"])
    for p in diag:
        assert p["text"] and p["others"][-1]["model"] == "chexpert rule labeler"
        for span in p["highlights"]:
            assert p["text"][span["start"] : span["end"]].strip()


def test_decisions_are_saved_at_once_and_the_review_resumes(run_copy: Path) -> None:
    s = ReviewSession(run_copy, reviewer="dr a")
    first = s.item_payload(0)
    s.decide(0, "accept")
    s.decide(1, "unreadable")
    s.decide(1, "accept")  # a change of mind: the latest decision counts
    s.close()
    again = ReviewSession(run_copy, reviewer="dr b")
    try:
        assert again.resume_position() == 2
        decisions = again.decisions()
        assert decisions[first["key"]].action == "accept"
        assert decisions[first["key"]].reviewer == "dr a"
        assert again.store.history_size() == 3
        assert again.state()["decided"] == 2
    finally:
        again.close()


def test_a_different_plan_is_refused_unless_replanned(run_copy: Path) -> None:
    ReviewSession(run_copy, reviewer="a").close()
    with pytest.raises(ReviewError, match="--replan"):
        ReviewSession(run_copy, reviewer="a", spec=PlanSpec(seed=5))
    s = ReviewSession(run_copy, reviewer="a", spec=PlanSpec(seed=5), replan=True)
    assert s.store.plan_params() == PlanSpec(seed=5).params()
    s.close()


def test_bad_corrections_are_refused_with_the_reason(run_copy: Path) -> None:
    s = ReviewSession(run_copy, reviewer="a")
    try:
        pos = next(i for i in range(len(s.plan)) if s.item_payload(i)["task"] == "classification")
        with pytest.raises(ReviewError, match="needs a label"):
            s.decide(pos, "correct", {"label": ""})
        with pytest.raises(ValueError, match="action must be one of"):
            s.decide(pos, "maybe")
        d = s.decide(pos, "correct", {"label": "mel"})
        assert d.value == {"label": "mel"}
    finally:
        s.close()


def test_missing_run_and_empty_reviewer_are_clear_errors(tmp_path: Path, run_copy: Path) -> None:
    with pytest.raises(ReviewError, match=r"no run\.sqlite"):
        ReviewSession(tmp_path, reviewer="a")
    with pytest.raises(ReviewError, match="--reviewer"):
        ReviewSession(run_copy, reviewer=" ")
    with pytest.raises(ValueError, match="answered nothing"):
        ReviewSession(run_copy, reviewer="a", model="gpt-9")


def test_phrase_spans_find_the_labelers_phrases_in_the_original_text() -> None:
    text = (
        "FINDINGS: Mild  Cardiomegaly. No pleural effusion. Possible pleural thickening.\n"
        "IMPRESSION: Pneumonia. Bibasilar atelectasis."
    )
    spans = phrase_spans(text)
    found = {text[s["start"] : s["end"]].lower(): s["observation"] for s in spans}
    assert found["cardiomegaly"] == "Cardiomegaly"
    assert found["effusion"] == "Pleural Effusion"  # the labeler's own phrase
    assert found["pneumonia"] == "Pneumonia"
    assert found["atelectasis"] == "Atelectasis"  # the labeler's stem "atelecta", whole word
    assert found["pleural thickening"] == "Pleural Other"  # the longer phrase wins


# ----------------------------------------------------------------------------- web app
def test_token_guard_refuses_without_token_and_other_hosts(run_copy: Path) -> None:
    testclient = pytest.importorskip("starlette.testclient")
    from medmine.review.app import build_app

    s = ReviewSession(run_copy, reviewer="a")
    try:
        app = build_app(s, "secret-token")
        local = testclient.TestClient(app, base_url="http://127.0.0.1:8123")
        assert local.get("/").status_code == 403
        assert local.get("/api/item/0?token=nope").status_code == 403
        assert local.get("/?token=secret-token").status_code == 200
        ok = local.get("/api/item/0", headers={"X-Review-Token": "secret-token"})
        assert ok.status_code == 200 and ok.json()["position"] == 0
        assert local.get("/api/item/999?token=secret-token").status_code == 404
        bad = local.post("/api/decide/0?token=secret-token", json={"action": "nope"})
        assert bad.status_code == 400 and "action" in bad.json()["error"]
        rebinding = testclient.TestClient(app, base_url="http://attacker.example:8123")
        assert rebinding.get("/?token=secret-token").status_code == 403
    finally:
        s.close()


def test_export_writes_labels_with_who_and_when_and_the_precision_table(
    run_copy: Path, tmp_path: Path
) -> None:
    from medmine.review.export import export

    s = ReviewSession(run_copy, reviewer="dr a")
    try:
        s.decide(0, "accept")
        s.decide(1, "unreadable")
        written = export(s, tmp_path / "out")
        precision = {r.label: r for r in s.precision()}
    finally:
        s.close()
    names = {p.name for p in written}
    assert {"reviewed_labels.csv", "reviewed.coco.json", "precision.csv"} <= names
    with (tmp_path / "out" / "reviewed_labels.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["decision"] for r in rows] == ["accept", "unreadable"]
    assert all(r["reviewer"] == "dr a" and r["reviewed_at"].endswith("+00:00") for r in rows)
    with (tmp_path / "out" / "precision.csv").open(newline="") as fh:
        table = {r["label"]: r for r in csv.DictReader(fh)}
    for label, row in precision.items():
        assert int(table[label]["reviewed"]) == row.reviewed
        assert float(table[label]["ci95_high"]) == pytest.approx(row.interval[1], abs=1e-4)
