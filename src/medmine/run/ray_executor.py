"""A Ray executor: each model answers from a pool of Ray actors, possibly on other machines.

``RayExecutor.wrap(model)`` starts, once per model name, ``workers`` async Ray actors that
each hold their own copy of the model, and returns a proxy Model (same name, same cache_id)
whose ``generate`` sends the request to the least-loaded live actor and awaits the answer in
asyncio. The runner, its cache, its SQLite store and its resume logic stay in the driver and
are unchanged: an answer is committed by the driver when it arrives, so a request is re-sent
only when its answer never came back. How a model reaches the workers: see
:mod:`medmine.run.ray_worker`.

Fault tolerance. When an actor dies (killed, crashed, node lost) every request it had not
answered fails with a Ray actor error; the proxy marks the actor dead and sends that request
to another live actor, starting a replacement actor when none is left (at most
``max_replacements`` per model). Retried requests are counted with their sample ids.

Ray is an optional extra (``pip install 'medmine[ray]'``); this module imports it lazily.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from medmine.core import Model, Request, Response
from medmine.run.ray_setup import (
    INSTALL_HINT,
    LOCAL_RAY_ENV,
    RayExecutorError,
    dead_actor_errors,
    ray_installed,
    ray_module,
    start_local_ray,
)
from medmine.run.ray_worker import ModelWorker, shipment
from medmine.run.runner import Executor

# Attributes the runner and the suite builder read from a model, copied onto the proxy.
_PASSTHROUGH = ("modality", "tasks", "preset")

__all__ = [
    "LOCAL_RAY_ENV",
    "RayExecutor",
    "RayExecutorError",
    "make_executor",
    "ray_installed",
    "start_local_ray",
]


# ------------------------------------------------------------------------------ driver side


@dataclass
class _Slot:
    """One actor of a pool, with its load and what it answered."""

    label: str
    handle: Any
    inflight: int = 0
    answered: int = 0
    alive: bool = True
    death: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Pool:
    """The actors serving one model name, the variants they hold, and what went wrong."""

    name: str
    slots: list[_Slot] = field(default_factory=list)
    variants: dict[str, tuple[str, Any]] = field(default_factory=dict)
    shipped: dict[str, str] = field(default_factory=dict)  # cache_id -> how it was shipped
    retried: list[dict[str, str]] = field(default_factory=list)
    replacements: int = 0
    turn: itertools.count[int] = field(default_factory=itertools.count)

    def live(self) -> list[_Slot]:
        """Actors not known to be dead."""
        return [s for s in self.slots if s.alive]


class RayModel:
    """The proxy a RayExecutor returns: a Model whose ``generate`` runs on the pool's actors."""

    def __init__(self, executor: RayExecutor, pool: _Pool, model: Model, shipped: str) -> None:
        """Mirror the wrapped model's identity; ``shipped`` says how it reached the workers."""
        self._executor = executor
        self._pool = pool
        self._local = model
        self._key = model.cache_id
        self._shipped = shipped
        self.name = model.name
        self.max_concurrency = executor.workers * executor.per_worker_concurrency
        for attr in _PASSTHROUGH:
            if hasattr(model, attr):
                setattr(self, attr, getattr(model, attr))

    @property
    def cache_id(self) -> str:
        """The wrapped model's cache_id: answers are shared with local runs of it."""
        return self._key

    def describe(self) -> dict[str, Any]:
        """The wrapped model's description plus how it is executed."""
        return {
            **self._local.describe(),
            "executor": {
                "kind": "ray",
                "address": self._executor.address or "local",
                "workers": self._executor.workers,
                "per_worker_concurrency": self._executor.per_worker_concurrency,
                "shipped": self._shipped,
            },
        }

    async def generate(self, request: Request) -> Response:
        """Answer on the least-loaded live actor; on actor death retry on another one."""
        ray = ray_module()
        dead_errors = dead_actor_errors()
        while True:
            slot = self._executor._pick(self._pool)
            slot.inflight += 1
            try:
                response = await slot.handle.generate.remote(self._key, request)
            except ray.exceptions.RayTaskError as exc:
                # The model itself raised: surface its own exception, as a local run would.
                cause = getattr(exc, "cause", None)
                if isinstance(cause, Exception):
                    raise cause from None
                raise
            except dead_errors as exc:
                self._executor._mark_dead(self._pool, slot, exc)
                self._pool.retried.append(
                    {
                        "task": request.intent.task,
                        "sample_id": request.intent.sample_id,
                        "worker": slot.label,
                        "error": type(exc).__name__,
                    }
                )
                continue
            finally:
                slot.inflight -= 1
            slot.answered += 1
            return response


