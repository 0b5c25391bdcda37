"""Serve a review on 127.0.0.1: a bound socket (``--port``, or a free one), a fresh token."""

from __future__ import annotations

import secrets
import socket
import webbrowser
from collections.abc import Callable

from medmine.review.session import ReviewSession

HOST = "127.0.0.1"


def bind(port: int | None) -> socket.socket:
    """A listening socket on 127.0.0.1 (port 0 or None: the system picks a free one)."""
    if port is not None and not 0 <= port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {port}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port or 0))
    except OSError as exc:
        sock.close()
        raise ValueError(f"cannot listen on {HOST}:{port}: {exc.strerror}") from None
    sock.listen(64)
    return sock


def serve(
    session: ReviewSession,
    *,
    port: int | None = None,
    open_browser: bool = True,
    say: Callable[[str], None] = print,
) -> None:
    """Serve the review until interrupted (Ctrl-C); prints the URL with its token."""
    import uvicorn

    from medmine.review.app import build_app

    token = secrets.token_urlsafe(24)
    sock = bind(port)
    actual = sock.getsockname()[1]
    url = f"http://{HOST}:{actual}/?token={token}"
    state = session.state()
    say(
        f"reviewing {session.run_dir}: {state['total']} planned item(s) of "
        f"{state['items_in_run']}, {state['decided']} decided; reviewer {session.reviewer}"
    )
    say(f"open {url}")
    say("(only this machine can connect; the token changes at every launch; Ctrl-C stops)")
    config = uvicorn.Config(
        build_app(session, token), log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    if open_browser:
        webbrowser.open(url)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
