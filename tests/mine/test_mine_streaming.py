"""``medmine mine`` in every mode streams: the walk and the checks are lazy and bounded, the
Runner gets one chunk at a time, a killed run resumes from the store, a rerun reads no pixels,
and the outputs equal those of the in-memory path (images and ``--model`` reports)."""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from medmine.core import ObservationsTarget, Sample
from medmine.core import samples as core_samples
from medmine.datasets.report_text import jsonl_records, read_json_reports
from medmine.mine import chunked as chunked_mod
from medmine.mine import image_check, images
from medmine.mine.chunked import ask_chunks
from medmine.mine.image_check import BATCH, CheckSettings, ToCheck, check_files
from medmine.mine.image_stream import mine_images
from medmine.mine.images import FoundFile, MiningQuestion, build_inputs, walk_files
from medmine.mine.outputs import collect_results, write_outputs
from medmine.mine.reports import label_with_model, mine_reports, write_mined_csv
from medmine.mine.reports import read_report_source as read_whole
from medmine.models.resolve import resolve_model
from medmine.run.runner import Job, Runner
from medmine.run.store import RunStore
from medmine.tasks.diagnosis import DiagnosisTask

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chexpert"))
from report_corpus import make_archive_reports

SRC = Path(__file__).resolve().parents[2] / "src"
QUESTION = MiningQuestion("segmentation", structure="lesion")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))


def _lesion(path: Path, seed: int, size: int = 48) -> None:
    """A dark field with one bright blob at a seeded place (what otsu-lcc segments)."""
    rng = np.random.default_rng(seed)
    img = rng.integers(10, 40, (size, size), dtype=np.uint8)
    cy, cx, r = rng.integers(12, size - 12), rng.integers(12, size - 12), rng.integers(4, 9)
    yy, xx = np.ogrid[:size, :size]
    img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 220
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img, mode="L").save(path)


