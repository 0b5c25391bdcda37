"""Scriptable fake provider servers on 127.0.0.1 for backend tests (stdlib only).

A :class:`FakeServer` runs ``http.server`` in a thread, records every request (path, headers,
JSON body) and answers from a queue of :class:`Reply` objects: JSON bodies, SSE streams, raw
bytes, delays and truncated streams. Helpers below build each provider's documented wire format.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer: a JSON body, an SSE event list, or raw bytes."""

    status: int = 200
    body: Any = None
    sse: list[str] | None = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    truncate: int = 0  # SSE: drop the connection before the last ``truncate`` events
    trickle_s: float = 0.0  # SSE: wait this long before each event (a server that trickles)


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)  # when it arrived


class FakeServer:
    """A threaded HTTP server answering scripted replies in order; use as a context manager."""

    def __init__(self) -> None:
        """Create the server on a free port (not started yet)."""
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.default = Reply(status=500, body={"error": {"message": "no scripted reply"}})
        # Answers a request when no scripted reply is queued (the rule-enforcing fakes).
        self.responder: Callable[[Recorded], Reply] | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                recorded = Recorded(
                    "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                server.requests.append(recorded)
                if server.replies:
                    reply = server.replies.popleft()
                elif server.responder is not None:
                    reply = server.responder(recorded)
                else:
                    reply = server.default
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._answer(reply)

            def _answer(self, reply: Reply) -> None:
                if reply.sse is not None:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    events = reply.sse[: len(reply.sse) - reply.truncate]
                    for event in events:
                        if reply.trickle_s:
                            time.sleep(reply.trickle_s)
                        self.wfile.write(event.encode())
                        self.wfile.flush()
                    self.close_connection = True
                    return
                data = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def push(self, *replies: Reply) -> None:
        """Queue replies, answered in order."""
        self.replies.extend(replies)

    def __enter__(self) -> FakeServer:
        """Start serving."""
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()


# --------------------------------------------------------------------------- OpenAI


def openai_completion(
    text: str = "ok",
    *,
    prompt_tokens: int | None = 100,
    completion_tokens: int | None = 5,
    finish_reason: str = "stop",
    refusal: str | None = None,
    model: str = "m",
) -> dict[str, Any]:
    """A ``chat.completion`` object."""
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": refusal},
                "finish_reason": finish_reason,
            }
        ],
    }
    if prompt_tokens is not None:
        body["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + (completion_tokens or 0),
        }
    return body


def openai_sse(
    pieces: list[str],
    *,
    prompt_tokens: int | None = 100,
    completion_tokens: int = 5,
    finish_reason: str = "stop",
    model: str = "m",
) -> list[str]:
    """``chat.completion.chunk`` SSE events, a usage chunk, and ``[DONE]``."""

    def chunk(delta: dict[str, Any], finish: str | None, usage: Any = None) -> str:
        obj: dict[str, Any] = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": model,
            "choices": []
            if delta is None
            else [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if usage is not None:
            obj["usage"] = usage
        return f"data: {json.dumps(obj)}\n\n"

    events = [chunk({"role": "assistant", "content": ""}, None)]
    events += [chunk({"content": p}, None) for p in pieces]
    events.append(chunk({}, finish_reason))
    if prompt_tokens is not None:
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        events.append(chunk(None, None, usage))  # type: ignore[arg-type]
    events.append("data: [DONE]\n\n")
    return events


def openai_error(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """An OpenAI error body."""
    return {"error": {"message": message, "type": "error", "code": code, "param": None}}


# --------------------------------------------------------------------------- Anthropic


def anthropic_message(
    text: str = "ok",
    *,
    input_tokens: int = 100,
    output_tokens: int = 5,
    stop_reason: str = "end_turn",
    tool_input: dict[str, Any] | None = None,
    model: str = "claude",
) -> dict[str, Any]:
    """A Messages API ``message`` object (a tool_use block when ``tool_input`` is given)."""
    content: list[dict[str, Any]]
    if tool_input is not None:
        content = [{"type": "tool_use", "id": "toolu_1", "name": "answer", "input": tool_input}]
    else:
        content = [{"type": "text", "text": text}]
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def _event(name: str, data: dict[str, Any]) -> str:
    """One named SSE event."""
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def anthropic_sse(
    pieces: list[str],
    *,
    input_tokens: int = 100,
    output_tokens: int = 5,
    stop_reason: str = "end_turn",
    model: str = "claude",
) -> list[str]:
    """The Messages streaming event sequence for a text answer."""
    start = anthropic_message("", input_tokens=input_tokens, output_tokens=1, model=model)
    start["content"] = []
    start["stop_reason"] = None
    events = [
        _event("message_start", {"type": "message_start", "message": start}),
        _event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        _event("ping", {"type": "ping"}),
    ]
    for piece in pieces:
        events.append(
            _event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                },
            )
        )
    events.append(_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        )
    )
    events.append(_event("message_stop", {"type": "message_stop"}))
    return events


def anthropic_error(kind: str, message: str) -> dict[str, Any]:
    """An Anthropic error body."""
    return {"type": "error", "error": {"type": kind, "message": message}}


# --------------------------------------------------------------------------- Gemini


def gemini_response(
    text: str = "ok",
    *,
    prompt_tokens: int | None = 100,
    output_tokens: int = 5,
    finish_reason: str = "STOP",
    block_reason: str | None = None,
) -> dict[str, Any]:
    """A ``GenerateContentResponse`` (no candidates when ``block_reason`` is given)."""
    body: dict[str, Any] = {"modelVersion": "gemini-test"}
    if block_reason is not None:
        body["promptFeedback"] = {"blockReason": block_reason}
    else:
        body["candidates"] = [
            {
                "content": {"role": "model", "parts": [{"text": text}] if text else []},
                "finishReason": finish_reason,
                "index": 0,
            }
        ]
    if prompt_tokens is not None:
        body["usageMetadata"] = {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": output_tokens,
            "totalTokenCount": prompt_tokens + output_tokens,
        }
    return body


def gemini_sse(
    pieces: list[str],
    *,
    prompt_tokens: int = 100,
    output_tokens: int = 5,
    finish_reason: str = "STOP",
) -> list[str]:
    """``streamGenerateContent?alt=sse`` events: one response object per ``data:`` line."""
    events = []
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        obj = gemini_response(
            piece,
            prompt_tokens=prompt_tokens if last else None,
            output_tokens=output_tokens,
            finish_reason=finish_reason,
        )
        if not last:
            obj["candidates"][0].pop("finishReason")
        events.append(f"data: {json.dumps(obj)}\r\n\r\n")
    return events


def gemini_error(code: int, status: str, message: str) -> dict[str, Any]:
    """A Google API error body."""
    return {"error": {"code": code, "message": message, "status": status}}
