"""Close-match suggestions for names a user typed (datasets, tasks, models)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest known names, or "" when none is close."""
    options = list(dict.fromkeys(known))
    lowered = {k.lower(): k for k in options}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
    if not close:
        return ""
    return f"; did you mean {', '.join(repr(lowered[c]) for c in close)}?"
