"""Keep API keys out of everything medmine stores or prints.

:func:`redact` replaces the VALUE of every key in use (any environment variable a preset names,
plus any variable whose name says it holds a secret) wherever it appears, whatever its shape,
and masks strings that look like provider keys. The store, the reports and the CLI call it on
any text that came from a provider or an archive (``medmine.core.secrets.redact``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
_KEY_ENV_NAMES: set[str] = set()
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)
_MIN_SECRET_LEN = 6  # shorter values (e.g. "1", "yes") would mask ordinary words

_SECRET_PATTERNS = (
    re.compile(r"sk-[A-Za-z0-9_\-\*]{6,}"),
    re.compile(r"AIza[0-9A-Za-z_\-]{10,}"),
    re.compile(r"(?i)((?:api[_-]?key|x-goog-api-key|authorization|bearer)[\"'=:\s]+)[^\s\"',&]+"),
)


def register_key_env(names: Iterable[str | None]) -> None:
    """Remember environment variable NAMES whose values are keys (presets' api_key_env)."""
    _KEY_ENV_NAMES.update(n for n in names if n)


# (environment snapshot, registered names, values): scanning os.environ costs ~0.1-0.3 ms, more
# than the rest of a request's client work; the snapshot is compared on every call, so any
# change to the environment or to the registered names triggers a fresh scan.
_cache: tuple[Any, frozenset[str], list[str]] | None = None


def _environ_snapshot() -> Any:
    """A cheap exact fingerprint of the environment: CPython's raw ``os.environ._data`` items
    (copied in C, compared by identity first), or None when that is unavailable."""
    data = getattr(os.environ, "_data", None)
    return tuple(data.items()) if isinstance(data, dict) else None


def secret_values() -> list[str]:
    """The values of every registered key variable and secret-named variable now set,
    longest first (so a key containing another is masked whole)."""
    global _cache
    snapshot = _environ_snapshot()
    names = frozenset(_KEY_ENV_NAMES)
    if snapshot is not None and _cache is not None:
        cached_env, cached_names, cached_values = _cache
        if cached_names == names and cached_env == snapshot:
            return list(cached_values)
    values = set()
    for name, value in os.environ.items():
        if name in _KEY_ENV_NAMES or _SECRET_NAME.search(name):
            value = value.strip()
            if len(value) >= _MIN_SECRET_LEN:
                values.add(value)
    result = sorted(values, key=len, reverse=True)
    _cache = (snapshot, names, result) if snapshot is not None else None
    return list(result)


def scrub(message: str) -> str:
    """Mask anything shaped like an API key (known prefixes, ``api_key=...``, bearer tokens)."""
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            message = pattern.sub(lambda m: m.group(1) + MASK, message)
        else:
            message = pattern.sub(MASK, message)
    return message


def redact(text: str) -> str:
    """``text`` with every key value in use replaced by ``***``, then anything shaped like a
    key masked (:func:`scrub`)."""
    if not text:
        return text
    for value in secret_values():
        if value in text:
            text = text.replace(value, MASK)
    return scrub(text)


def redact_value(value: Any) -> Any:
    """:func:`redact` applied to every string inside a JSON-like value (dicts, lists)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def safe_url(url: str | None) -> str | None:
    """A URL without user info, query or fragment (where keys sometimes hide)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
