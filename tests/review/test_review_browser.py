"""The review page in headless Chromium against the real server (uvicorn on 127.0.0.1).

A mining run of the demo endoscopy images (blob-detector, detection) is reviewed in the
browser: accept with the keyboard, move a box with the mouse and save the correction, flag an
item unreadable; the page is reloaded and resumes at the first undecided item; the database
holds the three decisions; the server is stopped, and ``--export`` (a new process) writes
them with the reviewer and the time.
"""

from __future__ import annotations

import csv
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

# The DevTools helper is shared with the report's browser test, next to which it lives.
sys.path.insert(0, str(Path(__file__).parents[1] / "report"))
from cdp_browser import NEEDS_CHROMIUM, page

pytest.importorskip(
    "starlette", reason="the review extra is not installed: pip install '.[review]'"
)
pytest.importorskip("uvicorn", reason="the review extra is not installed: pip install '.[review]'")

pytestmark = NEEDS_CHROMIUM
SRC = Path(__file__).parents[2] / "src"


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MEDMINE_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = f"{SRC}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return env


@pytest.fixture(scope="module")
def mined(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A mining run (``medmine mine``) over the demo's endoscopy test images."""
    from medmine.datasets.demo import DemoSpec, build_demo

    base = tmp_path_factory.mktemp("review_browser")
    env = _env(base / "cache")
    samples = build_demo(DemoSpec(), base / "demo")
    images = Path(next(s for s in samples if s.category == "endoscopy").images[0].path)
    folder = images.parent  # <demo>/endoscopy/<split>
    run = base / "mined"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "medmine",
            "mine",
            str(folder),
            "--task",
            "detection",
            "--labels",
            "polyp",
            "--model",
            "blob-detector",
            "--out",
            str(run),
            "--yes",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return run, env


@pytest.fixture
def server(mined: tuple[Path, dict[str, str]]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``medmine review RUN --no-browser`` in a subprocess; yields its printed URL."""
    yield from _serve(*mined)


def _serve(run: Path, env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "medmine",
            "review",
            str(run),
            "--no-browser",
            "--reviewer",
            "dr tester",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = None
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline and url is None:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        m = re.search(r"open (http://\S+)", line)
        url = m.group(1) if m else None
    if url is None:
        proc.kill()
        pytest.fail(f"medmine review printed no URL: {proc.stdout.read()}")
    for _ in range(100):  # wait until uvicorn answers
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    try:
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _decisions(run: Path) -> list[tuple[str, str, str, str]]:
    con = sqlite3.connect(run / "run.sqlite")
    try:
        return con.execute(
            "SELECT sample_id, action, value, reviewer FROM review_decisions ORDER BY id"
        ).fetchall()
    finally:
        con.close()


def _other_address() -> str | None:
    """A non-loopback address of this machine, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # no packet is sent for UDP connect
            addr = s.getsockname()[0]
    except OSError:
        return None
    return None if addr.startswith("127.") else addr


def test_server_is_loopback_only_and_refuses_requests_without_the_token(server) -> None:
    url, _ = server
    base, token = url.split("/?token=")
    assert base.startswith("http://127.0.0.1:")
    port = int(base.rsplit(":", 1)[1])
    assert httpx.get(base + "/").status_code == 403
    assert httpx.get(base + "/api/state").status_code == 403
    assert httpx.get(base + "/api/image/0").status_code == 403
    assert httpx.get(f"{base}/?token=wrong{token}").status_code == 403
    assert httpx.post(base + "/api/decide/0", json={"action": "accept"}).status_code == 403
    assert httpx.get(url).status_code == 200
    assert httpx.get(base + "/api/state", headers={"X-Review-Token": token}).status_code == 200
    other = _other_address()
    if other is not None:  # nothing listens on the machine's other addresses
        with pytest.raises(OSError), socket.create_connection((other, port), timeout=2):
            pass


def test_decisions_in_the_browser_are_saved_resumed_and_exported(
    mined: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    run, env = mined
    served = _serve(run, env)
    url, _ = next(served)
    base, token = url.split("/?token=")
    plan = httpx.get(base + "/api/state", headers={"X-Review-Token": token}).json()
    items = [
        httpx.get(f"{base}/api/item/{i}", headers={"X-Review-Token": token}).json()
        for i in range(plan["total"])
    ]
    with_box = next(i for i, it in enumerate(items) if it["answer"]["value"]["boxes"] and i > 0)

    with page(tmp_path, 1400, 1000) as dt:
        dt.navigate(url)
        dt.wait_for("document.querySelector('#decided') !== null")
        assert dt.evaluate("document.querySelector('#image').complete") is True
        # 1. accept item 0 with the keyboard
        dt.key("a")
        dt.wait_for("location.hash === '#pos=1'")
        # 2. go to an item with boxes, move its first box with the mouse, save with "c"
        dt.navigate("about:blank")
        dt.navigate(f"{url}#pos={with_box}")
        dt.wait_for("document.querySelector('svg rect.box') !== null")
        width = items[with_box]["image_size"][0]
        rect = dt.evaluate(
            """(() => {
              const zoom = document.querySelector('#stage').getBoundingClientRect().width / WIDTH;
              for (const r of document.querySelectorAll('svg rect.box')) {
                const b = r.getBoundingClientRect(), x = b.x + b.width / 2, y = b.y + b.height / 2;
                if (document.elementFromPoint(x, y) === r) return {x, y, zoom, i: +r.dataset.index};
              }
              return null; })()""".replace("WIDTH", str(width))
        )
        assert rect is not None, "no box can be grabbed at its centre"
        dt.drag(rect["x"], rect["y"], rect["x"] + 40, rect["y"] + 24)
        dt.wait_for("document.querySelector('#shapecount').textContent.includes('edited')")
        dt.key("c")
        dt.wait_for(f"location.hash === '#pos={with_box + 1}'")
        # 3. flag the next item unreadable with the mouse
        dt.evaluate("document.querySelector('#unreadable').click()")
        dt.wait_for(f"location.hash === '#pos={with_box + 2}'")
        # reload without a position: the review resumes at the first undecided item
        dt.navigate(url)
        dt.wait_for("document.querySelector('#decided') !== null")
        resumed = dt.evaluate("location.hash")
        table = dt.evaluate(
            "Array.from(document.querySelectorAll('#precisiontable tr[data-label]')).map(r =>"
            " [r.dataset.label, +r.children[2].textContent])"
        )
        dt.drain()
        assert dt.errors() == [], dt.errors()
    expected_resume = next(i for i in range(plan["total"]) if i not in (0, with_box, with_box + 1))
    assert resumed == f"#pos={expected_resume}"

    rows = _decisions(run)
    assert [(r[0], r[1]) for r in rows] == [
        (items[0]["sample_id"], "accept"),
        (items[with_box]["sample_id"], "correct"),
        (items[with_box + 1]["sample_id"], "unreadable"),
    ]
    assert all(r[3] == "dr tester" for r in rows)
    original = items[with_box]["answer"]["value"]["boxes"][rect["i"]]["box"]
    moved = json.loads(rows[1][2])["boxes"][rect["i"]]["box"]
    dx, dy = 40 / rect["zoom"], 24 / rect["zoom"]
    assert moved[0] - original[0] == pytest.approx(dx, abs=1.0)
    assert moved[1] - original[1] == pytest.approx(dy, abs=1.0)
    assert moved[2] - moved[0] == pytest.approx(original[2] - original[0], abs=0.02)
    reviewed = {lab: n for lab, n in table}
    assert sum(reviewed.values()) == 2  # accept + correction; unreadable is not a review of a label

    # stop the server, then export from a new process: the browser's decisions are there
    for _ in served:
        pass
    out = tmp_path / "export"
    done = subprocess.run(
        [sys.executable, "-m", "medmine", "review", str(run), "--export", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with (out / "reviewed_labels.csv").open(newline="") as fh:
        exported = {r["sample_id"]: r for r in csv.DictReader(fh)}
    assert exported[items[with_box]["sample_id"]]["decision"] == "correct"
    assert exported[items[with_box]["sample_id"]]["reviewer"] == "dr tester"
    assert exported[items[0]["sample_id"]]["decision"] == "accept"
    assert exported[items[with_box + 1]["sample_id"]]["reviewed_labels"] == ""
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", exported[items[0]["sample_id"]]["reviewed_at"]
    )
    coco = json.loads((out / "reviewed.coco.json").read_text())
    img = next(i for i in coco["images"] if i["file_name"] == items[with_box]["sample_id"])
    ann = [a for a in coco["annotations"] if a["image_id"] == img["id"]]
    assert ann[rect["i"]]["bbox"][:2] == pytest.approx(moved[:2])
    assert ann[rect["i"]]["reviewer"] == "dr tester"
    mask = out / "masks" / Path(items[with_box]["sample_id"]).with_suffix(".png")
    assert mask.is_file()
    precision = (out / "precision.csv").read_text()
    assert precision.startswith("label,predicted,reviewed,correct,unreadable,precision")


def test_labels_and_observations_are_corrected_with_number_keys(tmp_path: Path) -> None:
    """An evaluation run (two classifiers; the rule labeler on report text): ``2`` picks the
    second label of a classification item; on a report, ``3`` toggles an observation and
    ``c`` saves; highlighted phrases are shown."""
    env = _env(tmp_path / "cache")
    run = tmp_path / "eval"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "medmine",
            "run",
            "demo",
            "--limit",
            "3",
            "--task",
            "classification",
            "--task",
            "diagnosis",
            "--out",
            str(run),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    served = _serve(run, env)
    url, _ = next(served)
    base, token = url.split("/?token=")
    total = httpx.get(base + "/api/state", headers={"X-Review-Token": token}).json()["total"]
    items = [
        httpx.get(f"{base}/api/item/{i}", headers={"X-Review-Token": token}).json()
        for i in range(total)
    ]
    cls = next(i for i, it in enumerate(items) if it["task"] == "classification")
    diag = next(i for i, it in enumerate(items) if it["task"] == "diagnosis")
    with page(tmp_path, 1400, 900) as dt:
        dt.navigate(f"{url}#pos={cls}")
        dt.wait_for("document.querySelector('#decided') !== null")
        dt.key("2")
        dt.wait_for(f"location.hash === '#pos={cls + 1}'")
        dt.navigate("about:blank")
        dt.navigate(f"{url}#pos={diag}")
        dt.wait_for("document.querySelector('#textview') !== null")
        marks = dt.evaluate("document.querySelectorAll('#textview mark').length")
        dt.key("3")
        dt.key("c")
        dt.wait_for(f"location.hash === '#pos={diag + 1}'")
        dt.drain()
        assert dt.errors() == [], dt.errors()
    for _ in served:
        pass
    assert marks == len(items[diag]["highlights"]) > 0
    rows = {r[0]: (r[1], json.loads(r[2])) for r in _decisions(run)}
    action, value = rows[items[cls]["sample_id"]]
    picked = items[cls]["choices"][1]
    if items[cls]["predicted"] == [picked]:  # picking the model's own label accepts it
        assert action == "accept"
    else:
        assert action == "correct" and value == {"label": picked}
    action, value = rows[items[diag]["sample_id"]]
    third = items[diag]["choices"][2]
    before = items[diag]["answer"]["value"]["observations"].get(third)
    assert action == "correct"
    assert value["observations"][third] == (0.0 if before == 1.0 else 1.0)
