"""Help text without Python type placeholders: ``--limit N`` rather than ``--limit <int>``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_NAMES = {"int": "N", "float": "NUMBER", "path": "PATH", "str": "TEXT", "bool": ""}
_TYPE = re.compile(r"^<(list\[)?([a-z_]+)\]?>(\.\.\.)?$")


def plain(shown: str | None) -> str | None:
    """``<int>`` -> ``N``, ``<list[str]>`` -> ``TEXT`` (repeatable), ``<bool>`` -> nothing;
    anything else (choices, a metavar the command set) is kept."""
    if not shown:
        return shown
    m = _TYPE.match(shown)
    if m is None:
        return shown
    return _NAMES.get(m.group(2), "VALUE") or None


def plain_help(command: Any) -> None:
    """Show every parameter of ``command`` (and its subcommands) with a plain value name.

    Typer prints a parameter's Python type (``<list[str]>``) next to it; a user needs to know
    what to type (N, PATH, TEXT)."""
    for param in command.params:
        original: Callable[[Any], str | None] = param.display_type_rich
        param.display_type_rich = lambda ctx, original=original: plain(original(ctx))
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)
