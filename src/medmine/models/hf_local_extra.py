"""The optional extra behind hf_local: checking torch and transformers are installed, importing
them.
"""

from __future__ import annotations

import importlib.util
import os
from importlib import metadata
from typing import Any

INSTALL_HINT = (
    "pip install 'medmine[local]' (on a CPU-only machine install the CPU build of torch first, "
    "e.g. pip install torch==2.13.0)"
)


class MissingExtraError(ImportError):
    """torch or transformers is not installed: the ``medmine[local]`` extra is absent."""


def require_local_extra() -> None:
    """Raise MissingExtraError with the install command unless torch and transformers exist."""
    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(
            f"local Hugging Face models need {' and '.join(missing)}, which is not installed: "
            f"{INSTALL_HINT}"
        )


def import_backend() -> tuple[Any, Any]:
    """Import and return (torch, transformers) in offline mode; MissingExtraError if absent."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingExtraError(
            f"local Hugging Face models need torch and transformers ({exc}): {INSTALL_HINT}"
        ) from exc
    return torch, transformers


def package_version(name: str) -> str | None:
    """The installed version of a distribution, or None (read without importing it)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
