"""The hf_local backend's options, read and checked from a preset's extra_body."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_DTYPES = ("float32", "float16", "bfloat16", "auto")


_OPTION_KEYS = frozenset(
    {"torch_dtype", "dtype", "revision", "device", "trust_remote_code", "generate_kwargs"}
)


# generate() arguments that medmine sets from the request; a preset may not override them.
_RESERVED_GENERATE_KEYS = frozenset(
    {"max_new_tokens", "do_sample", "temperature", "top_p", "streamer", "num_beams", "max_time"}
)


@dataclass(frozen=True, slots=True)
class LocalOptions:
    """The validated hf_local options of a preset's ``extra_body``."""

    dtype: str | None = None
    device: str | None = None
    revision: str | None = None
    trust_remote_code: bool = False
    generate_kwargs: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def from_extra_body(extra: dict[str, Any] | None, preset_name: str) -> LocalOptions:
        """Validate ``extra_body``; raises ValueError naming the preset and the bad key/value."""
        extra = dict(extra or {})
        unknown = sorted(set(extra) - _OPTION_KEYS)
        if unknown:
            raise ValueError(
                f"preset {preset_name!r}: unknown hf_local extra_body key(s) {unknown}; "
                f"allowed: {sorted(_OPTION_KEYS)}"
            )
        if "torch_dtype" in extra and "dtype" in extra:
            raise ValueError(f"preset {preset_name!r}: give torch_dtype or dtype, not both")
        dtype = extra.get("torch_dtype", extra.get("dtype"))
        if dtype is not None and dtype not in _DTYPES:
            raise ValueError(
                f"preset {preset_name!r}: torch_dtype {dtype!r} is not one of {list(_DTYPES)}"
            )
        for key in ("device", "revision"):
            if key in extra and not isinstance(extra[key], str):
                raise ValueError(f"preset {preset_name!r}: {key} must be a string")
        trust = extra.get("trust_remote_code", False)
        if not isinstance(trust, bool):
            raise ValueError(f"preset {preset_name!r}: trust_remote_code must be true or false")
        gen = extra.get("generate_kwargs", {})
        if not isinstance(gen, dict):
            raise ValueError(f"preset {preset_name!r}: generate_kwargs must be a mapping")
        clash = sorted(set(gen) & _RESERVED_GENERATE_KEYS)
        if clash:
            raise ValueError(
                f"preset {preset_name!r}: generate_kwargs may not set {clash}; medmine sets them "
                "from the request settings and the preset"
            )
        return LocalOptions(
            dtype=dtype,
            device=extra.get("device"),
            revision=extra.get("revision"),
            trust_remote_code=trust,
            generate_kwargs=dict(gen),
        )
