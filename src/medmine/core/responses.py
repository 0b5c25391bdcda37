"""What a model returned: text, usage, latency, cost, finish reason and any provider error."""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from medmine.core.kinds import ParseStatus

# One encoder for every answer (``json.dumps`` with options builds a new one per call).
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_SCAN = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[attr-defined]


def loads_compact(blob: str) -> Any:
    """``json.loads`` for text medmine wrote itself (no surrounding whitespace): the C scanner
    without the two regex passes ``loads`` adds around it; anything else takes ``loads``."""
    try:
        value, end = _SCAN(blob, 0)
    except StopIteration:
        return json.loads(blob)  # raises the usual JSONDecodeError with its position
    return value if end == len(blob) else json.loads(blob)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage; ``estimated`` is True when the provider reported none and medmine counted."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class Response:
    """A model's raw answer with its cost and timing. Never discarded.

    ``error`` is set when the provider failed after retries (no usable text); ``refused`` when
    the provider blocked the answer (a scored outcome, not an error).
    """

    text: str
    model: str
    usage: Usage = Usage()
    latency_s: float | None = None
    ttft_s: float | None = None
    cost_usd: float | None = None
    finish_reason: str | None = None
    error: str | None = None
    error_kind: str | None = None
    refused: bool = False
    probabilities: Mapping[str, float] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when there is an answer to parse (refusals included)."""
        return self.error is None

    @property
    def tokens_per_s(self) -> float | None:
        """Output tokens per second of wall time, when both are known."""
        if self.usage.output_tokens is None or not self.latency_s:
            return None
        return self.usage.output_tokens / self.latency_s

    def to_json(self) -> str:
        """Serialise for the store (hand-written: ``asdict`` is the runner's hottest call)."""
        u = self.usage
        d = {
            "text": self.text,
            "model": self.model,
            "usage": {
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "estimated": u.estimated,
            },
            "latency_s": self.latency_s,
            "ttft_s": self.ttft_s,
            "cost_usd": self.cost_usd,
            "finish_reason": self.finish_reason,
            "error": self.error,
            "error_kind": self.error_kind,
            "refused": self.refused,
            "probabilities": dict(self.probabilities) if self.probabilities else None,
            "extra": dict(self.extra),
        }
        return _ENCODE(d)

    @staticmethod
    def from_json(blob: str) -> Response:
        """Inverse of :meth:`to_json`."""
        d = loads_compact(blob)
        d["usage"] = Usage(**d["usage"])
        return Response(**d)


def forced_status(response: Response) -> tuple[ParseStatus, str] | None:
    """The parse status a response settles before any reading of its text, with the reason.

    TRUNCATED when the token limit cut the answer (``error_kind == "truncated"``: the text is
    kept but is not the model's answer), ERROR when there is no usable answer (provider
    error, image dropped by the server). None when the task should read the text (refusals
    included). Tasks (layer 4) and the runner share this one check.
    """
    if response.error is None:
        return None
    if response.error_kind == "truncated":
        return ParseStatus.TRUNCATED, response.error
    return ParseStatus.ERROR, response.error
