"""Where medmine keeps files it shares across runs (response cache, demo data)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$MEDMINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/medmine``, else ``~/.cache/medmine``."""
    env = os.environ.get("MEDMINE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "medmine"
