"""PooledTransport and HttpSender against scripted asyncio HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType

import httpx
import pytest

from medmine.models.http_transport import HttpSender, PooledTransport, proxy_configured

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's body (head parsed for Content-Length); b'' at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return b""
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return await reader.readexactly(length)


def sized(body: bytes, status: int = 200, extra: str = "") -> bytes:
    """A response with a Content-Length."""
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


class MiniServer:
    """asyncio server: each connection runs ``handler(reader, writer, index)``; counts them."""

    def __init__(self, handler: Handler) -> None:
        """Remember the handler; start in ``__aenter__``."""
        self.handler = handler
        self.connections = 0
        self.open_now = 0
        self.max_open = 0
        self.url = ""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Run the handler for one connection, counting open connections."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        self.open_now += 1
        self.max_open = max(self.max_open, self.open_now)
        try:
            await self.handler(reader, writer, self.connections - 1)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # a client hung up, or the test is over
        finally:
            self.open_now -= 1
            writer.close()

    async def __aenter__(self) -> MiniServer:
        """Listen on a free port; ``url`` is ``http://127.0.0.1:PORT``."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop listening and end every handler still running."""
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 1)


async def echo_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
    """Keep-alive: answer every request with its body wrapped in JSON."""
    while body := await read_request(reader):
        writer.write(sized(json.dumps({"got": body.decode()}).encode()))
        await writer.drain()


def client(url: str, transport: httpx.AsyncBaseTransport, timeout: float = 5) -> httpx.AsyncClient:
    """An httpx client over ``transport``."""
    return httpx.AsyncClient(base_url=url, transport=transport, timeout=timeout)


async def test_keepalive_reuses_one_connection() -> None:
    async with MiniServer(echo_forever) as server, client(server.url, PooledTransport(4)) as c:
        for i in range(5):
            reply = await c.post("/v1/x", content=f"r{i}".encode())
            assert reply.status_code == 200 and reply.json() == {"got": f"r{i}"}
    assert server.connections == 1


async def test_same_answer_as_httpx_default_transport() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        while body := await read_request(reader):
            writer.write(sized(body[::-1], status=207, extra="X-Thing: a\r\nX-Thing: b\r\n"))
            await writer.drain()

    async with MiniServer(handler) as server:
        replies = []
        for transport in (PooledTransport(2), httpx.AsyncHTTPTransport()):
            async with client(server.url, transport) as c:
                replies.append(await c.post("/p?q=1", content=b"hello"))
    ours, ref = replies
    assert ours.status_code == ref.status_code == 207
    assert ours.content == ref.content == b"olleh"
    assert ours.headers.get_list("x-thing") == ref.headers.get_list("x-thing") == ["a", "b"]
    assert ours.http_version == ref.http_version == "HTTP/1.1"


async def test_chunked_response_body() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        while await read_request(reader):
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in (b'{"a": ', b"[1, 2]", b"}"):
                writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                await writer.drain()
            writer.write(b"0\r\n\r\n")

    async with MiniServer(handler) as server, client(server.url, PooledTransport(1)) as c:
        assert (await c.post("/", content=b"x")).json() == {"a": [1, 2]}
        assert (await c.post("/", content=b"x")).json() == {"a": [1, 2]}
    assert server.connections == 1


async def test_pool_caps_open_connections() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        while body := await read_request(reader):
            await asyncio.sleep(0.05)
            writer.write(sized(body))

    async with MiniServer(slow) as server, client(server.url, PooledTransport(2)) as c:
        replies = await asyncio.gather(*(c.post("/", content=str(i).encode()) for i in range(6)))
    assert sorted(r.content for r in replies) == [str(i).encode() for i in range(6)]
    assert server.max_open == 2 and server.connections == 2


async def test_pool_timeout_when_every_connection_is_busy() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        while body := await read_request(reader):
            await asyncio.sleep(0.5)
            writer.write(sized(body))

    timeout = httpx.Timeout(5, pool=0.05)
    async with MiniServer(slow) as server, client(server.url, PooledTransport(1), timeout) as c:
        first = asyncio.ensure_future(c.post("/", content=b"1"))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await c.post("/", content=b"2")
        assert (await first).content == b"1"


async def test_stale_keepalive_connection_is_replaced_once() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        if i == 0:  # answers once, then drops the next request unanswered
            writer.write(sized(await read_request(reader)))
            await writer.drain()
            await read_request(reader)
            return
        await echo_forever(reader, writer, i)

    async with MiniServer(handler) as server, client(server.url, PooledTransport(1)) as c:
        assert (await c.post("/", content=b"one")).content == b"one"
        assert (await c.post("/", content=b"two")).json() == {"got": "two"}
    assert server.connections == 2


