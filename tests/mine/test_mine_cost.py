"""The cost estimate printed before a mining run, the ``--max-cost`` cap, and resume.

The fake OpenAI server bills like OpenAI, from what it actually receives, independently of
medmine's estimator, so the comparison is not circular:

- images: it decodes each image of the request body (the bytes the backend really sent, after
  the backend's own resize) and bills OpenAI's published high-detail rule for that size
  (85 + 170 per 512-px tile after fitting 2048 and shortening to 768). The estimator instead
  predicts the sent size from the file header and the preset's ``max_image_edge``; a missed
  resize would be off by a factor of 2-4 on the chest radiographs (~1000-1500 px);
- text: it counts word pieces of the text it received (``\\w+`` runs and single punctuation
  marks, a BPE-like count), plus 4 tokens of overhead per message; the estimator uses
  4 characters per token;
- output: it answers a realistic short JSON label and bills its word pieces; the estimator
  uses its typical answer length per task.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from medmine.mine.cli_command import mine_command
from medmine.mine.command import MiningCancelled
from medmine.mine.estimate import CostEstimate
from medmine.mine.image_stream import mine_images
from medmine.mine.images import MiningQuestion

REALDATA = Path(
    os.environ.get("MEDMINE_REALDATA", Path(__file__).parents[2] / "../shared/realdata")
)
_PIECES = re.compile(r"\w+|[^\w\s]")


def openai_image_tokens(width: int, height: int) -> int:
    """OpenAI's high-detail image billing rule, written out here for the fake server."""
    w, h = float(width), float(height)
    if max(w, h) > 2048:
        w, h = w * 2048 / max(w, h), h * 2048 / max(w, h)
    if min(w, h) > 768:
        w, h = w * 768 / min(w, h), h * 768 / min(w, h)
    return 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)


class BillingServer:
    """An OpenAI-compatible server on 127.0.0.1 that bills what it receives."""

    def __init__(self) -> None:
        """Start on a free port; ``requests`` records each body, ``sizes`` each image size."""
        self.requests: list[dict[str, Any]] = []
        self.sizes: list[tuple[int, int]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                answer = json.dumps({"label": "nevus"})
                prompt = server.bill(body)
                reply = {
                    "id": "c1",
                    "object": "chat.completion",
                    "created": 1,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": answer},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt,
                        "completion_tokens": len(_PIECES.findall(answer)),
                        "total_tokens": prompt + len(_PIECES.findall(answer)),
                    },
                }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def bill(self, body: dict[str, Any]) -> int:
        """Prompt tokens of one request body (see the module doc)."""
        tokens = 0
        for message in body["messages"]:
            tokens += 4
            content = message["content"]
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
            for part in parts:
                if part["type"] == "text":
                    tokens += len(_PIECES.findall(part["text"]))
                else:
                    data = base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
                    with Image.open(io.BytesIO(data)) as im:
                        size = im.size
                    with self.lock:
                        self.sizes.append(size)
                    tokens += openai_image_tokens(*size)
        with self.lock:
            self.requests.append(body)
        return tokens

    @property
    def url(self) -> str:
        """The base URL the OpenAI SDK is pointed at."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[BillingServer]:
    srv = BillingServer()
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MEDMINE_TEST_FAKE_KEY", "sk-test-not-a-real-key")


@pytest.fixture
def presets(tmp_path: Path, server: BillingServer) -> Path:
    """A user presets file: an OpenAI-billed vision model at the fake server, with prices."""
    path = tmp_path / "presets.yaml"
    path.write_text(
        "presets:\n"
        "  - name: fake-vision\n"
        "    provider: openai\n"
        "    model_id: fake-vision-1\n"
        f"    base_url: {server.url}\n"
        "    api_key_env: MEDMINE_TEST_FAKE_KEY\n"
        "    price_input_per_mtok: 2.0\n"
        "    price_output_per_mtok: 8.0\n"
        '    price_date: "2026-01-01"\n'
        "    max_image_edge: 1024\n"
        "    stream: false\n"
        "    concurrency: 1\n"
    )
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Six real images of three sizes (600x450 dermoscopy, ~1000-1500 px radiographs)."""
    picks = [
        *sorted((REALDATA / "ham10000/HAM10000_images_part_1").glob("*.jpg"))[:2],
        *sorted((REALDATA / "chestxray2017/chest_xray/train/NORMAL").glob("*.jpeg"))[:2],
        *sorted((REALDATA / "chestxray2017/chest_xray/train/PNEUMONIA").glob("*.jpeg"))[:2],
    ]
    if len(picks) < 6:
        pytest.skip(f"real data samples not found under {REALDATA}; set MEDMINE_REALDATA")
    root = tmp_path / "images"
    root.mkdir()
    for p in picks:
        shutil.copy(p, root / p.name)
    return root


