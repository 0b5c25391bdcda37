"""Does medmine's latency measure the server, or medmine? Latency vs the server's own time.

A local server (asyncio, in a subprocess) speaks the three providers' wire formats
(OpenAI Chat Completions, Anthropic Messages, Gemini generateContent; streamed as each SDK asks)
and answers each request after a fixed service time. It records its own service time per
request: from the request body fully received to the last byte of the answer written. For each
provider, medmine's backend (through the official SDK, exactly as ``medmine run`` does) sends
real images (Kvasir-SEG endoscopy JPEGs from the shared real-data folder, or any folder given)
at concurrency 1 and 8, and we print the latency medmine recorded for the FIRST answer (cold:
SDK import, client construction) and the median over all answers, each divided by the server's
median service time. Goal: every ratio <= 1.10.

    python benchmarks/latency.py --service-ms 400 --n 16 [--images DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_KEY_ENV = "MEDMINE_BENCH_KEY"
DEFAULT_IMAGES = (
    Path(
        os.environ.get("MEDMINE_REALDATA", Path(__file__).resolve().parents[2] / "shared/realdata")
    )
    / "kvasir_seg/Kvasir-SEG/images"
)
ANSWER = "polyp"


# --------------------------------------------------------------------------- the server


def _answer(path: str, body: dict[str, Any]) -> tuple[str, bytes]:
    """(content type, body) of a one-word answer in the wire format the path speaks."""
    stream = bool(body.get("stream")) or "alt=sse" in path
    if "/chat/completions" in path:
        usage = {"prompt_tokens": 900, "completion_tokens": 2, "total_tokens": 902}
        if not stream:
            message = {"role": "assistant", "content": ANSWER, "refusal": None}
            obj = {
                "id": "c",
                "object": "chat.completion",
                "created": 0,
                "model": "m",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": usage,
            }
            return "application/json", json.dumps(obj).encode()
        chunks = [
            {"choices": [{"index": 0, "delta": {"content": ANSWER}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {"choices": [], "usage": usage},
        ]
        events = (
            "".join(
                "data: "
                + json.dumps(
                    {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", **c}
                )
                + "\n\n"
                for c in chunks
            )
            + "data: [DONE]\n\n"
        )
        return "text/event-stream", events.encode()
    if path.startswith("/v1/messages"):
        usage = {"input_tokens": 900, "output_tokens": 2}
        message = {
            "id": "msg",
            "type": "message",
            "role": "assistant",
            "model": "m",
            "content": [{"type": "text", "text": ANSWER}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        if not stream:
            return "application/json", json.dumps(message).encode()
        start = {**message, "content": [], "stop_reason": None}
        events = [
            ("message_start", {"type": "message_start", "message": start}),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": ANSWER},
                },
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 2},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        text = "".join(f"event: {n}\ndata: {json.dumps(d)}\n\n" for n, d in events)
        return "text/event-stream", text.encode()
    response = {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": ANSWER}]},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 900,
            "candidatesTokenCount": 2,
            "totalTokenCount": 902,
        },
    }
    if not stream:
        return "application/json", json.dumps(response).encode()
    return "text/event-stream", f"data: {json.dumps(response)}\r\n\r\n".encode()


async def _serve(service_s: float) -> None:
    """Serve forever; print the port first. ``GET /stats`` returns and clears the service
    times (seconds) of the requests answered so far; ``GET /sent`` returns and clears the
    requests received (path and body), which the raw reference client replays."""
    times: list[float] = []
    sent: list[dict[str, str]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                raw = await reader.readexactly(length) if length else b""
                received = time.perf_counter()
                if method == "GET" and path == "/stats":
                    content_type, data = "application/json", json.dumps(times).encode()
                    times.clear()
                elif method == "GET" and path == "/sent":
                    content_type, data = "application/json", json.dumps(sent).encode()
                    sent.clear()
                else:
                    sent.append({"path": path, "body": raw.decode()})
                    await asyncio.sleep(service_s)
                    content_type, data = _answer(path, json.loads(raw or b"{}"))
                head_out = (
                    f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
                    f"Content-Length: {len(data)}\r\n"
                    "Connection: keep-alive\r\n\r\n"
                )
                writer.write(head_out.encode() + data)
                await writer.drain()
                if method == "POST":
                    times.append(time.perf_counter() - received)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


# --------------------------------------------------------------------------- the client


async def _stats(url: str) -> list[float]:
    """The server's service times since the last call."""
    import httpx

    async with httpx.AsyncClient() as client:
        return list((await client.get(url + "/stats")).json())


async def _get(url: str) -> Any:
    """A JSON GET (the server's bookkeeping endpoints)."""
    import httpx

    async with httpx.AsyncClient(timeout=60) as client:
        return (await client.get(url)).json()


async def replay(
    url: str, sent: list[dict[str, str]], concurrency: int
) -> tuple[list[float], float]:
    """The raw reference: the very request bodies medmine sent, replayed with a bare httpx
    client (bodies already bytes; no SDK, no medmine) in the same pattern (first alone, the
    rest gathered under ``concurrency`` slots); latency from send to the last byte read."""
    import httpx

    key = os.environ[BENCH_KEY_ENV]
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    slots = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=max(concurrency, 1) + 2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one(item: dict[str, str]) -> float:
            body = item["body"].encode()
            async with slots:
                start = time.perf_counter()
                async with client.stream("POST", url + item["path"], content=body,
                                         headers=headers) as response:  # fmt: skip
                    async for _ in response.aiter_raw():
                        pass
                return time.perf_counter() - start

        first = await one(sent[0])
        cpu = time.process_time()
        rest = await asyncio.gather(*(one(item) for item in sent[1:]))
        cpu = (time.process_time() - cpu) / max(1, len(sent) - 1)
    return [first, *rest], cpu


