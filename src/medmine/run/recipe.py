"""The recipe every result carries: versions, prompts, parsers, data and model settings."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

import medmine

LIBRARIES = (
    "numpy",
    "scipy",
    "pillow",
    "pydantic",
    "scikit-learn",
    "pycocotools",
    "medpy",
    "pycocoevalcap",
    "openai",
    "anthropic",
    "google-genai",
    "pydicom",
    "torch",
    "transformers",
)


def library_versions() -> dict[str, str]:
    """Versions of the libraries that can influence a number (absent ones are left out)."""
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def environment() -> dict[str, Any]:
    """medmine, Python and platform versions plus library versions."""
    return {
        "medmine": medmine.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "libraries": library_versions(),
    }
