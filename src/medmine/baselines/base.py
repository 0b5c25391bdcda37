"""Shared plumbing of the non-LLM baselines: they answer in the text format an MLLM is asked for,
so the same parser and scorer judge both."""

from __future__ import annotations

import json
import time
from typing import Any

from medmine.core import Request, Response, Usage


class Baseline:
    """Base of baseline models: identity, description, and the timed JSON answer."""

    name: str = "baseline"
    tasks: frozenset[str] = frozenset()
    max_concurrency: int = 8
    modality: str = "vision"

    def __init__(self, name: str | None = None, **options: Any) -> None:
        self.name = name or self.name
        self.options = options
        self.state_id = "unfitted"

    @property
    def cache_id(self) -> str:
        """Baseline identity: its kind, options and fitted state (so refits never reuse answers)."""
        opts = ",".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"baseline:{type(self).__name__}({opts})@{self.state_id}"

    def describe(self) -> dict[str, Any]:
        """What the manifest records about this baseline."""
        return {
            "provider": "baseline",
            "kind": type(self).__name__,
            "options": self.options,
            "state": self.state_id,
        }

    def answer(self, request: Request) -> dict[str, Any]:
        """The answer as a JSON-serialisable object (subclasses implement)."""
        raise NotImplementedError

    async def generate(self, request: Request) -> Response:
        """Answer in JSON text, timed; a baseline that cannot do the task says so as an error."""
        start = time.perf_counter()
        if request.intent.task not in self.tasks:
            return Response(
                text="",
                model=self.cache_id,
                error=f"{self.name} does not do task {request.intent.task}",
                error_kind="unsupported",
            )
        try:
            payload = self.answer(request)
        except (OSError, ValueError) as exc:
            return Response(
                text="",
                model=self.cache_id,
                error=f"{type(exc).__name__}: {exc}",
                error_kind="input",
                latency_s=time.perf_counter() - start,
            )
        return Response(
            text=json.dumps(payload),
            model=self.cache_id,
            usage=Usage(0, 0),
            latency_s=time.perf_counter() - start,
            cost_usd=0.0,
            finish_reason="stop",
        )
