"""What an answer cost and whether it is an answer at all: prices, truncation, dropped images.

Pure functions over a preset and what the provider reported, so every backend (live and batch)
bills and classifies the same way.
"""

from __future__ import annotations

import math
import re

from medmine.core import Usage
from medmine.models.presets import Preset

CHARS_PER_TOKEN = 4.0

# Finish reasons meaning "cut by the output limit": OpenAI ``length``, Anthropic
# ``max_tokens``, Gemini ``MAX_TOKENS`` (vLLM and llama.cpp use OpenAI's word).
TRUNCATION_REASONS = frozenset({"length", "max_tokens", "MAX_TOKENS"})

# Finish reasons meaning the provider withheld the answer: a refusal with that reason.
WITHHELD_REASONS = frozenset(
    {
        "content_filter",  # OpenAI
        "refusal",  # Anthropic
        "SAFETY",
        "PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "RECITATION",
        "LANGUAGE",
        "OTHER",
        "MALFORMED_FUNCTION_CALL",
    }
)

# Answers of a model that was never shown the image (a server dropped the image part).
_NO_IMAGE = re.compile(
    r"(no|without an?|missing|didn't|did not|haven't|have not|can ?not|can't|unable to)"
    r"[^.!?\n]{0,40}\b(image|picture|photo|scan|radiograph|x-ray)s?\b[^.!?\n]{0,30}"
    r"\b(provided|attached|uploaded|shared|included|see|view|access|received|given)\b"
    r"|\b(please|kindly)\s+(provide|upload|share|attach)\s+(the|an|a)\s+"
    r"(image|picture|photo|scan)",
    re.IGNORECASE,
)


def is_truncated(finish_reason: str | None) -> bool:
    """True when a finish reason says the output limit cut the answer."""
    return finish_reason in TRUNCATION_REASONS


def says_no_image(text: str) -> bool:
    """True when an answer says it was given no image ("no image was provided", "please
    upload the image", "I cannot see the image")."""
    return bool(_NO_IMAGE.search(text[:600]))


def not_an_answer(
    finish_reason: str | None,
    refused: bool,
    text: str,
    *,
    has_images: bool,
    dropped: bool | None,
    limit: int,
) -> tuple[str | None, str | None]:
    """(error, error_kind) for a reply that is not the model's answer, else (None, None).

    ``truncated``: the output limit cut it. ``image_dropped``: the server's token count shows
    it never read the image (``dropped``), or the answer says no image was provided.
    """
    if is_truncated(finish_reason) and not refused:
        return (
            f"truncated: the answer was cut at the output limit of {limit} tokens "
            f"(finish reason {finish_reason})",
            "truncated",
        )
    if has_images and dropped:
        return (
            "image dropped: the server's prompt token count did not grow with the image",
            "image_dropped",
        )
    if has_images and not refused and says_no_image(text):
        return "image dropped: the answer says no image was provided", "image_dropped"
    return None, None


def estimate_text_tokens(text: str) -> int:
    """About 4 characters per token (0 for empty text)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def cost_usd(
    preset: Preset, usage: Usage, cached_input_tokens: int = 0, *, batch: bool = False
) -> float | None:
    """USD cost of a usage at the preset's prices; None when a price or count is missing.

    ``usage.output_tokens`` already includes reasoning/thinking tokens (backends add them when
    a provider reports them apart), so they are always billed. Cached input tokens are billed
    at the cached-input price when the preset knows it, else at the input price (an upper
    bound). ``batch`` applies the preset's batch discount.
    """
    p = preset
    if p.price_input_per_mtok is None or p.price_output_per_mtok is None:
        return None
    if usage.input_tokens is None or usage.output_tokens is None:
        return None
    cached = min(max(cached_input_tokens, 0), usage.input_tokens)
    cached_price = (
        p.price_cached_input_per_mtok
        if p.price_cached_input_per_mtok is not None
        else p.price_input_per_mtok
    )
    total = (
        (usage.input_tokens - cached) * p.price_input_per_mtok
        + cached * cached_price
        + usage.output_tokens * p.price_output_per_mtok
    ) / 1e6
    return total * p.batch_discount if batch else total


def image_dropped_by_tokens(
    with_image: int | None, text_only: int | None, image_tokens_min: int
) -> bool | None:
    """Whether a server dropped the image, from the prompt tokens it reported for the same
    prompt with and without the image: True when the image added fewer than
    ``image_tokens_min`` tokens; None when either count is unknown."""
    if with_image is None or text_only is None:
        return None
    return with_image - text_only < image_tokens_min
