"""The prebuilt Gemini body (converted before timing) is byte for byte what the SDK sends.

Each request is asked twice against the same fake server: through :mod:`gemini_wire` (the
default) and through the SDK's public ``generate_content`` (``prepare`` disabled). Paths,
headers that matter and bodies must be identical, streamed or not, structured or not, and the
answers read the same.
"""

from __future__ import annotations

import pytest
from conftest import make_request
from fakeservers import FakeServer, Reply, gemini_response, gemini_sse
from test_gemini import preset_for

from medmine.core import GenerationSettings, ImageRef
from medmine.models import gemini as gemini_module
from medmine.models.gemini import GeminiModel
from medmine.models.retry import RetryPolicy


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_TEST_GEMINI_KEY", "AIzaTestSecretKey1234567")


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("structured", [False, True])
async def test_prebuilt_body_equals_the_sdk_body(
    server: FakeServer,
    rgb_image: ImageRef,
    fast_policy: RetryPolicy,
    monkeypatch: pytest.MonkeyPatch,
    stream: bool,
    structured: bool,
) -> None:
    schema = {"type": "object", "properties": {"label": {"type": "string"}}}
    settings = GenerationSettings(max_tokens=40, structured=structured)
    request = make_request(
        images=(rgb_image,), settings=settings, schema=schema if structured else None
    )
    answers = []
    for wire in (True, False):
        if stream:
            server.push(Reply(sse=gemini_sse(["pol", "yp"], prompt_tokens=300, output_tokens=2)))
        else:
            server.push(Reply(body=gemini_response("polyp", prompt_tokens=300, output_tokens=2)))
        if not wire:
            monkeypatch.setattr(gemini_module, "prepare", lambda *a, **k: None)
        model = GeminiModel(preset_for(server, stream=stream), retry_policy=fast_policy)
        answers.append(await model.generate(request))
    fast, public = server.requests
    assert fast.path == public.path
    assert fast.body == public.body
    for header in ("x-goog-api-key", "content-type"):
        assert fast.headers.get(header) == public.headers.get(header)
    assert answers[0].text == answers[1].text == "polyp"
    assert answers[0].usage == answers[1].usage
    assert answers[0].finish_reason == answers[1].finish_reason
