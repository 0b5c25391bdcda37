"""Gemini requests converted to their REST body before timing, sent through the SDK's client.

``client.aio.models.generate_content`` converts its typed arguments to the REST body on every
call (pydantic traversal of every part, base64 of every image) and then sends it: several
milliseconds of CPU on the event loop inside the timed window, which at concurrency 8 are paid
by every request in flight. :func:`prepare` runs the SDK's own converters once, off the loop and
before the clock starts; :func:`send` and :func:`send_streamed` then do what the SDK does after
conversion (the same API client, path, auth, timeout and error classes; responses read by the
SDK's own response converter), so the bytes on the wire are the SDK's.

The converters are private functions of ``google.genai.models``; when an SDK version lacks them
:func:`prepare` returns None and the backend calls the public ``generate_content`` (identical
requests, only the CPU cost moves back into the timed window).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Prepared:
    """A generateContent request ready to send."""

    path: str  # '{model}:generateContent' (the streamed path adds the SSE suffix)
    stream_path: str
    body: dict[str, Any]
    http_options: Any
    parameters: Any  # the SDK's _GenerateContentParameters (read by the response converter)


def _converters() -> tuple[Any, Any] | None:
    """(request converter, response converter) of the installed SDK, or None."""
    from google.genai import models

    to_rest = getattr(models, "_GenerateContentParameters_to_mldev", None)
    from_rest = getattr(models, "_GenerateContentResponse_from_mldev", None)
    return (to_rest, from_rest) if to_rest and from_rest else None


def prepare(client: Any, model: str, contents: Any, config: Any) -> Prepared | None:
    """The REST body and path of a generateContent call, converted by the SDK (Gemini API, not
    Vertex AI); None when the SDK's converters are not available."""
    from google.genai import _common, types

    api = client.aio._api_client
    converters = _converters()
    if converters is None or getattr(api, "vertexai", False):
        return None
    parameters = types._GenerateContentParameters(model=model, contents=contents, config=config)
    body = converters[0](api, parameters, None, parameters)
    url = body.get("_url")
    path = "{model}:generateContent".format_map(url) if url else "{model}:generateContent"
    stream_path = path.replace(":generateContent", ":streamGenerateContent?alt=sse")
    body.pop("config", None)
    options = parameters.config.http_options if parameters.config is not None else None
    body = _common.encode_unserializable_types(_common.convert_to_dict(body))
    return Prepared(path, stream_path, body, options, parameters)


def _response(api: Any, prepared: Prepared, raw: Any) -> Any:
    """One ``GenerateContentResponse`` from an HTTP response, as the SDK reads it."""
    from google.genai import types

    data = {} if not raw.body else json.loads(raw.body)
    converted = _converters()[1](data, None, prepared.parameters)  # type: ignore[index]
    response = types.GenerateContentResponse._from_response(response=converted, kwargs={})
    response.sdk_http_response = types.HttpResponse(headers=raw.headers)
    api._verify_response(response)
    return response


async def send(client: Any, prepared: Prepared) -> Any:
    """POST the prepared body; the response as the SDK's ``GenerateContentResponse``."""
    api = client.aio._api_client
    body = dict(prepared.body)  # the API client edits the dict it is given
    raw = await api.async_request("post", prepared.path, body, prepared.http_options)
    return _response(api, prepared, raw)


async def send_streamed(client: Any, prepared: Prepared) -> AsyncIterator[Any]:
    """POST the prepared body to the SSE path; yields each chunk as a response object."""
    api = client.aio._api_client
    body = dict(prepared.body)
    stream = await api.async_request_streamed(
        "post", prepared.stream_path, body, prepared.http_options
    )
    async for raw in stream:
        yield _response(api, prepared, raw)