def _cli(*args: str) -> tuple[int, str]:
    app = typer.Typer()
    app.command("mine")(mine_command)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["mine", *args])
    return result.exit_code, " ".join(result.output.split())


QUESTION = ("--task", "classification", "--labels", "nevus,melanoma,normal")


def test_estimate_printed_before_the_run_is_within_25_percent_of_the_recorded_cost(
    folder: Path, presets: Path, server: BillingServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, text = _cli(
        str(folder), *QUESTION, "--model", "fake-vision", "--presets", str(presets),
        "--out", str(out), "--yes", "--no-progress",
    )  # fmt: skip
    assert code == 0, text
    assert len(server.requests) == 6
    # Some images really were resized by the backend (the estimator had to know).
    assert max(max(s) for s in server.sizes) == 1024
    estimated = float(re.search(r"estimated cost: \$([0-9.]+)", text).group(1))
    recorded = float(re.search(r"recorded spend: \$([0-9.]+)", text).group(1))
    assert text.index("estimated cost") < text.index("recorded spend")
    assert "6 item(s) to ask fake-vision" in text
    assert recorded > 0 and abs(estimated - recorded) / recorded < 0.25, (estimated, recorded)
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert all(r["usage"]["estimated"] is False and r["cost_usd"] > 0 for r in rows)
    assert sum(r["cost_usd"] for r in rows) == pytest.approx(recorded, abs=1e-4)
    labels = (out / "labels.csv").read_text().splitlines()
    assert labels[0] == "file,label,status,raw_answer"
    assert len(labels) == 7 and all(",nevus,ok," in line for line in labels[1:])
    # Rerun: nothing pending, nothing asked, nothing to confirm.
    code, text = _cli(
        str(folder), *QUESTION, "--model", "fake-vision", "--presets", str(presets),
        "--out", str(out), "--no-progress",
    )  # fmt: skip
    assert code == 0, text
    assert "0 item(s) to ask" in text and "asked 0" in text and len(server.requests) == 6


def test_confirmation_comes_before_the_first_request(
    folder: Path, presets: Path, server: BillingServer, tmp_path: Path
) -> None:
    seen: list[tuple[CostEstimate, int]] = []

    def decline(estimate: CostEstimate) -> bool:
        seen.append((estimate, len(server.requests)))
        return False

    question = MiningQuestion("classification", labels=("nevus", "melanoma"))
    with pytest.raises(MiningCancelled):
        mine_images(
            folder, question, "fake-vision", tmp_path / "o", say=lambda _: None,
            confirm=decline, progress=False, presets=[presets],
        )  # fmt: skip
    assert len(seen) == 1 and seen[0][1] == 0 and server.requests == []
    estimate = seen[0][0]
    assert estimate.n_items == 6 and estimate.image_tokens > 0 and estimate.cost_usd > 0
    # Without a terminal and without --yes the command refuses, having sent nothing.
    code, text = _cli(
        str(folder), *QUESTION, "--model", "fake-vision", "--presets", str(presets),
        "--out", str(tmp_path / "o2"), "--no-progress",
    )  # fmt: skip
    assert code == 2 and "pass --yes" in text and server.requests == []


def test_max_cost_stops_at_the_cap_and_a_higher_cap_finishes_without_repeats(
    folder: Path, presets: Path, server: BillingServer, tmp_path: Path
) -> None:
    out = tmp_path / "capped"
    base = [
        str(folder), *QUESTION, "--model", "fake-vision", "--presets", str(presets),
        "--out", str(out), "--yes", "--no-progress", "--no-cache",
    ]  # fmt: skip
    code, text = _cli(*base, "--max-cost", "0.0015")
    assert code == 0, text
    asked_first = len(server.requests)
    assert 1 <= asked_first < 6, text
    spent = float(re.search(r"recorded spend: \$([0-9.]+)", text).group(1))
    per_request = spent / asked_first
    assert spent >= 0.0015 and spent - per_request < 0.0015  # stopped at the first crossing
    assert "stopped: recorded spend" in text and "higher --max-cost" in text
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sum(r["status"] == "not_answered" for r in rows) == 6 - asked_first
    code, text = _cli(*base, "--max-cost", "1")
    assert code == 0, text
    assert len(server.requests) == 6 and f"asked {6 - asked_first}," in text
    assert f"already answered {asked_first}" in text
    sent_images = [
        part["image_url"]["url"]
        for body in server.requests
        for part in body["messages"][0]["content"]
        if part["type"] == "image_url"
    ]
    assert len(set(sent_images)) == 6  # every image asked exactly once over both runs
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert all(r["status"] == "ok" for r in rows)
