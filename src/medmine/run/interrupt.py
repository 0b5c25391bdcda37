"""Ctrl-C (and SIGTERM) during asking: routed to the runner, which stops sending and saves
what it has, instead of the process dying with answers not yet committed."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def on_ctrl_c(handler: Callable[[], None]) -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``handler`` on the running loop while asking (main thread
    only); the previous behaviour returns when the block ends."""
    loop = asyncio.get_running_loop()
    routed = []
    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, handler)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # not the main thread, or no signals here: the signal behaves as usual
        routed.append(sig)
    try:
        yield
    finally:
        for sig in routed:
            loop.remove_signal_handler(sig)
