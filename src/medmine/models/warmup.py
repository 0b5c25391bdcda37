"""Load, before any request is timed, what the SDKs' HTTP stacks load on their first request."""

from __future__ import annotations

import importlib
import sys

_WARM_MODULES = (
    # loaded by the SDKs' HTTP pools (httpcore/httpcore2 over anyio) on their first request:
    # hundreds of milliseconds that would otherwise be timed as the first answer's latency
    "anyio._backends._asyncio",
    "httpcore._backends.anyio",
    "httpcore2._backends.anyio",
)


def warm_transport() -> None:
    """Import what the SDKs' HTTP stacks import lazily on their first request (once)."""
    for name in _WARM_MODULES:
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except ImportError:
                continue
