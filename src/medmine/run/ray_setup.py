"""Starting Ray for medmine: the lazy import, a loopback-only local cluster, Ray's actor-death
errors.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from typing import Any

# Environment for a *local* Ray (no address), set before Ray is imported and inherited by its
# GCS, raylet and workers. RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 makes Ray take 127.0.0.1 as the
# node address, so its gRPC servers listen on loopback only (Ray reads it once, at import);
# RAY_AUTH_MODE=disabled stops Ray writing an auth token file; RAY_USAGE_STATS_ENABLED=0 stops
# Ray reporting usage statistics over the network. Values already set are respected.
LOCAL_RAY_ENV: dict[str, str] = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
}


INSTALL_HINT = "the Ray executor needs Ray: pip install 'medmine[ray]' (or pip install ray)"


class RayExecutorError(RuntimeError):
    """The Ray executor could not start or keep workers for a model."""


def ray_module() -> Any:
    """The ray module, or an ImportError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return ray


def dead_actor_errors() -> tuple[type[BaseException], ...]:
    """Ray exceptions meaning the actor (not the model) failed: the answer never came back."""
    exc = ray_module().exceptions
    names = ("RayActorError", "ActorDiedError", "ActorUnavailableError", "WorkerCrashedError")
    return tuple(getattr(exc, n) for n in names if hasattr(exc, n))


def ray_installed() -> bool:
    """Whether Ray can be imported (without importing it)."""
    return importlib.util.find_spec("ray") is not None


def start_local_ray(**init_options: Any) -> None:
    """Start a single-node Ray on 127.0.0.1 only, without dashboard, token or usage reports.

    The environment of :data:`LOCAL_RAY_ENV` is set first. Ray reads the cluster switch when it
    is imported; if it was imported earlier in this process, the switch is turned off on Ray's
    constants module too. Raises RayExecutorError if Ray still chose a non-loopback address.
    """
    for key, value in LOCAL_RAY_ENV.items():
        os.environ.setdefault(key, value)
    ray = ray_module()
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    if constants is not None and os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0":
        constants.ENABLE_RAY_CLUSTER = False  # imported before the variable was set
    options: dict[str, Any] = {
        "address": "local",
        "include_dashboard": False,
        "_node_ip_address": "127.0.0.1",
        "logging_level": logging.WARNING,
    }
    options.update(init_options)
    ray.init(**options)
    node_ip = ray.util.get_node_ip_address()
    if options["_node_ip_address"] == "127.0.0.1" and node_ip != "127.0.0.1":
        ray.shutdown()
        raise RayExecutorError(
            f"local Ray chose node address {node_ip}, not 127.0.0.1; set "
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before Ray is imported"
        )
