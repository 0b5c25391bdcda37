"""Stateful fake batch APIs on 127.0.0.1 (stdlib only) for the ``--batch`` channel tests.

Each server implements the documented endpoints of one provider's batch API (file upload,
batch create, status, results), records every request, and answers each batch's requests from
a *plan*: ``plan(batch_index, custom_id, body)`` returns :class:`Ok`, :class:`Fail` or None
(the request is left unanswered, as when a batch expires). ``final(batch_index)`` picks how
each batch ends; ``polls`` is how many status polls report it still running.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from conformance import (
    anthropic_error,
    check_anthropic,
    check_gemini,
    check_openai,
    gemini_error,
    openai_error,
)
from fakeservers import Recorded, anthropic_message, gemini_response, openai_completion


@dataclass
class Ok:
    """Answer the request with this text and usage."""

    text: str = "ok"
    input_tokens: int = 100
    output_tokens: int = 5


@dataclass
class Fail:
    """Fail the request alone (a request-level error line)."""

    status: int = 400
    message: str = "invalid request"


@dataclass
class Body:
    """Answer the request with this complete provider response body (a simulated model's)."""

    obj: dict[str, Any]


Outcome = Ok | Fail | Body | None
Plan = Callable[[int, str, Any], "Outcome"]


def answer_all(batch: int, custom_id: str, body: Any) -> Ok | Fail | None:
    """The default plan: every request answered 'ok'."""
    return Ok()


@dataclass
class FakeBatch:
    """One batch the server holds."""

    id: str
    index: int
    entries: list[tuple[str, Any]]  # (custom_id, request body) in submission order
    polls_left: int
    final: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    ended: bool = False
    headers: dict[str, str] = field(default_factory=dict)  # of the request that created it


class FakeBatchServer:
    """Threaded HTTP server with per-provider routes; use as a context manager."""

    def __init__(
        self, plan: Plan = answer_all, final: Callable[[int], str] | None = None, polls: int = 1
    ) -> None:
        """Create the server on a free port (not started yet)."""
        self.plan = plan
        self.final = final or (lambda index: self.default_final)
        self.polls = polls
        self.requests: list[Recorded] = []
        self.batches: dict[str, FakeBatch] = {}
        self.faults: deque[tuple[str, int, Any]] = deque()  # (path substring, status, body)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                with server._lock:
                    server.requests.append(Recorded(method, self.path, headers, body))
                    status, ctype, data = server._dispatch(method, self.path, headers, raw, body)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    default_final = "completed"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeBatchServer:
        """Start serving."""
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- bookkeeping ------------------------------------------------------------------------
    def count(self, method: str, pattern: str) -> int:
        """How many requests matched a method and a path regex."""
        return sum(1 for r in self.requests if r.method == method and re.search(pattern, r.path))

    def _new_batch(self, batch_id: str, entries: list[tuple[str, Any]]) -> FakeBatch:
        index = len(self.batches)
        batch = FakeBatch(batch_id, index, entries, self.polls, self.final(index))
        self.batches[batch_id] = batch
        return batch

    def _poll(self, batch: FakeBatch) -> bool:
        """Advance a batch by one poll; True once it has ended (outcomes fixed at the end)."""
        if batch.polls_left > 0:
            batch.polls_left -= 1
            return False
        if not batch.ended:
            batch.ended = True
            for cid, body in batch.entries:
                rejected = self.reject(batch, body)
                batch.outcomes[cid] = rejected or self.answer(batch, cid, body)
        return True

    def answer(self, batch: FakeBatch, custom_id: str, entry: Any) -> Outcome:
        """The outcome of one accepted request (the plan's by default)."""
        return self.plan(batch.index, custom_id, entry)

    def reject(self, batch: FakeBatch, entry: Any) -> Fail | None:
        """The per-request 400 the provider gives a body its live API would reject."""
        return None

    def _dispatch(
        self, method: str, path: str, headers: dict[str, str], raw: bytes, body: Any
    ) -> tuple[int, str, bytes]:
        for i, (needle, status, fault) in enumerate(self.faults):
            if needle in path:
                del self.faults[i]
                return status, "application/json", json.dumps(fault).encode()
        return self.route(method, path, headers, raw, body)

    def route(
        self, method: str, path: str, headers: dict[str, str], raw: bytes, body: Any
    ) -> tuple[int, str, bytes]:
        """Answer one request (provider specific)."""
        raise NotImplementedError


def _json(status: int, obj: Any) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(obj).encode()


# --------------------------------------------------------------------------- batch rules
# The documented whole-batch rules, checked when a batch is created (a request's own body is
# checked by ``reject`` with the live API's rules).

OPENAI_MAX_REQUESTS = 50_000  # Batch API guide: up to 50,000 requests, 200 MB per input file
OPENAI_MAX_BYTES = 200 * 1024 * 1024
ANTHROPIC_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # Message Batches API reference
ANTHROPIC_MAX_REQUESTS = 100_000
GEMINI_INLINE_MAX_BYTES = 20 * 1024 * 1024  # batch mode: inline requests under 20 MB in all


def read_openai_input(data: bytes, endpoint: str) -> tuple[list[tuple[str, Any]], list[dict]]:
    """The (custom_id, line) entries of an input file and its validation errors (Batch
    ``errors.data`` items): JSON lines of ``custom_id``/``method``/``url``/``body``, unique
    custom ids, one endpoint and one model per file, within the size limits."""
    entries: list[tuple[str, Any]] = []
    problems: list[dict] = []
    seen: set[str] = set()
    models: set[str] = set()

    def bad(code: str, line: int, message: str, param: str | None = None) -> None:
        problems.append({"code": code, "line": line, "message": message, "param": param})

    if len(data) > OPENAI_MAX_BYTES:
        bad("file_too_large", 0, "The input file exceeds the 200 MB limit.")
    for number, text in enumerate(data.decode().splitlines(), 1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except ValueError:
            bad("invalid_json_line", number, "This line is not parseable as valid JSON.")
            continue
        if not isinstance(obj, dict) or set(obj) - {"custom_id", "method", "url", "body"}:
            bad("invalid_request", number, "Unexpected fields in the request object.")
            continue
        cid = obj.get("custom_id")
        if not isinstance(cid, str) or not cid:
            bad("missing_required_parameter", number, "custom_id is required.", "custom_id")
            continue
        if cid in seen:
            bad(
                "duplicate_custom_id",
                number,
                "The custom_id for this request is a duplicate of another request. The "
                "custom_id parameter must be unique for each request in a batch.",
                "custom_id",
            )
        seen.add(cid)
        if obj.get("method") != "POST":
            bad("invalid_method", number, "The method must be POST.", "method")
        if obj.get("url") != endpoint:
            bad(
                "mismatched_endpoint",
                number,
                f"The url for this request does not match the batch endpoint {endpoint}.",
                "url",
            )
        body = obj.get("body")
        if not isinstance(body, dict):
            bad("missing_required_parameter", number, "body is required.", "body")
            continue
        models.add(str(body.get("model")))
        if len(models) > 1:
            bad(
                "mismatched_model",
                number,
                "The provided model does not match the model of other requests in the "
                "batch: each input file can only include requests to a single model.",
                "body.model",
            )
        if body.get("stream"):
            bad("invalid_request", number, "Streaming is not supported in batch.", "body.stream")
        entries.append((cid, obj))
    if not entries and not problems:
        bad("empty_file", 0, "The input file is empty.")
    if len(entries) > OPENAI_MAX_REQUESTS:
        bad("too_many_tasks", 0, f"A batch holds at most {OPENAI_MAX_REQUESTS} requests.")
    return entries, problems


def anthropic_batch_problem(body: Any) -> str | None:
    """Why Message Batches would reject this create body (its 400 message), or None."""
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        return "requests: at least one request is required"
    if len(requests) > ANTHROPIC_MAX_REQUESTS:
        return f"requests: a batch holds at most {ANTHROPIC_MAX_REQUESTS} requests"
    seen: set[str] = set()
    for i, item in enumerate(requests):
        if not isinstance(item, dict) or set(item) != {"custom_id", "params"}:
            return f"requests.{i}: custom_id and params are required (and nothing else)"
        cid = item["custom_id"]
        if not isinstance(cid, str) or not ANTHROPIC_CUSTOM_ID.match(cid):
            return f"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
        if cid in seen:
            return f"requests.{i}.custom_id: duplicate custom_id {cid!r}"
        seen.add(cid)
        if (item["params"] or {}).get("stream"):
            return f"requests.{i}.params.stream: streaming is not supported in batches"
    return None


def gemini_batch_problem(body: Any, raw: bytes) -> str | None:
    """Why batchGenerateContent would reject this body (its 400 message), or None."""
    batch = body.get("batch") if isinstance(body, dict) else None
    config = (batch or {}).get("inputConfig") or {}
    inline = (config.get("requests") or {}).get("requests")
    if not inline and not config.get("fileName"):
        return "batch.input_config: requests or file_name is required"
    if inline is not None and len(raw) > GEMINI_INLINE_MAX_BYTES:
        return "Request payload size exceeds the limit: 20971520 bytes (use a file for input)"
    for i, item in enumerate(inline or ()):
        if not isinstance(item, dict) or not isinstance(item.get("request"), dict):
            return f"batch.input_config.requests.requests[{i}].request: required"
        if not item["request"].get("contents"):
            return f"batch.input_config.requests.requests[{i}].request.contents: required"
    return None


# --------------------------------------------------------------------------- OpenAI


class FakeOpenAIBatch(FakeBatchServer):
    """``/v1/files``, ``/v1/batches``, ``/v1/batches/{id}``, ``/v1/files/{id}/content``.

    ``final(index)`` is a Batch status: completed, expired, cancelled or failed.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Create the server; uploaded and generated files live in ``files``."""
        super().__init__(*args, **kwargs)
        self.files: dict[str, bytes] = {}
        self.uploads: list[dict[str, Any]] = []

    def route(
        self, method: str, path: str, headers: dict[str, str], raw: bytes, body: Any
    ) -> tuple[int, str, bytes]:
        """The Files and Batch endpoints."""
        if method == "POST" and path == "/v1/files":
            return self._upload(headers, raw)
        if method == "POST" and path == "/v1/batches":
            return self._create(body, headers)
        m = re.fullmatch(r"/v1/batches/([^/]+)", path)
        if method == "GET" and m:
            batch = self.batches.get(m.group(1))
            if batch is None:
                return _json(404, {"error": {"message": "No batch found", "code": None}})
            self._poll(batch)
            return _json(200, self._batch_object(batch))
        m = re.fullmatch(r"/v1/files/([^/]+)/content", path)
        if method == "GET" and m and m.group(1) in self.files:
            return 200, "application/octet-stream", self.files[m.group(1)]
        return _json(404, {"error": {"message": f"no route {method} {path}"}})

    def _upload(self, headers: dict[str, str], raw: bytes) -> tuple[int, str, bytes]:
        head = f"Content-Type: {headers['content-type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.default).parsebytes(head + raw)
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[name] = part.get_payload(decode=True)
            if name == "file":
                fields["filename"] = part.get_filename()
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = fields["file"]
        self.uploads.append({"id": file_id, **fields})
        return _json(
            200,
            {
                "id": file_id,
                "object": "file",
                "bytes": len(fields["file"]),
                "created_at": 1,
                "filename": fields.get("filename") or "upload",
                "purpose": fields["purpose"].decode(),
                "status": "processed",
            },
        )

    def reject(self, batch: FakeBatch, entry: Any) -> Fail | None:
        """A line whose body breaks the Chat Completions rules fails alone with a 400."""
        problem = check_openai(entry["body"])
        return Fail(400, problem["error"]["message"]) if problem else None

    def _create(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, str, bytes]:
        if body.get("endpoint") != "/v1/chat/completions" or body.get("completion_window") != (
            "24h"
        ):
            return _json(400, openai_error("endpoint and completion_window '24h' are required"))
        data = self.files.get(body.get("input_file_id", ""))
        if data is None:
            return _json(400, openai_error("input file not found", "input_file_id"))
        entries, problems = read_openai_input(data, body["endpoint"])
        batch = self._new_batch(f"batch_{len(self.batches) + 1}", entries)
        batch.created_with = body  # type: ignore[attr-defined]
        batch.headers = headers
        if problems:  # validation fails the whole batch, as the Batch API does
            batch.final = "failed"
            batch.errors = problems  # type: ignore[attr-defined]
        return _json(200, self._batch_object(batch))

    def _batch_object(self, batch: FakeBatch) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": batch.id,
            "object": "batch",
            "endpoint": "/v1/chat/completions",
            "input_file_id": "file-in",
            "completion_window": "24h",
            "created_at": 1,
            "status": "validating" if not self.requests_polled(batch) else "in_progress",
            "request_counts": {"total": len(batch.entries), "completed": 0, "failed": 0},
        }
        if not batch.ended:
            return obj
        obj["status"] = batch.final
        if batch.final == "failed":
            obj["errors"] = {
                "object": "list",
                "data": getattr(batch, "errors", None)
                or [{"code": "invalid_request", "line": 1, "message": "bad model"}],
            }
            return obj
        out, err = [], []
        for cid, outcome in batch.outcomes.items():
            if isinstance(outcome, Ok | Body):
                completion = (
                    outcome.obj
                    if isinstance(outcome, Body)
                    else openai_completion(
                        outcome.text,
                        prompt_tokens=outcome.input_tokens,
                        completion_tokens=outcome.output_tokens,
                    )
                )
                out.append(
                    {
                        "id": f"req_{cid}",
                        "custom_id": cid,
                        "response": {"status_code": 200, "request_id": "r", "body": completion},
                        "error": None,
                    }
                )
            elif isinstance(outcome, Fail):
                err.append(
                    {
                        "id": f"req_{cid}",
                        "custom_id": cid,
                        "response": {
                            "status_code": outcome.status,
                            "request_id": "r",
                            "body": {"error": {"message": outcome.message, "code": None}},
                        },
                        "error": None,
                    }
                )
            else:
                code = "batch_cancelled" if batch.final == "cancelled" else "batch_expired"
                err.append(
                    {
                        "id": f"req_{cid}",
                        "custom_id": cid,
                        "response": None,
                        "error": {"code": code, "message": "not run before the window ended"},
                    }
                )
        counts = {"total": len(batch.entries), "completed": len(out), "failed": len(err)}
        obj["request_counts"] = counts
        for key, lines in (("output_file_id", out), ("error_file_id", err)):
            if lines:
                file_id = f"{batch.id}-{key}"
                self.files[file_id] = "".join(json.dumps(x) + "\n" for x in lines).encode()
                obj[key] = file_id
        return obj

    def requests_polled(self, batch: FakeBatch) -> bool:
        """True once the batch was polled at least once."""
        return batch.polls_left < self.polls


# --------------------------------------------------------------------------- Anthropic


class FakeAnthropicBatch(FakeBatchServer):
    """``/v1/messages/batches``, ``/v1/messages/batches/{id}`` and its ``/results``.

    ``final(index)`` is ``ended`` or ``canceled`` (cancel initiated; unanswered = canceled).
    """

    default_final = "ended"

    def reject(self, batch: FakeBatch, entry: Any) -> Fail | None:
        """A request whose params break the Messages rules fails alone with a 400."""
        problem = check_anthropic(entry, {"anthropic-version": "2026-10-21"})
        return Fail(400, problem["error"]["message"]) if problem else None

    def route(
        self, method: str, path: str, headers: dict[str, str], raw: bytes, body: Any
    ) -> tuple[int, str, bytes]:
        """The Message Batches endpoints."""
        if method == "POST" and path == "/v1/messages/batches":
            problem = anthropic_batch_problem(body)
            if problem is not None:
                return _json(400, anthropic_error(problem))
            entries = [(r["custom_id"], r["params"]) for r in body["requests"]]
            batch = self._new_batch(f"msgbatch_{len(self.batches) + 1:03d}", entries)
            batch.headers = headers
            return _json(200, self._batch_object(batch))
        m = re.fullmatch(r"/v1/messages/batches/([^/]+)(/results)?", path)
        if method == "GET" and m:
            batch = self.batches.get(m.group(1))
            if batch is None:
                return _json(404, {"type": "error", "error": {"type": "not_found_error"}})
            if m.group(2):
                return 200, "application/binary", self._results(batch)
            self._poll(batch)
            return _json(200, self._batch_object(batch))
        return _json(404, {"type": "error", "error": {"type": "not_found_error", "message": path}})

    def _batch_object(self, batch: FakeBatch) -> dict[str, Any]:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        obj: dict[str, Any] = {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "in_progress",
            "created_at": "2026-11-29T00:00:00Z",
            "expires_at": "2026-11-30T00:00:00Z",
            "ended_at": None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": None,
            "request_counts": counts,
        }
        if not batch.ended:
            counts["processing"] = len(batch.entries)
            return obj
        for outcome in batch.outcomes.values():
            key = {Ok: "succeeded", Body: "succeeded", Fail: "errored"}.get(type(outcome))
            counts[key or ("canceled" if batch.final == "canceled" else "expired")] += 1
        obj["processing_status"] = "ended"
        obj["ended_at"] = "2026-11-29T01:00:00Z"
        if batch.final == "canceled":
            obj["cancel_initiated_at"] = "2026-11-29T00:30:00Z"
        obj["results_url"] = f"{self.url}/v1/messages/batches/{batch.id}/results"
        return obj

    def _results(self, batch: FakeBatch) -> bytes:
        lines = []
        for cid, outcome in reversed(list(batch.outcomes.items())):  # any order is allowed
            if isinstance(outcome, Ok | Body):
                message = (
                    outcome.obj
                    if isinstance(outcome, Body)
                    else anthropic_message(
                        outcome.text,
                        input_tokens=outcome.input_tokens,
                        output_tokens=outcome.output_tokens,
                    )
                )
                result: dict[str, Any] = {"type": "succeeded", "message": message}
            elif isinstance(outcome, Fail):
                error_type = "invalid_request_error" if outcome.status == 400 else "api_error"
                result = {
                    "type": "errored",
                    "error": {
                        "type": "error",
                        "error": {"type": error_type, "message": outcome.message},
                    },
                }
            else:
                result = {"type": "canceled" if batch.final == "canceled" else "expired"}
            lines.append(json.dumps({"custom_id": cid, "result": result}) + "\n")
        return "".join(lines).encode()


# --------------------------------------------------------------------------- Gemini


class FakeGeminiBatch(FakeBatchServer):
    """``models/{model}:batchGenerateContent`` and ``batches/{id}`` (inline requests).

    Served under both ``/v1beta`` (the documented REST path) and ``/v1`` (the SDK's default).

    ``final(index)`` is a BatchState: BATCH_STATE_SUCCEEDED, _EXPIRED, _CANCELLED or _FAILED.
    With ``echo_metadata=False`` inline responses carry no ``metadata`` (matched by position).
    """

    default_final = "BATCH_STATE_SUCCEEDED"

    def __init__(self, *args: Any, echo_metadata: bool = True, **kwargs: Any) -> None:
        """Create the server."""
        super().__init__(*args, **kwargs)
        self.echo_metadata = echo_metadata

    def route(
        self, method: str, path: str, headers: dict[str, str], raw: bytes, body: Any
    ) -> tuple[int, str, bytes]:
        """The batch mode endpoints."""
        m = re.fullmatch(r"/v1(?:beta)?/models/([^/:]+):batchGenerateContent", path)
        if method == "POST" and m:
            problem = gemini_batch_problem(body, raw)
            if problem is not None:
                return _json(400, gemini_error(problem))
            requests = body["batch"]["inputConfig"]["requests"]["requests"]
            entries = [(r.get("metadata", {}).get("key", ""), r["request"]) for r in requests]
            batch = self._new_batch(f"batches/b{len(self.batches) + 1}", entries)
            batch.model = m.group(1)  # type: ignore[attr-defined]
            batch.headers = headers
            batch.display_name = body["batch"].get("displayName")  # type: ignore[attr-defined]
            return _json(200, self._operation(batch))
        m = re.fullmatch(r"/v1(?:beta)?/(batches/[^/?]+)", path.split("?")[0])
        if method == "GET" and m:
            batch = self.batches.get(m.group(1))
            if batch is None:
                return _json(404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "?"}})
            self._poll(batch)
            return _json(200, self._operation(batch))
        return _json(404, {"error": {"code": 404, "status": "NOT_FOUND", "message": path}})

    def reject(self, batch: FakeBatch, entry: Any) -> Fail | None:
        """A request breaking the generateContent rules fails alone with a 400."""
        problem = check_gemini(getattr(batch, "model", ""), entry)
        return Fail(400, problem["error"]["message"]) if problem else None

    def _operation(self, batch: FakeBatch) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatch",
            "name": batch.id,
            "model": f"models/{getattr(batch, 'model', '')}",
            "displayName": getattr(batch, "display_name", None),
            "state": "BATCH_STATE_PENDING",
        }
        if batch.polls_left < self.polls and not batch.ended:
            meta["state"] = "BATCH_STATE_RUNNING"
        op: dict[str, Any] = {"name": batch.id, "metadata": meta}
        if not batch.ended:
            return op
        meta["state"] = batch.final
        responses = []
        for cid, outcome in batch.outcomes.items():
            item: dict[str, Any]
            if isinstance(outcome, Body):
                item = {"response": outcome.obj}
            elif isinstance(outcome, Ok):
                item = {
                    "response": gemini_response(
                        outcome.text,
                        prompt_tokens=outcome.input_tokens,
                        output_tokens=outcome.output_tokens,
                    )
                }
            elif isinstance(outcome, Fail):
                item = {
                    "error": {
                        "code": 3 if outcome.status == 400 else 13,
                        "message": outcome.message,
                    }
                }
            else:
                continue
            if self.echo_metadata:
                item["metadata"] = {"key": cid}
            responses.append(item)
        if batch.final != "BATCH_STATE_FAILED":
            meta["output"] = {"inlinedResponses": {"inlinedResponses": responses}}
        op["done"] = True
        return op


