"""Throughput of medmine's OpenAI backend against raw asyncio load generators.

A local OpenAI-compatible server (asyncio, in a subprocess) answers every chat completion
after a fixed service time. In the same run we measure (a) raw asyncio keep-alive sockets
(the reference) and, for comparison, a bare httpx.AsyncClient, and (b)
``OpenAIChatModel.generate`` driven by an asyncio semaphore, on the same N requests at the same
concurrency; we print requests/s of each and the ratio medmine / reference (goal: >= 0.9).

    python benchmarks/backend_throughput.py --n 2000 --concurrency 64 --service-ms 50

``run_server(service_time_s)`` is reusable: it returns ``(base_url, stop)``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

from medmine.core import GenerationSettings, Intent, Message, Request, TextPart
from medmine.models.openai_chat import OpenAIChatModel
from medmine.models.presets import Preset
from medmine.models.retry import RetryPolicy

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


def _request_body() -> bytes:
    """The JSON body both load generators send (what OpenAIChatModel sends for PROMPT)."""
    body = {
        "model": "bench",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 16,
        "temperature": 0.0,
    }
    return json.dumps(body).encode()


async def socket_load(base_url: str, n: int, concurrency: int) -> float:
    """Requests/s of raw asyncio sockets: ``concurrency`` keep-alive connections, no library.

    This is the reference: the fastest a Python asyncio client can drive the server.
    """
    url = httpx.URL(base_url)
    body = _request_body()
    head = (
        f"POST {url.path}/chat/completions HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    message = head + body
    remaining = [0]

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(url.host, url.port)
        try:
            while remaining[0] > 0:
                remaining[0] -= 1
                writer.write(message)
                await writer.drain()
                header = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in header.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:].strip())
                json.loads(await reader.readexactly(length))["choices"][0]["message"]["content"]
        finally:
            writer.close()

    async def run(count: int) -> float:
        remaining[0] = count
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - start)

    await run(concurrency)  # warm-up
    return await run(n)


async def httpx_load(base_url: str, n: int, concurrency: int, module: Any = httpx) -> float:
    """Requests/s of a bare ``module.AsyncClient`` posting the same body, ``concurrency`` at
    a time (httpx, or httpx2: the transport the openai SDK uses)."""
    body = json.loads(_request_body())
    limits = module.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with module.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        semaphore = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with semaphore:
                reply = await client.post("/chat/completions", json=body)
                reply.raise_for_status()
                json.loads(reply.content)["choices"][0]["message"]["content"]

        await asyncio.gather(*(one() for _ in range(min(n, concurrency))))  # warm-up
        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - start)


async def sdk_load(base_url: str, n: int, concurrency: int) -> float:
    """Requests/s of the openai SDK used directly (``chat.completions.create``), no medmine."""
    import openai

    client = openai.AsyncOpenAI(api_key="not-needed", base_url=base_url, max_retries=0)
    body = json.loads(_request_body())
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with semaphore:
            completion = await client.chat.completions.create(**body)
            if not completion.choices[0].message.content:
                raise RuntimeError("empty answer from the benchmark server")

    await asyncio.gather(*(one() for _ in range(min(n, concurrency))))  # warm-up
    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    elapsed = time.perf_counter() - start
    await client.close()
    return n / elapsed


async def medmine_load(base_url: str, n: int, concurrency: int, stream: bool) -> float:
    """Requests/s of OpenAIChatModel.generate under an asyncio semaphore."""
    preset = Preset(
        name="bench",
        provider="openai_compatible",
        model_id="bench",
        base_url=base_url,
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
    semaphore = asyncio.Semaphore(concurrency)
    failures: list[str] = []

    async def one() -> None:
        async with semaphore:
            response = await model.generate(request)
            if not response.ok:
                failures.append(response.error or "?")

    await asyncio.gather(*(one() for _ in range(min(n, concurrency))))  # warm-up
    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"{len(failures)} medmine requests failed, first: {failures[0]}")
    return n / elapsed


def measure(url: str, n: int, concurrency: int, stream: bool, rounds: int) -> dict[str, float]:
    """Best requests/s of each load generator over interleaved rounds (less noise)."""
    try:
        import httpx2
    except ImportError:
        httpx2 = None
    runs: dict[str, list[float]] = {}
    for _ in range(rounds):
        runs.setdefault("sockets", []).append(asyncio.run(socket_load(url, n, concurrency)))
        runs.setdefault("httpx", []).append(asyncio.run(httpx_load(url, n, concurrency)))
        if httpx2 is not None:
            runs.setdefault("httpx2", []).append(
                asyncio.run(httpx_load(url, n, concurrency, httpx2))
            )
        runs.setdefault("sdk", []).append(asyncio.run(sdk_load(url, n, concurrency)))
        runs.setdefault("medmine", []).append(
            asyncio.run(medmine_load(url, n, concurrency, stream))
        )
    return {key: max(values) for key, values in runs.items()}


def main() -> None:
    """Parse arguments; serve, or run every load generator against one server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--service-ms", type=float, default=50.0)
    parser.add_argument("--stream", action="store_true", help="medmine streams (SSE)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds, best of")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.service_ms / 1000.0))
        return
    url, stop = run_server(args.service_ms / 1000.0)
    try:
        best = measure(url, args.n, args.concurrency, args.stream, args.rounds)
    finally:
        stop()
    ideal = args.concurrency / (args.service_ms / 1000.0)
    ours = best["medmine"]
    print(
        f"requests={args.n} concurrency={args.concurrency} service={args.service_ms:.0f} ms "
        f"stream={args.stream} rounds={args.rounds} (ideal {ideal:.0f} req/s)"
    )
    labels = {
        "sockets": "raw asyncio sockets (reference)",
        "httpx": "bare httpx.AsyncClient",
        "httpx2": "bare httpx2.AsyncClient (SDK's)",
        "sdk": "openai SDK create() directly",
        "medmine": "medmine OpenAIChatModel",
    }
    for key, label in labels.items():
        if key in best:
            print(f"{label:32s}: {best[key]:8.1f} req/s")
    print(f"{'ratio medmine / raw sockets':32s}: {ours / best['sockets']:8.3f}  (goal >= 0.9)")
    for key in ("httpx", "httpx2", "sdk"):
        if key in best:
            print(f"{'ratio medmine / ' + key:32s}: {ours / best[key]:8.3f}")


if __name__ == "__main__":
    main()
