"""A deterministic, slow test model that logs every request it is sent (for resume tests)."""

from __future__ import annotations

import asyncio
import os

from medmine.baselines.classifiers import NearestCentroid
from medmine.baselines.registry import load_builtins, register_baseline
from medmine.core import Request, Response


class LoggingCentroid(NearestCentroid):
    """Nearest centroid that appends ``task dataset sample`` to $MEDMINE_TEST_LOG per request."""

    name = "slow-centroid"
    max_concurrency = 2

    async def generate(self, request: Request) -> Response:
        """Log the request, wait, answer like the nearest-centroid baseline."""
        with open(os.environ["MEDMINE_TEST_LOG"], "a", encoding="utf-8") as fh:
            fh.write(f"{request.intent.task} {request.intent.sample_id}\n")
        await asyncio.sleep(float(os.environ.get("MEDMINE_TEST_DELAY", "0.02")))
        return await super().generate(request)


def install() -> None:
    """Register the model as a baseline named ``slow-centroid``."""
    register_baseline("slow-centroid", lambda: LoggingCentroid(name="slow-centroid"))
    load_builtins()
