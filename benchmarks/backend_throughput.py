"""Throughput and client CPU of medmine's OpenAI backend next to raw asyncio load generators.

A local OpenAI-compatible server (asyncio, in its own subprocess, so its CPU is not counted)
answers every chat completion after a fixed service time. Each service time given (default: 0
ms, an instant server that exposes client cost, and 300 ms, a realistic one) gets its own
server; against it, every leg sends the same N requests (same body) at the same concurrency,
driven the same way (``concurrency`` workers), after a warm-up of its own, best of interleaved
rounds: raw asyncio keep-alive sockets (the reference), bare httpx.AsyncClient and
httpx2.AsyncClient, the openai SDK's ``create()``, and ``OpenAIChatModel.generate`` for provider
``openai_compatible`` (direct HTTP, lean pool) and provider ``openai`` (through the SDK).

Per leg we print requests/s and the client's CPU time per request (``time.process_time`` of
this process over the timed requests: user + system, all threads), then the ratios to the
sockets leg, and the peak RSS of this (client) process at the end.

    python benchmarks/backend_throughput.py --n 2000 --concurrency 64 --service-ms 0,300 [--stream]

``run_server(service_time_s)`` is reusable: it returns ``(base_url, stop)``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from medmine.core import GenerationSettings, Intent, Message, Request, TextPart
from medmine.models.openai_chat import OpenAIChatModel
from medmine.models.presets import Preset
from medmine.models.retry import RetryPolicy

BENCH_KEY_ENV = "MEDMINE_BENCH_KEY"
PROMPT = "Classify the finding in this report: small left pleural effusion. Answer one word."


def _payloads() -> tuple[bytes, bytes]:
    """Pre-rendered JSON and SSE bodies of one completion."""
    usage = {"prompt_tokens": 30, "completion_tokens": 2, "total_tokens": 32}
    completion = {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "bench",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "effusion"},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }

    def chunk(delta: dict, finish: str | None, with_usage: bool = False) -> str:
        obj = {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "bench",
            "choices": []
            if with_usage
            else [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if with_usage:
            obj["usage"] = usage
        return f"data: {json.dumps(obj)}\n\n"

    sse = (
        chunk({"role": "assistant", "content": "effusion"}, None)
        + chunk({}, "stop")
        + chunk({}, None, with_usage=True)
        + "data: [DONE]\n\n"
    )
    return json.dumps(completion).encode(), sse.encode()


async def _serve(service_time_s: float) -> None:
    """Serve chat completions forever; print the port on stdout first."""
    body_json, body_sse = _payloads()

    def response(body: bytes, content_type: str) -> bytes:
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
        )
        return head.encode() + body

    plain = response(body_json, "application/json")
    streamed = response(body_sse, "text/event-stream")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:].strip())
                body = await reader.readexactly(length) if length else b""
                await asyncio.sleep(service_time_s)
                writer.write(streamed if b'"stream":true' in body.replace(b" ", b"") else plain)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def run_server(service_time_s: float) -> tuple[str, Callable[[], None]]:
    """Start the fake OpenAI-compatible server in a subprocess: ``(base_url, stop)``."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--service-ms", str(service_time_s * 1000)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline().strip())

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()

    return f"http://127.0.0.1:{port}/v1", stop


def _request_params(stream: bool) -> dict[str, Any]:
    """The create() params every leg sends (what OpenAIChatModel sends for PROMPT)."""
    params: dict[str, Any] = {
        "model": "bench",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 16,
        "temperature": 0.0,
    }
    if stream:
        params.update(stream=True, stream_options={"include_usage": True})
    return params


def _answer_text(body: bytes, stream: bool) -> str:
    """The answer in a completion body (JSON) or a whole SSE body; every leg checks it."""
    if not stream:
        return json.loads(body)["choices"][0]["message"]["content"]
    text = []
    for event in body.split(b"\n\n"):
        if event.startswith(b"data: ") and event != b"data: [DONE]":
            for choice in json.loads(event[6:])["choices"]:
                text.append(choice["delta"].get("content") or "")
    return "".join(text)


Rate = tuple[float, float]  # (requests/s, client CPU seconds per request)


