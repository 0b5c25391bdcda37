"""Batch fakes whose answers come from the simulated models of :mod:`providerfakes`.

The fake batch servers of :mod:`fakebatch` enforce each provider's batch rules (input file,
create body, per-request body); these subclasses answer every accepted request the way the
provider's live API would answer it alone: the same 400 for a body it rejects, reasoning and
thinking spent inside the output limit, schema-shaped JSON for a structured request. So a
budget too small for a reasoning model ends, in a batch too, with an empty, length-cut answer.
"""

from __future__ import annotations

from typing import Any

from fakebatch import (
    Body,
    Fail,
    FakeAnthropicBatch,
    FakeBatch,
    FakeGeminiBatch,
    FakeOpenAIBatch,
    Outcome,
)
from fakeservers import Recorded, Reply
from providerfakes import Sim, anthropic_responder, gemini_responder, openai_responder


def _outcome(reply: Reply) -> Outcome:
    """A live reply as a batch outcome: the answer body, or the error it carried."""
    if reply.status == 200:
        return Body(reply.body)
    error = (reply.body or {}).get("error") or {}
    return Fail(reply.status, str(error.get("message") or error))


class SimOpenAIBatch(FakeOpenAIBatch):
    """OpenAI Batch API answering each line as ``/v1/chat/completions`` would."""

    def __init__(self, sim: Sim, **kwargs: Any) -> None:
        """Create the server (not started); ``sim`` decides every answer."""
        super().__init__(**kwargs)
        self.live = openai_responder(sim)

    def answer(self, batch: FakeBatch, custom_id: str, entry: Any) -> Outcome:
        """The live API's answer to the line's body."""
        request = Recorded("POST", entry["url"], batch.headers, entry["body"])
        return _outcome(self.live(request))


class SimAnthropicBatch(FakeAnthropicBatch):
    """Message Batches answering each ``params`` as ``/v1/messages`` would."""

    def __init__(self, sim: Sim, **kwargs: Any) -> None:
        """Create the server (not started); ``sim`` decides every answer."""
        super().__init__(**kwargs)
        self.live = anthropic_responder(sim)

    def answer(self, batch: FakeBatch, custom_id: str, entry: Any) -> Outcome:
        """The live API's answer to the request's params (under the create call's headers)."""
        return _outcome(self.live(Recorded("POST", "/v1/messages", batch.headers, entry)))


class SimGeminiBatch(FakeGeminiBatch):
    """Gemini batch mode answering each inline request as ``generateContent`` would."""

    def __init__(self, sim: Sim, **kwargs: Any) -> None:
        """Create the server (not started); ``sim`` decides every answer."""
        super().__init__(**kwargs)
        self.live = gemini_responder(sim)

    def answer(self, batch: FakeBatch, custom_id: str, entry: Any) -> Outcome:
        """The live API's answer to the inline request, for the batch's model."""
        path = f"/v1beta/models/{getattr(batch, 'model', '')}:generateContent"
        return _outcome(self.live(Recorded("POST", path, batch.headers, entry)))
