"""The cost of a mining run, estimated before the first request is sent.

For each pending request:

- **text**: about 4 characters per token (:data:`medmine.models.base.CHARS_PER_TOKEN`) over
  the prompt's text parts;
- **images**: each image's size (read from its header) is first reduced the way
  :func:`medmine.models.images.encode_image` will reduce it (longer edge to the preset's
  ``max_image_edge``, aspect kept), then priced with
  :func:`medmine.models.images.estimate_image_tokens` for the preset's provider. Servers with
  no published image formula (``openai_compatible``, ``hf_local``) are counted with OpenAI's
  tile formula, a typical figure for current vision models (the provider's own 64-token
  figure is a lower bound meant for dropped-image detection, not for budgets);
- **output**: the typical answer length the task class declares (``typical_output_tokens``),
  capped by the request's ``max_tokens`` and the preset's ``max_output_tokens``.

Cost uses the preset's prices (USD per million tokens). Baselines and local models (hf_local,
an OpenAI-compatible server on a loopback address) without prices cost $0. A remote preset
without prices has an unknown cost (``None``), never $0. Hidden reasoning tokens of
reasoning models (o-series, GPT-5) are billed as output and are not in the estimate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from medmine.core import ImagePart, Model, Request, TextPart
from medmine.datasets.datause import is_local_provider
from medmine.models.base import CHARS_PER_TOKEN
from medmine.models.images import estimate_image_tokens
from medmine.tasks.registry import task_factory

_FORMULA_PROVIDERS = frozenset({"openai", "anthropic", "gemini"})


@dataclass(frozen=True)
class CostEstimate:
    """Tokens and dollars a set of requests is expected to cost at one model."""

    model: str
    provider: str
    n_items: int
    text_tokens: int
    image_tokens: int
    output_tokens: int
    cost_usd: float | None  # None: the model has no prices and is not local
    price_input_per_mtok: float | None = None
    price_output_per_mtok: float | None = None
    price_date: str | None = None
    n_done: int = 0  # already answered in the run store or the response cache (free)
    notes: list[str] = field(default_factory=list)

    @property
    def input_tokens(self) -> int:
        """Text plus image tokens."""
        return self.text_tokens + self.image_tokens

    def lines(self) -> list[str]:
        """What is printed before the run (items, tokens, cost)."""
        head = f"{self.n_items} item(s) to ask {self.model} ({self.provider})"
        if self.n_done:
            head += f"; {self.n_done} already answered (not asked again, free)"
        out = [
            head,
            f"estimated input: {self.input_tokens:,} tokens (text {self.text_tokens:,} + "
            f"images {self.image_tokens:,}); estimated output: {self.output_tokens:,} tokens",
        ]
        if self.cost_usd is None:
            out.append(
                "estimated cost: unknown (the preset has no prices; set price_input_per_mtok "
                "and price_output_per_mtok in a presets file)"
            )
        elif self.price_input_per_mtok is None:
            out.append("estimated cost: $0.00 (runs on this machine)")
        else:
            date = f", prices of {self.price_date}" if self.price_date else ""
            out.append(
                f"estimated cost: ${self.cost_usd:.4f} at ${self.price_input_per_mtok:g} in / "
                f"${self.price_output_per_mtok:g} out per million tokens{date}"
            )
        return out + self.notes


def _preset(model: Model) -> Any:
    return getattr(model, "preset", None)


def model_provider(model: Model) -> tuple[str, str | None]:
    """(provider, base URL) as the model describes itself (``baseline`` for baselines)."""
    info = model.describe()
    return str(info.get("provider", "unknown")), info.get("base_url")


def text_tokens(request: Request) -> int:
    """About 4 characters per token over the request's text parts."""
    return sum(
        math.ceil(len(p.text) / CHARS_PER_TOKEN)
        for m in request.messages
        for p in m.parts
        if isinstance(p, TextPart) and p.text
    )


def sent_size(width: int, height: int, max_edge: int | None) -> tuple[int, int]:
    """The size an image is sent at: the longer edge reduced to ``max_edge`` (as encoded)."""
    if max_edge is not None and max(width, height) > max_edge:
        scale = max_edge / max(width, height)
        return max(1, round(width * scale)), max(1, round(height * scale))
    return width, height


def image_tokens(request: Request, provider: str, max_edge: int | None) -> int:
    """Estimated tokens of the request's images at a provider, after the preset's resize."""
    formula = provider if provider in _FORMULA_PROVIDERS else "openai"
    total = 0
    for m in request.messages:
        for p in m.parts:
            if isinstance(p, ImagePart):
                w, h = p.image.dimensions()
                total += estimate_image_tokens(*sent_size(w, h, max_edge), formula)
    return total


def output_tokens(request: Request, task: str, max_output: int | None) -> int:
    """The typical answer length of a task, capped by the request's and preset's limits."""
    typical = getattr(task_factory(task), "typical_output_tokens", None)
    if not isinstance(typical, int):
        raise ValueError(
            f"no typical answer length for task {task!r}: its task class declares no "
            "typical_output_tokens"
        )
    limit = request.settings.max_tokens
    if max_output is not None:
        limit = min(limit, max_output)
    return min(typical, limit)


def estimate_cost(
    model: Model, requests: Sequence[Request], task: str, *, n_done: int = 0
) -> CostEstimate:
    """Estimate the tokens and cost of sending ``requests`` to ``model`` (see module doc)."""
    provider, base_url = model_provider(model)
    preset = _preset(model)
    max_edge = getattr(preset, "max_image_edge", None)
    max_output = getattr(preset, "max_output_tokens", None)
    is_api = preset is not None and provider not in ("baseline",)
    text = image = out = 0
    if is_api:
        for r in requests:
            text += text_tokens(r)
            image += image_tokens(r, provider, max_edge)
            out += output_tokens(r, task, max_output)
    p_in = getattr(preset, "price_input_per_mtok", None)
    p_out = getattr(preset, "price_output_per_mtok", None)
    notes: list[str] = []
    cost: float | None
    if p_in is not None and p_out is not None:
        cost = (text + image) * p_in / 1e6 + out * p_out / 1e6
    elif not is_api or is_local_provider(provider, base_url):
        cost, p_in, p_out = 0.0, None, None
    else:
        cost, p_in, p_out = None, None, None
        notes.append("--max-cost cannot limit a model without prices: its spend is unknown")
    if is_api and getattr(model, "reasoning_model", False):
        notes.append("reasoning model: hidden reasoning tokens bill as output, not estimated")
    return CostEstimate(
        model=model.name,
        provider=provider,
        n_items=len(requests),
        text_tokens=text,
        image_tokens=image,
        output_tokens=out,
        cost_usd=cost,
        price_input_per_mtok=p_in,
        price_output_per_mtok=p_out,
        price_date=getattr(preset, "price_date", None) if p_in is not None else None,
        n_done=n_done,
        notes=notes,
    )