async def test_fresh_connection_closed_without_answer_is_an_error() -> None:
    async def rude(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        await read_request(reader)

    async with MiniServer(rude) as server, client(server.url, PooledTransport(1)) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            await c.post("/", content=b"x")
    assert server.connections == 1


async def test_truncated_sized_body_is_a_protocol_error() -> None:
    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        await writer.drain()

    async with MiniServer(short) as server, client(server.url, PooledTransport(1)) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            await c.post("/", content=b"x")


async def test_read_timeout_and_connect_error() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        await read_request(reader)
        await asyncio.sleep(2)

    async with MiniServer(silent) as server, client(server.url, PooledTransport(1), 0.1) as c:
        with pytest.raises(httpx.ReadTimeout):
            await c.post("/", content=b"x")
    async with client(server.url, PooledTransport(1), 1) as c:  # server is gone now
        with pytest.raises(httpx.ConnectError):
            await c.post("/", content=b"x")


async def test_cancelled_request_frees_its_slot() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        if i == 0:
            await read_request(reader)
            await asyncio.sleep(2)
            return
        await echo_forever(reader, writer, i)

    timeout = httpx.Timeout(5, pool=0.5)
    async with MiniServer(handler) as server, client(server.url, PooledTransport(1), timeout) as c:
        stuck = asyncio.ensure_future(c.post("/", content=b"a"))
        await asyncio.sleep(0.05)
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck
        assert (await c.post("/", content=b"b")).json() == {"got": "b"}


async def test_stream_closed_after_buffered_end_keeps_the_connection() -> None:
    sse = b'data: {"n": 1}\n\ndata: [DONE]\n\n'

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        while await read_request(reader):
            writer.write(sized(sse))
            await writer.drain()

    async with MiniServer(handler) as server:
        sender = HttpSender(server.url + "/v1", 2, 5)
        for _ in range(3):
            response = await sender.send("/chat/completions", b"{}", [])
            async for line in response.aiter_lines():
                if line == "data: [DONE]":
                    break  # stop reading at [DONE], as the OpenAI stream parser does
            await response.aclose()
        await sender.aclose()
    assert server.connections == 1


async def test_sender_posts_to_base_path_with_headers() -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head)
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        writer.write(sized(await reader.readexactly(length)))

    async with MiniServer(handler) as server:
        sender = HttpSender(server.url + "/v1/", 1, 5)
        response = await sender.send("/chat/completions", b'{"a":1}', [(b"X-Key", b"v")])
        assert await response.aread() == b'{"a":1}'
        await response.aclose()
        await sender.aclose()
    head = seen[0].decode().lower()
    assert head.startswith("post /v1/chat/completions http/1.1\r\n")
    assert "x-key: v\r\n" in head and "content-length: 7\r\n" in head and "host: 127.0.0.1" in head


def test_proxy_detection_and_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    assert not proxy_configured("http://example.org/v1")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    assert proxy_configured("https://example.org/v1")
    assert not proxy_configured("http://example.org/v1")
    monkeypatch.setenv("NO_PROXY", "example.org")
    assert not proxy_configured("https://example.org/v1")
    assert HttpSender("https://other.org/v1", 2, 5)._client is not None  # proxied: httpx client
    assert HttpSender("https://example.org/v1", 2, 5)._transport is not None


def test_bad_arguments_are_value_errors() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        PooledTransport(0)
    with pytest.raises(ValueError, match="base URL"):
        HttpSender("localhost:8000", 2, 5)
    with pytest.raises(ValueError, match="base URL"):
        HttpSender("ftp://host/v1", 2, 5)


def test_connections_do_not_leak_across_event_loops() -> None:
    transport = PooledTransport(2)

    async def one_run() -> str:
        async with MiniServer(echo_forever) as server:
            async with client(server.url, transport) as c:
                reply = await c.post("/", content=b"x")
            transport._closed = False  # the client closed it; reuse it in the next loop
            return reply.json()["got"]

    assert asyncio.run(one_run()) == "x"
    assert asyncio.run(one_run()) == "x"  # no connection or semaphore of the old loop is used


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_https_with_verified_certificate(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    files = ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
    san = ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", *files, *san],
        check=True,
        capture_output=True,
    )
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    accepted: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            await echo_forever(reader, writer, 0)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        async with client(url, PooledTransport(1, verify=trusted)) as c:
            assert (await c.post("/v1", content=b"tls")).json() == {"got": "tls"}
            assert (await c.post("/v1", content=b"again")).json() == {"got": "again"}
        async with client(url, PooledTransport(1)) as c:  # default roots: self-signed refused
            with pytest.raises(httpx.ConnectError):
                await c.post("/v1", content=b"x")
    finally:
        server.close()
    assert len(accepted) >= 1


async def test_chunked_sse_streams_reuse_the_connection() -> None:
    """A vLLM-style chunked SSE answer: the model reads past [DONE] so the connection stays."""
    from conftest import make_request
    from fakeservers import openai_sse

    from medmine.models.openai_chat import OpenAIChatModel
    from medmine.models.presets import Preset

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
        while await read_request(reader):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n")
            writer.write(b"Transfer-Encoding: chunked\r\n\r\n")
            for event in openai_sse(["Pleural ", "effusion"]):
                data = event.encode()
                writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                await writer.drain()
                await asyncio.sleep(0.001)
            writer.write(b"0\r\n\r\n")

    async with MiniServer(handler) as server:
        preset = Preset(name="v", provider="openai_compatible", model_id="m", base_url=server.url)
        model = OpenAIChatModel(preset)
        for _ in range(3):
            response = await model.generate(make_request())
            assert response.text == "Pleural effusion" and response.extra["streamed"] is True
        await model.aclose()
    assert server.connections == 1