async def drive(one: Callable[[], Awaitable[None]], n: int, concurrency: int) -> Rate:
    """(requests/s, client CPU s/request) of ``n`` calls of ``one`` by ``concurrency`` workers
    (same driver for every leg), after a warm-up of ``concurrency`` calls that opens the
    connections."""

    async def run(count: int) -> None:
        remaining = [count]

        async def worker() -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                await one()

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    await run(concurrency)  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    await run(n)
    cpu = time.process_time() - cpu
    return n / (time.perf_counter() - start), cpu / n


async def socket_load(base_url: str, n: int, concurrency: int, stream: bool = False) -> Rate:
    """Requests/s of raw asyncio sockets: ``concurrency`` keep-alive connections, no library.

    This is the reference: the fastest a Python asyncio client can drive the server.
    """
    url = httpx.URL(base_url)
    body = json.dumps(_request_params(stream)).encode()
    head = (
        f"POST {url.path}/chat/completions HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    message = head + body
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def one() -> None:
        if idle:
            reader, writer = idle.pop()
        else:
            reader, writer = await asyncio.open_connection(url.host, url.port)
        writer.write(message)
        await writer.drain()
        header = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in header.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:].strip())
        if not _answer_text(await reader.readexactly(length), stream):
            raise RuntimeError("empty answer from the benchmark server")
        idle.append((reader, writer))

    try:
        return await drive(one, n, concurrency)
    finally:
        for _, writer in idle:
            writer.close()


async def httpx_load(
    base_url: str, n: int, concurrency: int, stream: bool = False, module: Any = httpx
) -> Rate:
    """Requests/s of a bare ``module.AsyncClient`` posting the same body, ``concurrency`` at
    a time (httpx, or httpx2: the transport the openai SDK uses)."""
    body = _request_params(stream)
    limits = module.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with module.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:

        async def one() -> None:
            reply = await client.post("/chat/completions", json=body)
            reply.raise_for_status()
            if not _answer_text(reply.content, stream):
                raise RuntimeError("empty answer from the benchmark server")

        return await drive(one, n, concurrency)


async def sdk_load(base_url: str, n: int, concurrency: int, stream: bool = False) -> Rate:
    """Requests/s of the openai SDK used directly (``chat.completions.create``), no medmine."""
    import openai

    client = openai.AsyncOpenAI(api_key="not-needed", base_url=base_url, max_retries=0)
    params = _request_params(stream)

    async def one() -> None:
        if stream:
            text = ""
            async for chunk in await client.chat.completions.create(**params):
                for choice in chunk.choices:
                    text += choice.delta.content or ""
        else:
            completion = await client.chat.completions.create(**params)
            text = completion.choices[0].message.content or ""
        if not text:
            raise RuntimeError("empty answer from the benchmark server")

    try:
        return await drive(one, n, concurrency)
    finally:
        await client.close()


async def medmine_load(
    base_url: str, n: int, concurrency: int, stream: bool, provider: str = "openai_compatible"
) -> Rate:
    """Requests/s of OpenAIChatModel.generate: provider ``openai_compatible`` (direct HTTP) or
    ``openai`` (through the official SDK)."""
    os.environ.setdefault(BENCH_KEY_ENV, "sk-bench-not-a-key")
    preset = Preset(
        name="bench",
        provider=provider,  # type: ignore[arg-type]
        model_id="bench",
        base_url=base_url,
        api_key_env=BENCH_KEY_ENV if provider == "openai" else None,
        stream=stream,
        concurrency=concurrency,
        timeout_s=60,
    )
    model = OpenAIChatModel(preset, retry_policy=RetryPolicy(max_attempts=1))
    request = Request(
        messages=(Message("user", (TextPart(PROMPT),)),),
        intent=Intent(task="diagnosis", sample_id="bench"),
        settings=GenerationSettings(max_tokens=16),
    )
    failures: list[str] = []

    async def one() -> None:
        response = await model.generate(request)
        if not response.ok or not response.text:
            failures.append(response.error or "empty answer")

    try:
        rate = await drive(one, n, concurrency)
    finally:
        await model.aclose()
    if failures:
        raise RuntimeError(f"{len(failures)} medmine requests failed, first: {failures[0]}")
    return rate


LEGS: dict[str, str] = {
    "sockets": "raw asyncio sockets (reference)",
    "httpx": "bare httpx.AsyncClient",
    "httpx2": "bare httpx2.AsyncClient (SDK's)",
    "sdk": "openai SDK create() directly",
    "medmine": "medmine openai_compatible",
    "medmine_sdk": "medmine openai (via SDK)",
}


