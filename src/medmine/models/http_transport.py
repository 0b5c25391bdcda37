"""A lean keep-alive HTTP/1.1 transport for httpx, sized to a model's concurrency.

httpx's default connection pool scans every pooled connection (and probes each idle socket) on
every request, which at 64 concurrent requests costs more CPU than the rest of a call together.
:class:`PooledTransport` keeps idle connections on a stack instead: taking one is O(1). HTTP/1.1
framing is done by ``h11`` (the protocol library httpx's own pool uses), I/O by asyncio streams.
It speaks plain HTTP and HTTPS, honours httpx's connect/read/write/pool timeouts and raises
httpx's exception classes, so an ``httpx.AsyncClient(transport=PooledTransport(n))`` behaves like
a default client apart from proxies (callers fall back to the default transport when the
environment names a proxy for the URL: see :func:`proxy_configured`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import h11
import httpx

READ_SIZE = 65536


def proxy_configured(url: str) -> bool:
    """True when the environment (``HTTP(S)_PROXY``/``ALL_PROXY``, minus ``NO_PROXY``) routes
    ``url`` through a proxy, which this transport does not speak."""
    parsed = httpx.URL(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parsed.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parsed.host)


class _Connection:
    """One TCP (or TLS) connection with its h11 state machine."""

    __slots__ = ("h11", "idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Wrap an open stream pair."""
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)
        self.idle_since = 0.0

    def reusable(self, now: float, expiry: float | None) -> bool:
        """Whether an idle connection may carry another request (not expired, not closed)."""
        if expiry is not None and now - self.idle_since > expiry:
            return False
        return not (self.writer.is_closing() or self.reader.at_eof())

    def close(self) -> None:
        """Close the socket without waiting (nothing is in flight on it)."""
        with contextlib.suppress(Exception):
            self.writer.close()


