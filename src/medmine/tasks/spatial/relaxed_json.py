"""Relaxed and truncated JSON: fenced blocks, bracketed spans, repair and parsing."""

from __future__ import annotations

import json
import re
from typing import Any

_TOKEN = re.compile(
    r"""(?P<dq>"(?:[^"\\\n]|\\.)*")
    |(?P<sq>'(?:[^'\\\n]|\\.)*')
    |(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?P<unit>\s*(?:%|px\b))?
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<open>[\[{(])
    |(?P<close>[\]})])
    |(?P<comma>,)
    |(?P<colon>:)
    |(?P<ws>\s+)
    |(?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)
_WORDS = {
    "true": "true",
    "false": "false",
    "null": "null",
    "none": "null",
    "nan": "NaN",
    "inf": "Infinity",
    "infinity": "Infinity",
}
_CLOSER = {"[": "]", "{": "}"}


def _normalise(src: str) -> tuple[list[str], list[str], bool]:
    """Rewrite relaxed JSON as JSON tokens; return tokens, their kinds, and if all closed."""
    out: list[str] = []
    kinds: list[str] = []
    stack: list[str] = []
    last = ""  # kind of the last non-space token
    for m in _TOKEN.finditer(src):
        kind = m.lastgroup or "other"
        if kind == "unit":  # the optional unit closes after the number it belongs to
            kind = "num"
        text = m.group()
        if kind == "ws":
            continue
        if kind == "dq":
            tok = text
        elif kind == "sq":
            inner = text[1:-1].replace('\\"', '"').replace("\\'", "'")
            tok = json.dumps(inner)
            kind = "dq"
        elif kind == "num":
            num = m.group("num")
            unit = (m.group("unit") or "").strip()
            if unit:
                tok = json.dumps(num + unit)
                kind = "dq"
            else:
                if num.startswith("+"):
                    num = num[1:]
                if num.startswith("-."):
                    num = "-0" + num[1:]
                elif num.startswith("."):
                    num = "0" + num
                num = re.sub(r"\.(?=$|[eE])", ".0", num)
                tok = num
        elif kind == "word":
            mapped = _WORDS.get(text.lower())
            nxt = src[m.end() : m.end() + 40].lstrip()
            if nxt.startswith(":") or mapped is None:
                tok = json.dumps(text)
                kind = "dq"
            else:
                tok = mapped
                kind = "num" if mapped in ("NaN", "Infinity") else "lit"
        elif kind == "open":
            tok = "[" if text == "(" else text
            stack.append(tok)
        elif kind == "close":
            if not stack:
                continue
            opened = stack.pop()
            tok = _CLOSER[opened]
        else:
            tok = text
        # Insert commas that a model left out between values: "[1 2]" or "] [".
        if kind in ("num", "dq", "lit", "open") and last in ("num", "dq", "lit", "close"):
            out.append(",")
            kinds.append("comma")
        # Drop trailing commas before a closer.
        if kind == "close" and last == "comma":
            out.pop()
            kinds.pop()
        out.append(tok)
        kinds.append(kind)
        last = kind if kind != "other" else ""
    return out, kinds, not stack


def _stacks_at(tokens: list[str], kinds: list[str], wanted: set[int]) -> dict[int, str]:
    """Closing brackets needed after each wanted token index (replaying opens and closes)."""
    stack: list[str] = []
    snapshots: dict[int, str] = {}
    last = max(wanted, default=-1)
    for i in range(last + 1):
        if kinds[i] == "open":
            stack.append(_CLOSER[tokens[i]])
        elif kinds[i] == "close" and stack:
            stack.pop()
        if i in wanted:
            snapshots[i] = "".join(reversed(stack))
    return snapshots


def _loads(text: str) -> tuple[bool, Any]:
    """``json.loads`` that reports failure instead of raising."""
    try:
        return True, json.loads(text)
    except (ValueError, RecursionError):
        return False, None


def loads_relaxed(src: str, *, truncated: bool = False) -> tuple[Any, bool, bool] | None:
    """Parse relaxed or truncated JSON; return (value, was_relaxed, was_truncation_repaired)."""
    if not truncated:
        ok, value = _loads(src)
        if ok:
            return value, False, False
    tokens, kinds, balanced = _normalise(src)
    if not tokens:
        return None
    if balanced and not truncated:
        ok, value = _loads("".join(tokens))
        return (value, True, False) if ok else None
    # Truncated: cut after one of the last closers, or before one of the last commas, and
    # close every bracket still open there.
    closes = [i for i in range(len(kinds) - 1, -1, -1) if kinds[i] == "close"][:3]
    commas = [i for i in range(len(kinds) - 1, -1, -1) if kinds[i] == "comma"][:3]
    closing = _stacks_at(tokens, kinds, {*closes, *commas})
    cuts = [(i + 1, closing[i]) for i in closes] + [(i, closing[i]) for i in commas]
    for cut, closers in cuts:
        if not closers:
            continue
        ok, value = _loads("".join(tokens[:cut]) + closers)
        if ok:
            return value, True, True
    return None


_SPAN_START = re.compile(r"[\[{]")
_SPAN_TOKEN = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|[\[\]{}()]")


def find_spans(src: str) -> list[tuple[int, int, bool]]:
    """Top-level bracketed values in ``src`` as (start, end, closed); strings are skipped."""
    spans: list[tuple[int, int, bool]] = []
    pos = 0
    while (m := _SPAN_START.search(src, pos)) is not None:
        depth = 0
        end = -1
        for t in _SPAN_TOKEN.finditer(src, m.start()):
            ch = t.group()
            if ch in "[{(":
                depth += 1
            elif ch in "]})":
                depth -= 1
                if depth == 0:
                    end = t.end()
                    break
        if end < 0:
            spans.append((m.start(), len(src), False))
            break
        spans.append((m.start(), end, True))
        pos = end
    return spans


_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_+-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)


def fenced_blocks(text: str) -> list[tuple[int, str]]:
    """Offset and contents of every fenced code block (an unclosed last fence runs to the end)."""
    return [(m.start(1), m.group(1)) for m in _FENCE.finditer(text)]
