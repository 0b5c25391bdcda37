"""Ctrl-C during asking: routed to the runner, which stops sending and saves what it has."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def on_ctrl_c(handler: Callable[[], None]) -> Iterator[None]:
    """Route SIGINT to ``handler`` on the running loop while asking (main thread only)."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, handler)
    except (NotImplementedError, RuntimeError, ValueError):
        yield  # not the main thread, or no signals here: Ctrl-C behaves as usual
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