# --------------------------------------------------------------------------- run helpers

LABELS = ("dark", "bright")


def toy_samples(directory: Any, n: int = 4) -> list[Any]:
    """n 16x16 PNG samples for classification, alternately dark (even) and bright (odd)."""
    import numpy as np
    from PIL import Image

    from medmine.core import ImageRef, LabelTarget, Sample

    out = []
    for i in range(n):
        label = LABELS[i % 2]
        path = directory / f"toy_{i}.png"
        Image.fromarray(np.full((16, 16, 3), 40 if label == "dark" else 210, np.uint8)).save(path)
        target = LabelTarget(label, LABELS)
        out.append(Sample(f"s{i}", "toy", (ImageRef(path),), targets={"classification": target}))
    return out


def right_answer(sample_id: str) -> str:
    """The JSON answer that is correct for toy sample ``sample_id``."""
    return json.dumps({"label": LABELS[int(sample_id[1:]) % 2]})


def batch_run(run_dir: Any, model: Any, samples: list[Any], sleep: Any = None, **kw: Any) -> Any:
    """One ``run_batch`` of the classification task; returns (summary, runner, poll waits)."""
    import asyncio

    from medmine.run.batch import run_batch
    from medmine.run.runner import Job, Runner
    from medmine.run.store import RunStore
    from medmine.tasks.classification import ClassificationTask

    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    store = RunStore(run_dir)
    runner = Runner(store, None, progress=False)
    job = Job(model, ClassificationTask(), "toy", samples)
    try:
        summary = asyncio.run(
            run_batch(
                runner, [job], poll_initial_s=0.5, poll_max_s=4.0, sleep=sleep or record, **kw
            )
        )
        runner.score(summary.jobs)
    finally:
        store.close()
    return summary, runner, waits


def stored(run_dir: Any) -> dict[str, Any]:
    """sample id -> stored ResultRow of a run directory."""
    from medmine.run.store import RunStore

    store = RunStore(run_dir)
    try:
        return {r.sample_id: r for r in store.results()}
    finally:
        store.close()


def by_sample(run_dir: Any, decide: Any) -> Any:
    """A plan deciding per sample id (looked up in the driver's batch_jobs table)."""
    from medmine.run.store import RunStore

    def plan(index: int, custom_id: str, params: Any) -> Any:
        store = RunStore(run_dir)
        ids = {it.custom_id: it.sample_id for job in store.batch_jobs() for it in job.items}
        store.close()
        return decide(index, ids[custom_id], params)

    return plan
