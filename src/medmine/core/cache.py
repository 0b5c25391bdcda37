"""Where medmine caches things, and the canonical hash of JSON-like values (cache keys)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """``$MEDMINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/medmine``, else ``~/.cache/medmine``."""
    env = os.environ.get("MEDMINE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "medmine"


def stable_hash(obj: Any) -> str:
    """A short stable hash of a JSON-serialisable object (recipes, fingerprints)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
