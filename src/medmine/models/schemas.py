"""A task's JSON schema in the dialect each provider's structured-output mode accepts.

OpenAI's strict mode (``response_format.json_schema.strict: true``) accepts a subset of JSON
Schema and two extra rules: every object sets ``additionalProperties: false`` and lists every
property in ``required`` (an optional property becomes required-but-nullable). Keywords outside
the subset are rejected with HTTP 400, so they are dropped here (the prompt states the same
constraints in words) and named in the request's diagnostics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Keywords OpenAI's strict mode supports (platform.openai.com structured-outputs guide,
# "Supported schemas"); anything else in a schema is rejected.
STRICT_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "anyOf",
        "$ref",
        "$defs",
        "definitions",
        "description",
        "title",
        "pattern",
        "format",
        "multipleOf",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minItems",
        "maxItems",
    }
)
_SCHEMA_MAPS = ("properties", "$defs", "definitions")


def strict_schema(schema: Mapping[str, Any], dropped: list[str] | None = None) -> dict[str, Any]:
    """A copy of ``schema`` that OpenAI's strict mode accepts.

    Objects get ``additionalProperties: false`` and every property in ``required``; a property
    that was optional becomes ``anyOf: [<schema>, {"type": "null"}]``. Unsupported keywords are
    removed and their paths appended to ``dropped``.
    """
    return _strict(schema, "$", dropped if dropped is not None else [])


def _strict(node: Mapping[str, Any], path: str, dropped: list[str]) -> dict[str, Any]:
    """Recursive worker of :func:`strict_schema`."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in STRICT_KEYWORDS:
            dropped.append(f"{path}.{key}")
            continue
        if key in _SCHEMA_MAPS and isinstance(value, Mapping):
            out[key] = {k: _strict(v, f"{path}.{key}.{k}", dropped) for k, v in value.items()}
        elif key == "items" and isinstance(value, Mapping):
            out[key] = _strict(value, f"{path}.items", dropped)
        elif key == "anyOf" and isinstance(value, list):
            out[key] = [_strict(v, f"{path}.anyOf[{i}]", dropped) for i, v in enumerate(value)]
        else:
            out[key] = value
    if out.get("type") == "object" or "properties" in out:
        props = out.setdefault("properties", {})
        required = set(node.get("required") or ())
        for name in props:
            if name not in required:
                props[name] = {"anyOf": [props[name], {"type": "null"}]}
        out["required"] = list(props)
        out["additionalProperties"] = False
    return out
