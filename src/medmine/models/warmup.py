"""Load, before any request is timed, what the SDKs' HTTP stacks load on their first request."""

from __future__ import annotations

import gc
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
    """Import what the SDKs' HTTP stacks import lazily on their first request (once), then
    move every object alive (the SDKs' modules, types and client: about a million objects)
    out of the cyclic garbage collector's scans.

    Without the freeze a full collection walks them all: 150-250 ms on a loaded two-core
    machine, during which every request in flight stalls and is timed as slower (at
    concurrency 8 that is the whole batch). ``gc.freeze`` is O(1); the objects it freezes are
    the process's long-lived state, so nothing that matters is kept from collection.
    """
    for name in _WARM_MODULES:
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except ImportError:
                continue
    gc.freeze()
