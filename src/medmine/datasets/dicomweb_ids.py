"""Anonymous, stable ids for archive instances: a keyed hash of the SOP Instance UID.

The key is random, created once in a folder (owner-only ``id.key``) and reused, so the same
instance gets the same id on every rerun (resume and caching depend on it) while nobody
without the key can tell which instance an id stands for.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_FILE = "id.key"


def id_key(folder: Path) -> bytes:
    """The id key kept in ``<folder>/id.key``, created there (mode 0600) on first use."""
    path = folder / KEY_FILE
    if path.is_file():
        key = bytes.fromhex(path.read_text().strip())
        if len(key) < 16:
            raise ValueError(f"{path}: not a medmine id key (expected 32+ hex characters)")
        return key
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it between the check and here
        return id_key(folder)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
    return key


def anonymous_id(key: bytes, uid: str, prefix: str = "dw-") -> str:
    """``prefix`` + 20 hex characters of HMAC-SHA-256(key, uid)."""
    return prefix + hmac.new(key, uid.encode(), hashlib.sha256).hexdigest()[:20]
