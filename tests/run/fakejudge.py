"""A local OpenAI-compatible server that judges reports like an LLM judge would (stdlib only).

It enforces what OpenAI-compatible servers document: POST /v1/chat/completions, a bearer key,
``model`` and non-empty ``messages``; ``temperature`` in [0, 2]; streaming as SSE with a usage
chunk when ``stream_options.include_usage`` is set. It reads the REFERENCE and CANDIDATE
reports out of the prompt, compares their sentences (missed -> significant missed finding,
extra -> false finding, shared -> matched) and answers in the GREEN format, in the styles
judges really use (plain, markdown bold headers, "None" lines). With temperature > 0 it
sometimes miscounts by one, as sampled judges do, so repeats can disagree.
"""

from __future__ import annotations

import json
import random
import re
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "models"))
from fakeservers import openai_completion, openai_error, openai_sse

LETTERS = "abcdef"
NAMES = (
    "False report of a finding",
    "Missing a finding present in the reference",
    "Wrong anatomic location",
    "Wrong severity",
    "Extra comparison",
    "Missed comparison",
)


def _sentences(text: str) -> set[str]:
    return {" ".join(s.lower().split()) for s in re.split(r"[.\n]+", text) if s.strip()}


def judge_answer(prompt: str, rng: random.Random, temperature: float, style: int) -> str:
    """A GREEN-format answer for the prompt's two reports."""
    ref = re.search(r"REFERENCE REPORT:\n(.*?)\n\nCANDIDATE REPORT:", prompt, re.S)
    cand = re.search(r"CANDIDATE REPORT:\n(.*?)\n\nAnswer in exactly", prompt, re.S)
    if ref is None or cand is None:
        return "I could not find the two reports to compare."
    r, c = _sentences(ref.group(1)), _sentences(cand.group(1))
    matched, missed, false = len(r & c), len(r - c), len(c - r)
    if temperature > 0 and rng.random() < 0.3:
        missed = max(0, missed + rng.choice([-1, 1]))
    sig = [false, missed, 0, 0, 0, 0]
    insig = [0, 0, 0, 0, 0, 0]
    bold = "**" if style % 2 else ""
    lines = [f"{bold}[Explanation]:{bold}", "The candidate shares some findings."]
    for title, counts in (
        ("Clinically Significant Errors", sig),
        ("Clinically Insignificant Errors", insig),
    ):
        lines.append(f"{bold}[{title}]:{bold}")
        if style % 3 == 2 and not any(counts):
            lines.append("None.")
            continue
        for letter, name, n in zip(LETTERS, NAMES, counts, strict=True):
            detail = " ".join(f"error {i + 1};" for i in range(n)) if n else "No errors."
            lines.append(f"({letter}) {name}: {n}. {detail}")
    lines += [f"{bold}[Matched Findings]:{bold}", f"{matched}. " + "; ".join(sorted(r & c))]
    return "\n".join(lines)


class FakeJudge:
    """The server; ``requests`` records every body; use as a context manager."""

    def __init__(self, key: str, answer: Callable[..., str] | None = None) -> None:
        """A server on a free port of 127.0.0.1 (started by ``with``); ``answer`` (prompt,
        rng, temperature, style) -> text replaces the report judge's answers."""
        answer_fn = answer or judge_answer
        self.requests: list[dict[str, Any]] = []
        self.rng = random.Random(0)
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: Any = None, sse: list[str] | None = None) -> None:
                self.send_response(status)
                if sse is not None:
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for event in sse:
                        self.wfile.write(event.encode())
                    self.close_connection = True
                    return
                data = json.dumps(body).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path != "/v1/chat/completions":
                    return self._send(404, openai_error(404, f"no route {self.path}"))
                if self.headers.get("authorization") != f"Bearer {key}":
                    return self._send(401, openai_error(401, "invalid api key", "invalid_api_key"))
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._send(400, openai_error(400, "body is not JSON"))
                if not body.get("model") or not body.get("messages"):
                    return self._send(400, openai_error(400, "model and messages are required"))
                temperature = float(body.get("temperature", 1.0))
                if not 0 <= temperature <= 2:
                    return self._send(400, openai_error(400, "temperature must be in [0, 2]"))
                with server.lock:
                    server.requests.append(body)
                    style = len(server.requests)
                    content = body["messages"][-1]["content"]
                    if isinstance(content, list):
                        content = "\n".join(p.get("text", "") for p in content)
                    text = answer_fn(content, server.rng, temperature, style)
                prompt_tokens = len(content.split()) * 4 // 3
                completion_tokens = len(text.split()) * 4 // 3
                if body.get("stream"):
                    usage = (body.get("stream_options") or {}).get("include_usage")
                    pieces = [text[i : i + 40] for i in range(0, len(text), 40)]
                    return self._send(200, sse=openai_sse(
                        pieces, prompt_tokens=prompt_tokens if usage else None,
                        completion_tokens=completion_tokens, model=body["model"]))  # fmt: skip
                return self._send(200, openai_completion(
                    text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                    model=body["model"]))  # fmt: skip

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeJudge:
        """Start serving."""
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()
