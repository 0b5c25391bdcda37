"""Shared fixtures for backend tests: fake servers, tiny retry waits, test images."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))

from fakeservers import FakeServer

from medmine.core import (
    GenerationSettings,
    ImagePart,
    ImageRef,
    Intent,
    Message,
    Request,
    TextPart,
)
from medmine.models.retry import RetryPolicy

SLEEPS: list[float] = []


async def _record_sleep(seconds: float) -> None:
    """Record a retry wait instead of sleeping."""
    SLEEPS.append(seconds)


@pytest.fixture
def fast_policy() -> RetryPolicy:
    """A retry policy with 4 attempts whose waits are recorded, not slept."""
    SLEEPS.clear()
    return RetryPolicy(
        max_attempts=4, initial_s=0.01, max_s=0.05, jitter=False, sleep=_record_sleep
    )


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """A running fake server."""
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def rgb_image(tmp_path: Path) -> ImageRef:
    """A 640x480 RGB JPEG with a gradient."""
    arr = np.zeros((480, 640, 3), dtype=np.uint8)
    arr[..., 0] = np.linspace(0, 255, 640, dtype=np.uint8)[None, :]
    arr[..., 1] = np.linspace(0, 255, 480, dtype=np.uint8)[:, None]
    path = tmp_path / "photo.jpg"
    Image.fromarray(arr).save(path, quality=90)
    return ImageRef(path)


def make_request(
    text: str = "What is shown?",
    images: tuple[ImageRef, ...] = (),
    *,
    system: str | None = "You are a radiologist.",
    settings: GenerationSettings | None = None,
    schema: dict | None = None,
) -> Request:
    """A request with an optional system message and images before the question."""
    messages = []
    if system:
        messages.append(Message("system", (TextPart(system),)))
    parts = (*tuple(ImagePart(i) for i in images), TextPart(text))
    messages.append(Message("user", parts))
    return Request(
        messages=tuple(messages),
        intent=Intent(task="classification", sample_id="s1", images=images),
        settings=settings or GenerationSettings(),
        json_schema=schema,
    )
