"""Answers are committed in bounded batches, and a kill loses at most one of them (issue 19)."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from medmine.core import GenerationSettings, ImageRef, ParseStatus, Prediction, Request, Response
from medmine.core.requests import user_request
from medmine.run.runner import Job, Runner
from medmine.run.store import ResponseCache, RunStore
from medmine.run.writes import FLUSH_AFTER_S, FLUSH_EVERY, WriteBuffer, connect
from medmine.tasks.classification import ClassificationTask

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import fast_run  # noqa: E402

N_KILL = 4000


def _count(path: Path, table: str = "results") -> int:
    """Rows another process would see (a separate connection: committed rows only)."""
    con = sqlite3.connect(path)
    try:
        return int(con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        con.close()


def _ids(path: Path, table: str) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute(f"SELECT sample_id FROM {table}")}
    finally:
        con.close()


def _result(store: RunStore, sid: str) -> None:
    store.put_result(
        "m", "t", "d", sid, 0, "h", Response("x", "m"), False, Prediction("x", ParseStatus.OK)
    )


# -- the buffer ------------------------------------------------------------------------------
def test_a_batch_is_committed_when_full(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    con = connect(path)
    con.execute("CREATE TABLE t (v INTEGER)")
    buf = WriteBuffer(con, every=3, max_age_s=3600)
    buf.add("INSERT INTO t VALUES (?)", (1,))
    buf.add("INSERT INTO t VALUES (?)", (2,))
    assert _count(path, "t") == 0 and len(buf) == 2
    buf.add("INSERT INTO t VALUES (?)", (3,))
    assert _count(path, "t") == 3 and len(buf) == 0
    assert buf.commits == 1
    con.close()


def test_a_batch_is_committed_when_its_oldest_row_is_old_enough(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    con = connect(path)
    con.execute("CREATE TABLE t (v INTEGER)")
    now = [0.0]
    buf = WriteBuffer(con, every=1000, max_age_s=0.5, clock=lambda: now[0])
    buf.add("INSERT INTO t VALUES (?)", (1,))
    now[0] = 0.4
    buf.add("INSERT INTO t VALUES (?)", (2,))
    assert _count(path, "t") == 0 and not buf.due()
    now[0] = 0.5
    assert buf.due()
    buf.add("INSERT INTO t VALUES (?)", (3,))
    assert _count(path, "t") == 3
    con.close()


def test_an_unmark_and_a_later_mark_of_the_same_request_keep_their_order(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.writes.every = 1000
    ident = ("m", "t", "d", "s1", 0)
    store.writes.add(store.ledger.MARK, (*ident, "k", 1.0))
    store.ledger.landed(*ident)
    store.writes.add(store.ledger.MARK, (*ident, "k", 2.0))
    _result(store, "s1")
    assert store.ledger.in_flight() == [ident]  # mark, unmark, mark: still marked
    store.ledger.landed(*ident)
    assert store.ledger.in_flight() == []
    store.close()


def test_readers_see_every_write_and_close_commits_the_rest(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    for i in range(5):
        _result(store, f"s{i}")
    assert _count(store.path) == 0  # not committed yet
    assert len(list(store.results())) == 5  # but this store's readers see them
    _result(store, "s5")
    store.close()
    assert _count(store.path) == 6


# -- in a run ---------------------------------------------------------------------------------
class _Instant:
    name = "instant"
    cache_id = "test:instant"
    max_concurrency = 16

    def __init__(self, answers: dict[str, Response] | None = None) -> None:
        self.answers = answers or {}

    def describe(self) -> dict[str, str]:
        return {"provider": "test"}

    async def generate(self, request: Request) -> Response:
        sid = request.intent.sample_id
        return self.answers.get(sid) or Response('{"label": "normal"}', self.cache_id)


def test_a_run_commits_a_few_batches_not_one_per_answer(tmp_path: Path) -> None:
    samples = fast_run.samples(tmp_path / "img", 1000)
    store = RunStore(tmp_path / "run")
    cache = ResponseCache(tmp_path / "cache")
    runner = Runner(store, cache, progress=False)
    ready = asyncio.run(runner.run([Job(_Instant(), ClassificationTask(), "kill", samples)]))
    commits = store.writes.commits
    # results, outcomes and in-flight ends (3 rows a sample) in 256-row batches, plus one
    # commit marking each window of 256 requests in flight: about 16, never ~3000.
    assert commits <= 3 * 1000 // FLUSH_EVERY + 1000 // FLUSH_EVERY + 4
    runner.score(ready)
    store.close()
    cache.close()
    assert _count(tmp_path / "run" / "run.sqlite") == 1000
    assert _count(tmp_path / "run" / "run.sqlite", "outcomes") == 1000
    assert _count(tmp_path / "run" / "run.sqlite", "in_flight") == 0
    # 8 images and one prompt make 8 distinct requests: each asked once, the rest answered
    # from the cache (a twin's answer is served before its batch is committed)
    assert _count(tmp_path / "cache" / "responses.sqlite", "responses") == 8
    assert runner.summary.asked == 8 and runner.summary.from_cache == 992


def test_a_slow_run_commits_every_half_second_without_new_writes(tmp_path: Path) -> None:
    """A model answering every 0.1 s: answers reach the disk within ~0.5 s, not per batch."""
    seen: list[int] = []
    db = tmp_path / "run" / "run.sqlite"

    class Slow(_Instant):
        max_concurrency = 1

        async def generate(self, request):  # type: ignore[no-untyped-def]
            if request.intent.sample_id == "s00014":
                seen.append(_count(db))  # what a kill right now would leave
            await asyncio.sleep(0.1)
            return await super().generate(request)

    store = RunStore(tmp_path / "run")
    runner = Runner(store, None, progress=False)
    asyncio.run(
        runner.run(
            [Job(Slow(), ClassificationTask(), "kill", fast_run.samples(tmp_path / "img", 16))]
        )
    )
    store.close()
    # 14 answers took 1.4 s; at most the last ~0.5 s (+ one timer tick) is uncommitted.
    window = int((FLUSH_AFTER_S + FLUSH_AFTER_S / 5) / 0.1) + 1
    assert seen and 14 - window <= seen[0] < 14


def test_failed_and_truncated_answers_are_never_cached(tmp_path: Path) -> None:
    samples = fast_run.samples(tmp_path / "img", 40)
    truncated = Response(
        '{"label": "pneu',
        "test:instant",
        finish_reason="length",
        error="truncated: the answer was cut at the output limit of 8 tokens "
        "(finish reason length)",
        error_kind="truncated",
    )
    failed = Response("", "test:instant", error="HTTP 503: overloaded", error_kind="server")
    answers = {s.id: truncated for s in samples[:10]} | {s.id: failed for s in samples[10:20]}
    store = RunStore(tmp_path / "run")
    cache = ResponseCache(tmp_path / "cache")
    runner = Runner(store, cache, progress=False)
    asyncio.run(runner.run([Job(_Instant(answers), ClassificationTask(), "kill", samples)]))
    store.close()
    cache.close()
    # 8 distinct requests (8 images); only answers of samples 20.. were good enough to keep
    good = {s.images[0].path for s in samples[20:]}
    assert _count(tmp_path / "cache" / "responses.sqlite", "responses") == len(good)
    ends = RunStore(tmp_path / "run").ledger.counts()
    assert ends == {
        ("instant", "truncated"): 10,
        ("instant", "provider_error"): 10,
        ("instant", "ok"): 20,
    }


def test_cache_keys_are_those_of_before(tmp_path: Path) -> None:
    """The request hash is unchanged by the faster key (existing caches keep answering)."""
    import hashlib

    img = fast_run.samples(tmp_path / "img", 1)[0].images[0]
    settings = GenerationSettings(temperature=0.7, max_tokens=64, seed=3, structured=True)
    req = user_request("classification", "s1", [img], "Which?", settings, {"type": "object"})
    payload = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "parts": [{"image": img.content_hash(), "frame": None}, {"text": "Which?"}],
            }
        ],
        "settings": asdict(settings),
        "schema": {"type": "object"},
        "repeat": 0,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert req.key("m") == hashlib.sha256(blob.encode()).hexdigest()
    assert isinstance(img, ImageRef)


# -- killed runs --------------------------------------------------------------------------------
def _start(out: Path, log: Path, delay: float = 0.002) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, str(HERE / "fast_run.py"), str(out), str(N_KILL), str(log), str(delay)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(proc: subprocess.Popen[bytes], db: Path, log: Path, rows: int) -> None:
    """Wait until ``rows`` answers are committed (the first answer comes after the schema)."""
    deadline = time.monotonic() + 120
    while not _logged(log) or _count(db) < rows:
        assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.005)


def _logged(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_sigkill_loses_at_most_one_batch_and_the_rerun_asks_only_the_missing(
    tmp_path: Path,
) -> None:
    out, log1, log2 = tmp_path / "run", tmp_path / "asked1.log", tmp_path / "asked2.log"
    db = out / "run.sqlite"
    proc = _start(out, log1)
    _wait_for(proc, db, log1, 2 * FLUSH_EVERY)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept, answered = _ids(db, "results"), set(_logged(log1))
    assert len(kept) < N_KILL, "the kill should land mid-run"
    assert kept <= answered
    lost = answered - kept
    # At most the batch being filled, plus answers of the 8 requests in flight at the kill.
    assert len(lost) <= FLUSH_EVERY + fast_run.CONCURRENCY
    # Every request sent without its answer kept is marked in flight (resent knowingly).
    assert lost <= _ids(db, "in_flight")
    assert _ids(db, "outcomes") == kept  # answer and outcome are committed together

    done = subprocess.run(
        [sys.executable, str(HERE / "fast_run.py"), str(out), str(N_KILL), str(log2), "0"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    asked_again = _logged(log2)
    everyone = {f"s{i:05d}" for i in range(N_KILL)}
    assert len(asked_again) == len(set(asked_again))  # nobody asked twice in the rerun
    assert set(asked_again) == everyone - kept  # exactly the missing, none already kept
    assert json.loads(done.stdout.splitlines()[-1])["resent"] >= len(lost)
    assert _ids(db, "results") == everyone
    assert _count(db, "outcomes") == N_KILL and _count(db, "in_flight") == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_saves_every_answer_and_records_the_rest(
    tmp_path: Path, sig: signal.Signals
) -> None:
    out, log = tmp_path / "run", tmp_path / "asked.log"
    db = out / "run.sqlite"
    proc = _start(out, log, delay=0.005)
    _wait_for(proc, db, log, FLUSH_EVERY)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr.decode()
    assert json.loads(stdout.decode().splitlines()[-1])["interrupted"]
    kept = _ids(db, "results")
    assert kept == set(_logged(log))  # no answer the run had in hand was lost
    assert len(kept) < N_KILL
    assert _count(db, "outcomes") == N_KILL  # the unsent ones end as not_sent_stop
    assert _count(db, "in_flight") == 0


def test_a_window_is_marked_in_flight_on_disk_before_its_first_request_goes_out(
    tmp_path: Path,
) -> None:
    """What makes a SIGKILL mid-request visible on resume: the marks are committed first."""
    db = tmp_path / "run" / "run.sqlite"
    on_disk: list[set[str]] = []

    class Peeking(_Instant):
        max_concurrency = 1

        async def generate(self, request: Request) -> Response:
            if request.intent.sample_id in ("s00000", "s00300"):
                on_disk.append(_ids(db, "in_flight"))  # another process's view, at send time
            return await super().generate(request)

    samples = fast_run.samples(tmp_path / "img", 400)
    store = RunStore(tmp_path / "run")
    runner = Runner(store, None, progress=False)
    asyncio.run(runner.run([Job(Peeking(), ClassificationTask(), "kill", samples)]))
    store.close()
    first, second = on_disk
    assert {f"s{i:05d}" for i in range(FLUSH_EVERY)} <= first  # the whole first window
    assert "s00300" in second and "s00000" not in second  # answered ones were unmarked
    assert _count(db, "in_flight") == 0