async def measure(
    provider: str, url: str, images: list[Path], n: int, concurrency: int, stream: bool
) -> dict[str, float]:
    """Send ``n`` image requests through a fresh backend (cold: first request pays nothing
    of SDK import or client construction in its latency) at ``concurrency``."""
    from medmine.core import GenerationSettings, ImageRef, user_request
    from medmine.models.factory import build_model
    from medmine.models.presets import Preset
    from medmine.models.retry import RetryPolicy

    model_id = {"openai": "gpt-4o", "anthropic": "claude-sonnet-4-20250514"}.get(
        provider, "gemini-2.5-flash"
    )
    preset = Preset(
        name=f"bench-{provider}",
        provider=provider,
        model_id=model_id,  # type: ignore[arg-type]
        base_url=url + ("/v1" if provider == "openai" else ""),
        api_key_env=BENCH_KEY_ENV,
        concurrency=concurrency,
        stream=stream,
        max_image_edge=1024,
        image_probe=False,
    )
    from medmine.models.images import clear_cache

    clear_cache()  # every row encodes its images afresh, as a run does for new samples
    model: Any = build_model(preset)
    model.retry_policy = RetryPolicy(max_attempts=1)
    settings = GenerationSettings(max_tokens=16)
    requests = [
        user_request(
            "classification",
            f"s{i}",
            [ImageRef(images[i % len(images)])],
            "Is there a polyp? Answer one word.",
            settings,
        )
        for i in range(n)
    ]
    first = await model.generate(requests[0])  # the cold request, alone
    cpu = time.process_time()  # client CPU of the warm requests (all threads of this process)
    rest = await asyncio.gather(*(model.generate(r) for r in requests[1:]))
    cpu = (time.process_time() - cpu) / max(1, len(requests) - 1)
    await model.aclose()
    answers = [first, *rest]
    failed = [a.error for a in answers if a.error]
    if failed:
        raise RuntimeError(f"{provider}: {len(failed)} failed, e.g. {failed[0]}")
    served = await _stats(url)
    service = statistics.median(served)
    latencies = [a.latency_s for a in answers]
    raw, raw_cpu = await replay(url, await _get(url + "/sent"), concurrency)
    raw_service = statistics.median(await _stats(url))
    return {
        "service_s": service,
        "raw_ratio": statistics.median(raw) / raw_service,
        "vs_raw": statistics.median(latencies) / statistics.median(raw),
        "cpu_ms": 1000 * cpu,
        "raw_cpu_ms": 1000 * raw_cpu,
        "first_ratio": first.latency_s / served[0],
        "median_ratio": statistics.median(latencies) / service,
        "p95_ratio": sorted(latencies)[int(0.95 * (len(latencies) - 1))] / service,
        "ttft_le_latency": float(all((a.ttft_s or 0) <= a.latency_s for a in answers)),
        "queue_median_s": statistics.median(a.extra.get("queue_s", 0.0) for a in answers),
    }


def main() -> None:
    """Parse arguments, start the server, print a table of ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--service-ms", type=float, default=400.0)
    parser.add_argument("--n", type=int, default=16, help="requests per provider and setting")
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--providers", default="openai,anthropic,gemini")
    parser.add_argument("--concurrency", default="1,8", help="comma-separated levels")
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.service_ms / 1000))
        return
    images = sorted(p for p in args.images.glob("*") if p.suffix.lower() in (".jpg", ".png"))
    if not images:
        sys.exit(f"no .jpg/.png images in {args.images} (give --images DIR)")
    os.environ.setdefault(BENCH_KEY_ENV, "bench-not-a-real-key")
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--service-ms", str(args.service_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = f"http://127.0.0.1:{int(proc.stdout.readline())}"
    print(
        f"server service time {args.service_ms:.0f} ms; {args.n} requests each; images: "
        f"{len(images)} from {args.images}"
    )
    print(
        f"{'provider':<10} {'stream':<6} {'conc':>4} {'service_s':>9} {'first/svc':>9} "
        f"{'median/svc':>10} {'p95/svc':>8} {'queue_med_s':>11} {'raw/svc':>8} "
        f"{'medmine/raw':>11} {'cpu_ms/req':>10} {'raw_cpu_ms':>10}"
    )
    try:
        for provider in args.providers.split(","):
            for stream in (False, True):
                for concurrency in (int(c) for c in args.concurrency.split(",")):
                    r = asyncio.run(measure(provider, url, images, args.n, concurrency, stream))
                    print(
                        f"{provider:<10} {stream!s:<6} {concurrency:>4} "
                        f"{r['service_s']:>9.3f} {r['first_ratio']:>9.3f} "
                        f"{r['median_ratio']:>10.3f} {r['p95_ratio']:>8.3f} "
                        f"{r['queue_median_s']:>11.4f} {r['raw_ratio']:>8.3f} "
                        f"{r['vs_raw']:>11.3f} {r['cpu_ms']:>10.1f} {r['raw_cpu_ms']:>10.1f}",
                        flush=True,
                    )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