class RayExecutor:
    """Runs each model on a pool of Ray actors (see the module docstring).

    ``address`` is a Ray cluster address (``"auto"``, ``"host:6379"``, ``"ray://host:10001"``);
    None starts a local single-node Ray on loopback (unless Ray is already initialised in this
    process, which is then used as is). ``actor_options`` go to each actor's ``.options()``
    (e.g. ``{"num_gpus": 1}`` or ``{"resources": {"vllm": 1}}``); actors are spread over nodes
    by default. ``init_options`` go to ``ray.init``.
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int = 2,
        per_worker_concurrency: int = 8,
        *,
        max_replacements: int | None = None,
        actor_options: Mapping[str, Any] | None = None,
        init_options: Mapping[str, Any] | None = None,
    ) -> None:
        """Check the settings and that Ray is installed; Ray itself starts on first wrap."""
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"RayExecutor: workers must be an integer >= 1, got {workers!r}")
        if (
            isinstance(per_worker_concurrency, bool)
            or not isinstance(per_worker_concurrency, int)
            or per_worker_concurrency < 1
        ):
            raise ValueError(
                "RayExecutor: per_worker_concurrency must be an integer >= 1, "
                f"got {per_worker_concurrency!r}"
            )
        if address is not None and not address.strip():
            raise ValueError("RayExecutor: address must not be blank (use None for local Ray)")
        if max_replacements is not None and max_replacements < 0:
            raise ValueError(f"RayExecutor: max_replacements must be >= 0, got {max_replacements}")
        if not ray_installed():
            raise ImportError(INSTALL_HINT)
        self.address = address
        self.workers = workers
        self.per_worker_concurrency = per_worker_concurrency
        self.max_replacements = workers if max_replacements is None else max_replacements
        self.actor_options = dict(actor_options or {})
        self.init_options = dict(init_options or {})
        self._pools: dict[str, _Pool] = {}
        self._actor_class: Any = None
        self._started_ray = False

    # -------------------------------------------------------------------- ray lifecycle
    def _ensure_ray(self) -> None:
        """Connect to the cluster, or start a local Ray, unless this process already has one.

        Ray is not imported before a local start: the loopback switch must be set first.
        """
        loaded = sys.modules.get("ray")
        if loaded is not None and loaded.is_initialized():
            return
        if self.address is None:
            start_local_ray(**self.init_options)
        else:
            options = {"logging_level": logging.WARNING, **self.init_options}
            ray_module().init(address=self.address, **options)
        self._started_ray = True

    def _new_actor(self, pool: _Pool) -> _Slot:
        """Start one actor holding every variant the pool knows."""
        ray = ray_module()
        if self._actor_class is None:
            self._actor_class = ray.remote(ModelWorker)
        options = {
            "max_concurrency": self.per_worker_concurrency,
            "scheduling_strategy": "SPREAD",
            **self.actor_options,
        }
        keys = list(pool.variants)
        kinds = [pool.variants[k][0] for k in keys]
        payloads = [pool.variants[k][1] for k in keys]
        handle = self._actor_class.options(**options).remote(keys, kinds, *payloads)
        slot = _Slot(label=f"{pool.name}#{len(pool.slots)}", handle=handle)
        pool.slots.append(slot)
        return slot

    def _pick(self, pool: _Pool) -> _Slot:
        """The live actor with the fewest requests in flight (ties in turn)."""
        live = pool.live()
        if not live:
            if pool.replacements >= self.max_replacements:
                deaths = "; ".join(f"{s.label}: {s.death}" for s in pool.slots)
                raise RayExecutorError(
                    f"all Ray workers of model {pool.name!r} died and the limit of "
                    f"{self.max_replacements} replacement(s) is reached ({deaths})"
                )
            pool.replacements += 1
            live = [self._new_actor(pool)]
        start = next(pool.turn) % len(live)
        order = live[start:] + live[:start]
        return min(order, key=lambda s: s.inflight)

    def _mark_dead(self, pool: _Pool, slot: _Slot, exc: BaseException) -> None:
        """Record an actor as dead (once) and make sure Ray does not keep it around."""
        if not slot.alive:
            return
        slot.alive = False
        slot.death = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        with contextlib.suppress(Exception):  # the actor is already gone: nothing to stop
            ray_module().kill(slot.handle, no_restart=True)

    # -------------------------------------------------------------------- public API
    def wrap(self, model: Model) -> Model:
        """A proxy of ``model`` answering on this executor's actors (pool started once per name).

        Blocks until the pool's actors hold the model, so a model that cannot be loaded on the
        workers fails here with a clear error rather than on every sample.
        """
        ray = ray_module()
        self._ensure_ray()
        key = model.cache_id
        pool = self._pools.get(model.name)
        if pool is None:
            pool = self._pools[model.name] = _Pool(model.name)
        if key not in pool.variants:
            kind, payload, shipped = shipment(model)
            variant = (kind, ray.put(payload) if kind == "object" else payload)
            pool.variants[key] = variant
            pool.shipped[key] = shipped
            try:
                got = self._load(pool, key, variant)
            except (*dead_actor_errors(), ray.exceptions.RayTaskError) as exc:
                del pool.variants[key]
                first = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
                raise RayExecutorError(
                    f"model {model.name!r} could not be loaded on the Ray workers "
                    f"({pool.shipped.pop(key)}): {type(exc).__name__}: {first}. A model class "
                    "defined outside an installed package must be importable on the workers "
                    "(install it there, or ray.cloudpickle.register_pickle_by_value(module))"
                ) from exc
            wrong = sorted({g for g in got if g != key})
            if wrong:
                raise RayExecutorError(
                    f"model {model.name!r}: the workers rebuilt it as {', '.join(wrong)} but the "
                    f"driver has {key}; answers would be filed under the wrong model"
                )
        return RayModel(self, pool, model, pool.shipped[key])

    def _load(self, pool: _Pool, key: str, variant: tuple[str, Any]) -> list[str]:
        """Start the pool's actors with the variant, or add it to live ones; their cache_ids."""
        ray = ray_module()
        if not pool.slots:
            for _ in range(self.workers):
                self._new_actor(pool)
            loaded = ray.get([s.handle.info.remote() for s in pool.slots])
            for slot, info in zip(pool.slots, loaded, strict=True):
                slot.info = info
            return [info["cache_ids"][key] for info in loaded]
        return list(ray.get([s.handle.add.remote(key, *variant) for s in pool.live()]))

    def actors(self, name: str) -> list[Any]:
        """The live actor handles serving model ``name`` (for inspection and fault drills)."""
        pool = self._pools.get(name)
        if pool is None:
            raise ValueError(f"no Ray workers for model {name!r}; known: {sorted(self._pools)}")
        return [s.handle for s in pool.live()]

    def summary(self) -> dict[str, object]:
        """Workers, requests answered per worker, retried requests and their sample ids."""
        models: dict[str, object] = {}
        total_retried = 0
        for name, pool in self._pools.items():
            total_retried += len(pool.retried)
            models[name] = {
                "shipped": dict(pool.shipped),
                "workers": [
                    {
                        "worker": s.label,
                        "alive": s.alive,
                        "requests": s.answered,
                        "pid": s.info.get("pid"),
                        "node": s.info.get("node"),
                        "death": s.death,
                    }
                    for s in pool.slots
                ],
                "requests_per_worker": {s.label: s.answered for s in pool.slots},
                "replacements": pool.replacements,
                "retried_requests": len(pool.retried),
                "retried_samples": [r["sample_id"] for r in pool.retried],
                "retried": list(pool.retried),
            }
        return {
            "executor": "ray",
            "address": self.address or "local",
            "workers": self.workers,
            "per_worker_concurrency": self.per_worker_concurrency,
            "retried_requests": total_retried,
            "models": models,
        }

    def close(self) -> None:
        """Stop every actor; shut Ray down if this executor started it."""
        ray = ray_module()
        if ray.is_initialized():
            for pool in self._pools.values():
                for slot in pool.live():
                    with contextlib.suppress(Exception):  # already gone
                        ray.kill(slot.handle, no_restart=True)
                    slot.alive = False
                    slot.death = "closed"
            if self._started_ray:
                ray.shutdown()
        self._started_ray = False

    def __enter__(self) -> RayExecutor:
        """Use as a context manager: actors are stopped on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the actors (and a Ray this executor started)."""
        self.close()


EXECUTORS = ("local", "ray")


def make_executor(name: str, **options: Any) -> Executor | None:
    """The executor called ``name``: ``local`` (None: the runner's own process) or ``ray``.

    ``options`` go to :class:`RayExecutor` (address, workers, per_worker_concurrency, ...);
    options left at None are ignored (unset command-line flags); other options given to
    ``local`` are an error, since nothing would use them.
    """
    given = {k: v for k, v in options.items() if v is not None}
    if name == "local":
        if given:
            raise ValueError(
                f"executor 'local' takes no options, got {', '.join(sorted(given))} "
                "(--ray-* options need --executor ray)"
            )
        return None
    if name == "ray":
        try:
            return RayExecutor(**given)
        except TypeError as exc:
            raise ValueError(f"executor 'ray': bad options ({exc})") from exc
    raise ValueError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
