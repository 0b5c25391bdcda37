"""Provider-neutral requests: chat messages with text and image parts, settings and intent."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from medmine.core.samples import ImageRef


@dataclass(frozen=True, slots=True)
class TextPart:
    """A text part of a chat message."""

    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image part of a chat message; backends encode it in their own wire format."""

    image: ImageRef
    type: Literal["image"] = "image"


Part = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class Message:
    """One provider-neutral chat message."""

    role: Literal["system", "user", "assistant"]
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        """The message's text parts joined (for text-only consumers)."""
        return "\n".join(p.text for p in self.parts if isinstance(p, TextPart))


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """Sampling settings sent to the model; part of the cache key."""

    temperature: float = 0.0
    max_tokens: int = 1024
    top_p: float | None = None
    seed: int | None = None
    structured: bool = False  # use the provider's native JSON-schema mode when a schema is given


_SETTINGS_FIELDS = tuple(f.name for f in fields(GenerationSettings))
# One encoder for every key (``json.dumps`` with options builds a new one per call).
_ENCODE_SORTED = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True, slots=True)
class Intent:
    """The task's structured intent, so a non-LLM baseline can answer without reading the prompt.

    LLM backends ignore it; it is not part of the cache key (the prompt carries the same facts).
    """

    task: str
    sample_id: str
    labels: tuple[str, ...] = ()
    structure: str | None = None
    convention: str | None = None
    images: tuple[ImageRef, ...] = ()
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """Everything a model needs to answer one sample, in provider-neutral form."""

    messages: tuple[Message, ...]
    intent: Intent
    settings: GenerationSettings = GenerationSettings()
    json_schema: Mapping[str, Any] | None = None
    repeat: int = 0

    def images(self) -> list[ImageRef]:
        """All images of the request, in message order."""
        return [p.image for m in self.messages for p in m.parts if isinstance(p, ImagePart)]

    def key(self, model_id: str, image_hash: Callable[[ImageRef], str] | None = None) -> str:
        """The canonical hash of this request for a model: the response-cache key.

        It covers the messages (images by content hash), the model id, the settings and the
        schema. The repeat index is included only when sampling (temperature > 0), so repeats
        of a deterministic request share one cached answer and repeats of a sampled one do not.
        ``image_hash`` gives an image's content hash when the caller keeps them (it must
        return what ``ImageRef.content_hash`` does).
        """
        hash_of = image_hash or ImageRef.content_hash
        payload = {
            "model": model_id,
            "messages": [
                {
                    "role": m.role,
                    "parts": [
                        {"text": p.text}
                        if isinstance(p, TextPart)
                        else {"image": hash_of(p.image), "frame": p.image.frame}
                        for p in m.parts
                    ],
                }
                for m in self.messages
            ],
            # the fields by name (``asdict`` deep-copies, and was a fifth of the key's cost)
            "settings": {f: getattr(self.settings, f) for f in _SETTINGS_FIELDS},
            "schema": self.json_schema,
            "repeat": self.repeat if self.settings.temperature > 0 else 0,
        }
        blob = _ENCODE_SORTED(payload)
        return hashlib.sha256(blob.encode()).hexdigest()


def user_request(
    task: str,
    sample_id: str,
    images: Sequence[ImageRef],
    prompt: str,
    settings: GenerationSettings,
    json_schema: Mapping[str, Any] | None = None,
    **intent: Any,
) -> Request:
    """A one-turn request: the image parts first (the order most vision models are tuned on),
    then the instruction; the intent carries the task, the sample, its images and ``intent``."""
    images = tuple(images)
    parts: tuple[Part, ...] = (*(ImagePart(im) for im in images), TextPart(prompt))
    return Request(
        messages=(Message("user", parts),),
        intent=Intent(task=task, sample_id=sample_id, images=images, **intent),
        settings=settings,
        json_schema=json_schema,
    )
