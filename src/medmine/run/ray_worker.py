"""The body of one Ray actor: copies of models by cache_id, answering asynchronously.

How a model reaches the workers. The model object itself is shipped with Ray's cloudpickle,
so a fitted baseline's numpy state arrives intact. An object that cannot be pickled (an API
client holding sockets) is shipped as a recipe instead: each worker rebuilds it with
``resolve_model(model.name)``, and the executor checks that the rebuilt model has the same
cache_id. ``summary()`` says which way each model went.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from typing import Any

from medmine.core import Model, Request, Response
from medmine.run.ray_setup import RayExecutorError, ray_module


class ModelWorker:
    """The body of one Ray actor: copies of models by cache_id, answering asynchronously.

    Each variant is a cache_id, a kind and a payload: ``"object"`` with the cloudpickled model
    (passed as a top-level ObjectRef, which Ray resolves before the call) or ``"recipe"`` with
    a model name rebuilt by :func:`medmine.models.resolve.resolve_model`.
    """

    def __init__(self, keys: Sequence[str], kinds: Sequence[str], *payloads: Any) -> None:
        """Load every variant now, so a broken one fails the actor at start."""
        if not len(keys) == len(kinds) == len(payloads):
            raise ValueError("ModelWorker: keys, kinds and payloads differ in length")
        self.models: dict[str, Model] = {}
        for key, kind, payload in zip(keys, kinds, payloads, strict=True):
            self.add(key, kind, payload)

    def add(self, key: str, kind: str, payload: Any) -> str:
        """Load one model variant under ``key``; returns the loaded model's cache_id."""
        if kind == "object":
            from ray import cloudpickle

            model = cloudpickle.loads(payload)
        elif kind == "recipe":
            from medmine.models.resolve import resolve_model

            model = resolve_model(payload)
        else:
            raise ValueError(f"unknown model shipping kind {kind!r} (object or recipe)")
        self.models[key] = model
        return model.cache_id

    def info(self) -> dict[str, Any]:
        """Where this actor runs and which model variants it holds."""
        ray = ray_module()
        return {
            "pid": os.getpid(),
            "node": ray.util.get_node_ip_address(),
            "cache_ids": {k: m.cache_id for k, m in self.models.items()},
        }

    async def generate(self, key: str, request: Request) -> Response:
        """Answer one request with the model variant ``key``."""
        try:
            model = self.models[key]
        except KeyError:
            raise RayExecutorError(f"worker holds no model {key!r}") from None
        return await model.generate(request)


def shipment(model: Model) -> tuple[str, Any, str]:
    """How a model goes to the workers: (kind, payload, description for the summary)."""
    from ray import cloudpickle

    try:
        return "object", cloudpickle.dumps(model), "object (cloudpickle)"
    except (pickle.PicklingError, TypeError, AttributeError, ValueError) as exc:
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        return (
            "recipe",
            model.name,
            f"recipe resolve_model({model.name!r}); not picklable: {reason}",
        )