def _leg(key: str, url: str, n: int, concurrency: int, stream: bool) -> Awaitable[Rate]:
    """The coroutine measuring one leg."""
    if key == "sockets":
        return socket_load(url, n, concurrency, stream)
    if key == "httpx":
        return httpx_load(url, n, concurrency, stream)
    if key == "httpx2":
        import httpx2

        return httpx_load(url, n, concurrency, stream, httpx2)
    if key == "sdk":
        return sdk_load(url, n, concurrency, stream)
    if key == "medmine":
        return medmine_load(url, n, concurrency, stream)
    return medmine_load(url, n, concurrency, stream, provider="openai")


def measure(
    url: str, n: int, concurrency: int, stream: bool, rounds: int, legs: list[str]
) -> dict[str, Rate]:
    """Best requests/s of each leg over interleaved rounds (each leg in its own event loop),
    with the lowest client CPU per request seen for that leg."""
    runs: dict[str, list[Rate]] = {key: [] for key in legs}
    for _ in range(rounds):
        for key in legs:
            runs[key].append(asyncio.run(_leg(key, url, n, concurrency, stream)))
    return {
        key: (max(r for r, _ in values), min(c for _, c in values)) for key, values in runs.items()
    }


def _print_table(
    best: dict[str, Rate], n: int, concurrency: int, service_ms: float, stream: bool, rounds: int
) -> None:
    """One service time's legs: requests/s, client CPU per request, ratios to the sockets."""
    ideal = f"{concurrency / (service_ms / 1000.0):.0f} req/s" if service_ms else "unbounded"
    print(
        f"\nrequests={n} concurrency={concurrency} service={service_ms:g} ms stream={stream} "
        f"rounds={rounds} best-of (server-bound ideal {ideal})"
    )
    print(f"{'leg':34s}  {'req/s':>8s}  {'CPU ms/req':>10s}  {'/sockets':>8s}")
    ref = best["sockets"][0]
    for key, label in LEGS.items():
        if key in best:
            rate, cpu = best[key]
            print(f"{label:34s}  {rate:8.1f}  {cpu * 1000:10.3f}  {rate / ref:8.3f}")
    for ours in ("medmine", "medmine_sdk"):
        for key in ("httpx2", "sdk"):
            if key in best and ours in best:
                ratio = best[ours][0] / best[key][0]
                print(f"{'ratio ' + ours + ' / ' + key:34s}  {ratio:8.3f}")


def main() -> None:
    """Parse arguments; serve, or run every load generator against one server per service
    time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--service-ms",
        default="0,300",
        help="comma-separated server service times in ms (0 = answers instantly)",
    )
    parser.add_argument("--stream", action="store_true", help="every leg streams (SSE)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds, best of")
    parser.add_argument(
        "--legs", default=",".join(LEGS), help=f"comma-separated subset of {','.join(LEGS)}"
    )
    parser.add_argument(
        "--skip-httpx", action="store_true", help="skip bare httpx (its default pool is slow)"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(float(args.service_ms) / 1000.0))
        return
    legs = [key for key in args.legs.split(",") if not (key == "httpx" and args.skip_httpx)]
    unknown = set(legs) - set(LEGS)
    if unknown:
        parser.error(f"unknown legs {sorted(unknown)}; choose from {list(LEGS)}")
    if "sockets" not in legs:
        legs.insert(0, "sockets")  # the reference every ratio divides by
    if "httpx2" in legs and importlib.util.find_spec("httpx2") is None:
        legs.remove("httpx2")
    print(
        f"client: {sys.executable} python {sys.version.split()[0]}, httpx {httpx.__version__}; "
        f"prompt {len(PROMPT)} chars text-only, reply 1 choice 'effusion'; "
        f"os.getloadavg()={tuple(round(x, 2) for x in os.getloadavg())}"
    )
    for service_ms in (float(x) for x in args.service_ms.split(",")):
        url, stop = run_server(service_ms / 1000.0)
        try:
            best = measure(url, args.n, args.concurrency, args.stream, args.rounds, legs)
        finally:
            stop()
        _print_table(best, args.n, args.concurrency, service_ms, args.stream, args.rounds)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"\npeak RSS of the client process: {peak:.1f} MiB")


if __name__ == "__main__":
    main()