class _ResponseStream(httpx.AsyncByteStream):
    """The body of one response, read lazily; gives the connection back when done."""

    def __init__(
        self,
        transport: PooledTransport,
        origin: tuple[str, str, int],
        conn: _Connection,
        read_s: float | None,
    ) -> None:
        """Bind the body reader to its connection."""
        self._transport = transport
        self._origin = origin
        self._conn: _Connection | None = conn
        self._read_s: float | None = read_s

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Yield the body's bytes as they arrive (chunked, sized or close-delimited)."""
        conn = self._conn
        if conn is None:
            raise httpx.StreamClosed()
        while True:
            event = await self._transport._next_event(conn, self._read_s)
            if type(event) is h11.Data:
                yield bytes(event.data)
            elif type(event) is h11.EndOfMessage:
                return

    async def aclose(self) -> None:
        """Release the connection: back to the pool after a complete exchange, else closed."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        machine = conn.h11
        try:  # the reader stopped early (an SSE [DONE]): finish from what is already buffered
            while machine.their_state is h11.SEND_BODY:
                event = machine.next_event()
                if event is h11.NEED_DATA or type(event) is h11.ConnectionClosed:
                    break
        except h11.RemoteProtocolError:
            conn.close()
        self._transport._release(self._origin, conn)


class PooledTransport(httpx.AsyncBaseTransport):
    """httpx transport with an O(1) keep-alive pool of at most ``max_connections`` per client.

    ``keepalive_expiry`` (seconds, httpx's default 5) drops idle connections a server has
    likely closed; a request that fails on a reused connection before any byte of the response
    arrived (the server closed it meanwhile) is sent once more on a fresh connection.
    """

    def __init__(
        self,
        max_connections: int,
        *,
        keepalive_expiry: float | None = 5.0,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        """Create an empty pool; no connection is opened here."""
        if max_connections < 1:
            raise ValueError(f"PooledTransport.max_connections must be >= 1, got {max_connections}")
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self._verify = verify
        self._ssl: ssl.SSLContext | None = None
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._slots = asyncio.Semaphore(max_connections)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    # ------------------------------------------------------------------ httpx interface

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on a pooled connection; the body streams from the returned Response."""
        if self._closed:
            raise httpx.ConnectError("the transport is closed", request=request)
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        await self._acquire_slot(timeouts.get("pool"), request)
        conn: _Connection | None = None
        try:
            body = await request.aread()
            head = h11.Request(
                method=request.method, target=url.raw_path, headers=request.headers.raw
            )
            conn, reused = await self._checkout(origin, timeouts.get("connect"))
            try:
                response = await self._exchange(conn, head, body, timeouts, request)
            except _StaleConnection:
                if not reused:
                    raise httpx.RemoteProtocolError(
                        "server disconnected without sending a response", request=request
                    ) from None
                conn = None
                conn, _ = await self._checkout(origin, timeouts.get("connect"), fresh=True)
                response = await self._exchange(conn, head, body, timeouts, request)
        except BaseException:  # cancelled or failed: the connection's state is unknown
            if conn is not None:
                conn.close()
            self._slots.release()
            raise
        stream = _ResponseStream(self, origin, conn, timeouts.get("read"))
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=stream,
            extensions={"http_version": b"HTTP/" + response.http_version},
        )

    async def aclose(self) -> None:
        """Close every idle connection; later requests fail."""
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()

    # ------------------------------------------------------------------ internals

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start afresh in a new event loop: connections of an old loop cannot be used."""
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
        self._slots = asyncio.Semaphore(self.max_connections)
        self._loop = loop

    async def _acquire_slot(self, pool_s: float | None, request: httpx.Request) -> None:
        """Wait for one of the ``max_connections`` slots (httpx.PoolTimeout after ``pool_s``)."""
        if not self._slots.locked():
            await self._slots.acquire()
            return
        try:
            async with asyncio.timeout(pool_s):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection in time", request=request) from None

    async def _checkout(
        self,
        origin: tuple[str, str, int],
        connect_s: float | None,
        fresh: bool = False,
    ) -> tuple[_Connection, bool]:
        """A live idle connection to ``origin`` (reused=True) or a newly opened one."""
        idle = self._idle.get(origin)
        if idle and not fresh:
            now = time.monotonic()
            while idle:
                conn = idle.pop()
                if conn.reusable(now, self.keepalive_expiry):
                    return conn, True
                conn.close()
        scheme, host, port = origin
        context = self._ssl_context() if scheme == "https" else None
        try:
            async with asyncio.timeout(connect_s):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=context, limit=READ_SIZE
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        return _Connection(reader, writer), False

    def _ssl_context(self) -> ssl.SSLContext:
        """The TLS context (httpx's defaults: certifi roots, or the caller's context)."""
        if self._ssl is None:
            verify = self._verify
            self._ssl = (
                verify
                if isinstance(verify, ssl.SSLContext)
                else httpx.create_ssl_context(verify=verify)
            )
        return self._ssl

    async def _exchange(
        self,
        conn: _Connection,
        head: h11.Request,
        body: bytes,
        timeouts: dict[str, float | None],
        request: httpx.Request,
    ) -> h11.Response:
        """Write the request and read up to the response head (1xx responses skipped)."""
        try:
            data = conn.h11.send(head) or b""
            if body:
                data += conn.h11.send(h11.Data(data=body)) or b""
            data += conn.h11.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            conn.close()
            raise httpx.LocalProtocolError(str(exc), request=request) from exc
        try:
            conn.writer.write(data)
            if conn.writer.transport.get_write_buffer_size():
                async with asyncio.timeout(timeouts.get("write")):
                    await conn.writer.drain()
        except TimeoutError:
            conn.close()
            raise httpx.WriteTimeout("writing the request timed out", request=request) from None
        except OSError as exc:
            conn.close()
            raise _StaleConnection() from exc
        while True:
            event = await self._next_event(conn, timeouts.get("read"), head_only=True)
            if type(event) is h11.Response:
                return event

    async def _next_event(
        self, conn: _Connection, read_s: float | None, head_only: bool = False
    ) -> Any:
        """The next h11 event, reading from the socket as needed; errors close the connection.

        With ``head_only``, an EOF or reset before any response byte is a stale keep-alive
        connection (:class:`_StaleConnection`), which the caller may retry once.
        """
        machine = conn.h11
        while True:
            try:
                event = machine.next_event()
            except h11.RemoteProtocolError as exc:
                conn.close()
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                if type(event) is h11.ConnectionClosed:
                    conn.close()
                    raise httpx.RemoteProtocolError("server closed the connection mid-response")
                return event
            try:
                async with asyncio.timeout(read_s):
                    chunk = await conn.reader.read(READ_SIZE)
            except TimeoutError:
                conn.close()
                raise httpx.ReadTimeout("reading the response timed out") from None
            except OSError as exc:
                conn.close()
                if head_only and _nothing_received(machine):
                    raise _StaleConnection() from exc
                raise httpx.ReadError(f"reading the response failed: {exc}") from exc
            if not chunk and head_only and _nothing_received(machine):
                conn.close()
                raise _StaleConnection()
            machine.receive_data(chunk)

    def _release(self, origin: tuple[str, str, int], conn: _Connection) -> None:
        """Return a connection after its response was closed: pooled if it can carry another."""
        self._slots.release()
        machine = conn.h11
        if (
            not self._closed
            and machine.our_state is h11.DONE
            and machine.their_state is h11.DONE
            and not conn.writer.is_closing()
        ):
            machine.start_next_cycle()
            conn.idle_since = time.monotonic()
            self._idle.setdefault(origin, []).append(conn)
        else:
            conn.close()


def _nothing_received(machine: h11.Connection) -> bool:
    """True while no byte of the response has arrived on this exchange."""
    return machine.their_state is h11.SEND_RESPONSE and not machine.trailing_data[0]


class _StaleConnection(Exception):
    """A connection that closed before any byte of the response (a keep-alive race)."""


class HttpSender:
    """Sends requests to one base URL over a :class:`PooledTransport` (the lean path).

    Requests go straight to the transport: no client-side cookies, redirects, auth flows or
    event hooks, which an API call to a model server does not use. When the environment names
    a proxy for the URL, a default ``httpx.AsyncClient`` (which speaks proxies) sends instead.
    """

    def __init__(self, base_url: str, max_connections: int, timeout_s: float) -> None:
        """Validate the base URL; connections open on first use."""
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"base URL must be http(s)://host[:port]/path, got {base_url!r}")
        self._base = url.copy_with(path=url.path.rstrip("/"))
        self._timeouts = {"connect": timeout_s, "read": timeout_s, "write": timeout_s}
        self._timeouts["pool"] = timeout_s
        self._urls: dict[str, httpx.URL] = {}
        self._transport: PooledTransport | None = None
        self._client: httpx.AsyncClient | None = None
        if proxy_configured(str(url)):
            limits = httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            )
            self._client = httpx.AsyncClient(timeout=timeout_s, limits=limits, trust_env=True)
        else:
            self._transport = PooledTransport(max_connections)

    async def send(
        self, path: str, content: bytes, headers: list[tuple[bytes, bytes]]
    ) -> httpx.Response:
        """POST ``content`` to ``base_url + path``; the caller reads the body and closes it."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = self._base.copy_with(path=self._base.path + path)
        request = httpx.Request(
            "POST", url, headers=headers, content=content, extensions={"timeout": self._timeouts}
        )
        if self._client is not None:
            return await self._client.send(request, stream=True)
        assert self._transport is not None
        response = await self._transport.handle_async_request(request)
        response.request = request
        return response

    async def aclose(self) -> None:
        """Close the pool (or the proxy client)."""
        if self._transport is not None:
            await self._transport.aclose()
        if self._client is not None:
            await self._client.aclose()