def _tree(root: Path, n: int = 24) -> Path:
    """n PNGs over nested folders, a truncated PNG and a text file."""
    for i in range(n):
        _lesion(root / f"site{i % 3}" / f"p{i % 5}" / f"img{i:03d}.png", i)
    good = (root / "site0/p0/img000.png").read_bytes()
    (root / "site1" / "broken.png").write_bytes(good[: len(good) // 2])
    (root / "notes.txt").write_text("scanned at site 3\n")
    return root


def _results(out: Path) -> dict[str, dict[str, Any]]:
    """results.jsonl by file, without the timing (which differs between two runs)."""
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("latency_s")
        r.pop("cached")
    return {r["file"]: r for r in rows}


def _in_memory(root: Path, out: Path, question: MiningQuestion, model_name: str) -> None:
    """The non-streamed path: every sample built, asked in one Runner.run, written at once."""
    from medmine.mine.command import _task_for, resolve_mining_model

    model = resolve_mining_model(model_name)
    task = _task_for(question, model)
    dataset = f"mine:{root.name}"
    inputs = build_inputs(root, question, out, dataset=dataset)
    store = RunStore(out)
    asyncio.run(
        Runner(store, None, progress=False).run([Job(model, task, dataset, inputs.samples)])
    )
    results = collect_results(store, model.name, task.name, dataset, inputs)
    store.close()
    write_outputs(results, task.name, out, labels=question.labels, structure=question.structure)


# ------------------------------------------------------------------------------ laziness
def test_the_walker_lists_one_folder_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "tree"
    for folder in ("b", "a", "c"):
        for name in ("2.png", "1.png"):
            (root / folder).mkdir(parents=True, exist_ok=True)
            (root / folder / name).write_bytes(b"x")
    listed: list[str] = []
    real = os.scandir

    def recording(path: Any) -> Any:
        listed.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(images.os, "scandir", recording)
    walk = walk_files(root)
    first = next(walk)
    assert first.rel == "a/1.png"
    assert listed == ["tree", "a"]  # folders b and c not even listed yet
    rest = [f.rel for f in walk]
    assert rest == ["a/2.png", "b/1.png", "b/2.png", "c/1.png", "c/2.png"]  # sorted per folder


@pytest.mark.parametrize("workers", [1, 2])
def test_checking_pulls_from_an_endless_walk_only_a_bounded_batch_ahead(
    tmp_path: Path, workers: int
) -> None:
    pulled = 0

    def endless() -> Any:
        nonlocal pulled
        for i in itertools.count():
            pulled += 1
            path = tmp_path / f"f{i}.bin"
            yield ToCheck(FoundFile(path, path.name, "other"), path.name, 1, 1)

    settings = CheckSettings(tmp_path, allow_burned_in=False, include_uids=False)
    batches = check_files(endless(), settings, workers)
    got = [next(batches) for _ in range(3)]
    assert [len(b) for b in got] == [BATCH] * 3
    assert all(r.reason and "not an image" in r.reason for r in got[2])
    assert pulled <= (3 + 2 * workers) * BATCH  # listing everything first would never return
    batches.close()


def test_the_runner_gets_one_chunk_at_a_time(tmp_path: Path) -> None:
    model = resolve_model("chexpert-rules")
    task = DiagnosisTask(source="text")
    store = RunStore(tmp_path)
    answered_when_built: list[int] = []

    def chunks() -> Any:
        for k in range(4):
            answered_when_built.append(len(store.answered(model.name, task.name, "d")))
            yield [
                Sample(
                    id=f"r{k}-{i}",
                    dataset="d",
                    text="Small left pleural effusion. No pneumothorax.",
                    targets={"diagnosis": ObservationsTarget({})},
                    category="reports",
                )
                for i in range(5)
            ]

    runner = ask_chunks(
        store, None, model, task, "d", chunks(), max_cost=None, concurrency=None, progress=False
    )
    store.close()
    assert answered_when_built == [0, 5, 10, 15]  # each chunk is asked before the next is built
    assert runner.summary.asked == 20


# ------------------------------------------------------------------------------ images
def test_streamed_images_equal_the_in_memory_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _tree(tmp_path / "tree")
    monkeypatch.setattr(chunked_mod, "CHUNK", 7)  # several chunks, the last one short
    for question, model in (
        (QUESTION, "otsu-lcc"),
        (MiningQuestion("localization", structure="heart"), "landmark-intensity"),
    ):
        want, got = tmp_path / f"want_{model}", tmp_path / f"got_{model}"
        _in_memory(root, want, question, model)
        outcome = mine_images(
            root, question, model, got, say=lambda _: None, progress=False, use_cache=False,
            workers=2, anonymize_ids=False,
        )  # fmt: skip
        assert outcome.summary.asked == 24 and outcome.statuses == {"ok": 24, "skipped": 2}
        assert _results(got) == _results(want)
        for name in ("skipped.csv", "detections.coco.json"):
            assert (got / name).exists() == (want / name).exists()
            if (want / name).exists():
                assert (got / name).read_bytes() == (want / name).read_bytes()
        masks = (
            sorted(p.relative_to(want) for p in (want / "masks").rglob("*.png"))
            if (want / "masks").exists()
            else []
        )
        for rel in masks:
            assert (got / rel).read_bytes() == (want / rel).read_bytes()
    # The driver's hash memo holds none of the tree's files once the run is over.
    assert not [k for k in core_samples._HASH_CACHE if k[0].startswith(str(root))]


def test_a_rerun_reads_no_pixels_and_rechecks_only_changed_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _tree(tmp_path / "tree")
    out = tmp_path / "out"
    mine_images(root, QUESTION, "otsu-lcc", out, say=lambda _: None, progress=False, workers=1)
    checked: list[str] = []
    real_check = image_check.check_one
    monkeypatch.setattr(
        image_check, "check_one", lambda item, s: checked.append(item.ident) or real_check(item, s)
    )
    opened: list[str] = []
    real_open = Image.open
    monkeypatch.setattr(
        Image, "open", lambda p, *a, **k: opened.append(str(p)) or real_open(p, *a, **k)
    )
    again = mine_images(
        root, QUESTION, "otsu-lcc", out, say=lambda _: None, progress=False, workers=1
    )
    assert again.summary.asked == 0 and again.summary.resumed == 24
    assert checked == [] and not [p for p in opened if p.startswith(str(root))]
    # One image rewritten, one added, one removed: only those two are checked and asked.
    _lesion(root / "site0/p0/img000.png", 999)
    _lesion(root / "site2/new.png", 1000)
    (root / "site1/p1/img001.png").unlink()
    third = mine_images(
        root, QUESTION, "otsu-lcc", out, say=lambda _: None, progress=False, workers=1
    )
    assert sorted(checked) == ["site0/p0/img000.png", "site2/new.png"]
    assert third.summary.asked == 2 and third.summary.resumed == 22
    files = _results(out)
    assert "site1/p1/img001.png" not in files and files["site2/new.png"]["status"] == "ok"


_CHILD = """
import asyncio, sys
from pathlib import Path
from medmine.baselines.otsu_lcc import OtsuLCC
real = OtsuLCC.generate
async def slow(self, request):
    await asyncio.sleep(0.15)
    return await real(self, request)
OtsuLCC.generate = slow
from medmine.mine.images import MiningQuestion
from medmine.mine.image_stream import mine_images
mine_images(Path(sys.argv[1]), MiningQuestion("segmentation", structure="lesion"), "otsu-lcc",
            Path(sys.argv[2]), say=lambda _: None, progress=False, concurrency=1, workers=1)
"""


def test_a_killed_image_run_resumes_from_the_store(tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree")
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", textwrap.dedent(_CHILD), str(root), str(out)]
    answered = _kill_when_answered(cmd, out / "run.sqlite", 6)
    assert 6 <= answered < 24
    resumed = mine_images(root, QUESTION, "otsu-lcc", out, say=lambda _: None, progress=False)
    s = resumed.summary
    assert s.resumed >= answered and s.asked + s.from_cache + s.resumed == 24
    want = tmp_path / "want"
    _in_memory(root, want, QUESTION, "otsu-lcc")
    assert _results(out) == _results(want)


# ------------------------------------------------------------------------------ reports
def _jsonl(path: Path) -> Path:
    """Reports as JSON Lines the way exports come: CRLF, a blank line, an id repeated, a line
    cut off, a U+2028 inside a string (valid JSON; the whole-file reader splits lines there,
    and the streamed one must do the same), one latin-1 byte."""
    texts = make_archive_reports(40, seed=3)
    lines = [json.dumps({"id": f"s{i % 37}", "text": t, "site": "A"}) for i, t in enumerate(texts)]
    lines[5] = json.dumps({"id": "x", "text": "FINDINGS: Clear lungs.\u2028IMPRESSION: Normal."},
                          ensure_ascii=False)  # fmt: skip
    lines[9] = lines[9][:30]
    lines[12] = json.dumps({"id": "y", "text": "IMPRESSION: Heart size normal ZZ."})
    raw = "\r\n".join([*lines[:20], "", *lines[20:]]).encode("utf-8")
    path.write_bytes(raw.replace(b"normal ZZ", b"normal \xe9", 1))
    return path


def test_jsonl_is_read_line_by_line_into_the_same_records(tmp_path: Path) -> None:
    src = _jsonl(tmp_path / "reports.jsonl")
    whole = read_json_reports(src)
    streamed = list(jsonl_records(src))
    assert [(r.id, r.text, r.sections, r.metadata, r.warnings) for r in streamed] == [
        (r.id, r.text, r.sections, r.metadata, r.warnings) for r in whole
    ]
    assert any("invalid JSON" in w for r in whole for w in r.warnings)
    assert any("non-UTF-8" in w for r in whole for w in r.warnings)


def test_jsonl_with_the_rules_streams_into_the_same_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medmine.mine import stream_csv
    from medmine.mine.report_labels import label_with_rules

    monkeypatch.setattr(stream_csv, "CHUNK", 7)
    pulled = 0
    real = stream_csv.jsonl_records

    def counting(*args: Any) -> Any:
        nonlocal pulled
        for rec in real(*args):
            pulled += 1
            yield rec

    src = _jsonl(tmp_path / "reports.jsonl")
    monkeypatch.setattr(stream_csv, "jsonl_records", counting)
    summary = mine_reports(src, tmp_path / "got.csv")
    assert pulled == summary.n and summary.layout == "full"
    whole = read_json_reports(src)
    write_mined_csv(label_with_rules(whole, 20000), tmp_path / "want.csv", "full")
    assert (tmp_path / "got.csv").read_bytes() == (tmp_path / "want.csv").read_bytes()


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_streamed_model_labels_equal_the_in_memory_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    if kind == "jsonl":
        src, opts = _jsonl(tmp_path / "reports.jsonl"), {}
    else:
        src, opts = tmp_path / "reports.csv", {"column": "report"}
        with src.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "report"])
            w.writerows([f"acc{i}", t] for i, t in enumerate(make_archive_reports(45, seed=4)))
    monkeypatch.setattr(chunked_mod, "CHUNK", 8)
    got = mine_reports(src, tmp_path / "got.csv", model="chexpert-rules", progress=False, **opts)
    records, _ = read_whole(src, **opts)
    rows, _ = label_with_model(
        records, "chexpert-rules", tmp_path / "ref.run", dataset=f"mine:{src.name}",
        max_chars=20000, progress=False,
    )  # fmt: skip
    write_mined_csv(rows, tmp_path / "want.csv", "full")
    assert (tmp_path / "got.csv").read_bytes() == (tmp_path / "want.csv").read_bytes()
    assert got.n == len(records) and got.asked + got.from_cache == got.statuses["ok"]


_REPORT_CHILD = """
import asyncio, sys
from pathlib import Path
from medmine.baselines.reports import ChexpertRules
real = ChexpertRules.generate
async def slow(self, request):
    await asyncio.sleep(0.1)
    return await real(self, request)
ChexpertRules.generate = slow
from medmine.mine import chunked
chunked.CHUNK = 5
from medmine.mine.reports import mine_reports
mine_reports(Path(sys.argv[1]), Path(sys.argv[2]), column="report", model="chexpert-rules",
             progress=False)
"""


def _kill_when_answered(cmd: list[str], db: Path, at_least: int) -> int:
    """Start ``cmd``, SIGKILL it once ``db`` holds ``at_least`` answers; how many it held."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    child = subprocess.Popen(cmd, env=env)
    deadline, answered = time.monotonic() + 120, 0
    while time.monotonic() < deadline and child.poll() is None and answered < at_least:
        if db.exists():
            try:
                con = sqlite3.connect(db, timeout=5)
                answered = con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
                con.close()
            except sqlite3.OperationalError:
                answered = 0
        time.sleep(0.05)
    assert child.poll() is None, "the child finished before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    return answered


def test_a_killed_model_run_over_reports_resumes_from_the_store(tmp_path: Path) -> None:
    src = tmp_path / "reports.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "report"])
        w.writerows([f"acc{i}", t] for i, t in enumerate(make_archive_reports(30, seed=5)))
    out = tmp_path / "got.csv"
    cmd = [sys.executable, "-c", textwrap.dedent(_REPORT_CHILD), str(src), str(out)]
    answered = _kill_when_answered(cmd, tmp_path / "got.run" / "run.sqlite", 8)
    assert 8 <= answered < 30 and not out.exists()  # no table until every report is asked
    resumed = mine_reports(src, out, column="report", model="chexpert-rules", progress=False)
    assert (
        resumed.resumed >= answered and resumed.asked + resumed.from_cache + resumed.resumed == 30
    )
    records, _ = read_whole(src, column="report")
    rows, _ = label_with_model(
        records, "chexpert-rules", tmp_path / "ref.run", dataset=f"mine:{src.name}",
        max_chars=20000, progress=False, use_cache=False,
    )  # fmt: skip
    write_mined_csv(rows, tmp_path / "want.csv", "full")
    assert out.read_bytes() == (tmp_path / "want.csv").read_bytes()


# ------------------------------------------------------------------------------ ray
@pytest.fixture(scope="module")
def local_ray() -> Any:
    from medmine.run.ray_setup import LOCAL_RAY_ENV, ray_installed, start_local_ray

    if not ray_installed():
        pytest.skip("mine --executor ray needs ray: pip install 'medmine[ray]'")
    saved = {k: os.environ.get(k) for k in LOCAL_RAY_ENV}
    import ray

    start_local_ray(num_cpus=2)
    try:
        yield ray
    finally:
        ray.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_ray_mines_images_and_reports_like_the_local_process(
    local_ray: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medmine.mine.report_source import mine_report_source

    monkeypatch.setattr(chunked_mod, "CHUNK", 10)
    root = _tree(tmp_path / "tree")
    local = mine_images(root, QUESTION, "otsu-lcc", tmp_path / "l", say=lambda _: None,
                        progress=False, use_cache=False)  # fmt: skip
    ray_opts: dict[str, Any] = {"executor": "ray", "ray_workers": 2}
    on_ray = mine_images(root, QUESTION, "otsu-lcc", tmp_path / "r", say=lambda _: None,
                         progress=False, use_cache=False, **ray_opts)  # fmt: skip
    assert on_ray.summary.asked == local.summary.asked == 24
    assert _results(tmp_path / "r") == _results(tmp_path / "l")
    store = RunStore(tmp_path / "r")
    executor = store.manifest()["executor"]
    store.close()
    assert executor["executor"] == "ray" and executor["workers"] == 2
    assert sum(executor["models"]["otsu-lcc"]["requests_per_worker"].values()) == 24
    src = _jsonl(tmp_path / "reports.jsonl")
    outs = {}
    for name, extra in (("local", {}), ("ray", {"executor": "ray", "ray_workers": 2})):
        outcome = mine_report_source(src, "chexpert-rules", tmp_path / f"rep_{name}",
                                     say=lambda _: None, progress=False, use_cache=False,
                                     **extra)  # fmt: skip
        outs[name] = outcome.written[0].read_bytes()
    assert outs["ray"] == outs["local"]
    # The same command again resumes from the store on Ray too: nothing is asked twice.
    again = mine_images(root, QUESTION, "otsu-lcc", tmp_path / "r", say=lambda _: None,
                        progress=False, use_cache=False, **ray_opts)  # fmt: skip
    assert again.summary.asked == 0 and again.summary.resumed == 24
