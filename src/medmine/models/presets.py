"""Named model presets: which provider, which model id, its prices, limits and conventions.

Built-in presets ship in ``presets.yaml`` beside this module; users add or override presets by
name with their own YAML files. A preset names the environment variable holding its API key,
never the key itself: keys are read from the environment only when a request is sent.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

Provider = Literal["openai", "openai_compatible", "anthropic", "gemini", "hf_local", "baseline"]
# How a model reasons before answering: not at all; an OpenAI-style ``reasoning_effort``; a
# token budget (Gemini ``thinkingBudget``, Anthropic ``thinking.budget_tokens``).
Reasoning = Literal["none", "effort", "budget"]
SamplingParam = Literal["temperature", "top_p", "seed"]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Preset(BaseModel):
    """One named model configuration (validated; unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    provider: Provider
    model_id: str
    base_url: str | None = None
    base_url_env: str | None = None  # NAME of an env var that overrides base_url when set
    api_key_env: str | None = None  # NAME of the env var holding the key, never the key
    modality: Literal["vision", "text"] = "vision"
    context_window: int | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    coord_convention: str = "norm1000_xyxy"
    price_input_per_mtok: float | None = Field(default=None, ge=0)
    price_output_per_mtok: float | None = Field(default=None, ge=0)
    price_date: str | None = None
    # Share of the list price charged for requests sent through the provider's batch channel
    # (medmine run --batch); OpenAI, Anthropic and Gemini bill batches at half price.
    batch_discount: float = Field(default=0.5, gt=0, le=1)
    max_image_edge: int | None = Field(default=None, gt=0)
    # The provider's documented limit of images in one request (None: not documented, e.g. a
    # self-hosted server's own setting); a prompt with more (few-shot, multi-image VQA) is not
    # sent and is recorded as medmine's failure naming the sample.
    max_images: int | None = Field(default=None, gt=0)
    concurrency: int = Field(default=8, gt=0)
    requests_per_minute: int | None = Field(default=None, gt=0)
    tokens_per_minute: int | None = Field(default=None, gt=0)
    timeout_s: float = Field(default=120.0, gt=0)
    stream: bool = True
    extra_body: dict[str, Any] = Field(default_factory=dict)
    # What the model does before answering, and the budgets: the answer gets the task's
    # max_tokens; a reasoning model gets ``reasoning_tokens`` more, because the provider counts
    # reasoning/thinking tokens inside the same output limit.
    reasoning: Reasoning = "none"
    reasoning_effort: str | None = None  # OpenAI: minimal / low / medium / high
    thinking_budget: int | None = Field(default=None, ge=-1)  # Gemini/Anthropic; -1 dynamic
    reasoning_tokens: int = Field(default=0, ge=0)  # added to the answer budget
    # Sampling parameters the model accepts; the others are not sent (and recorded as
    # ignored). ``sampling_exclusive``: temperature and top_p may not be sent together.
    # (unset: Anthropic models take none under the API version the SDK sends; others all)
    sampling: list[SamplingParam] | None = None
    sampling_exclusive: bool = False
    price_cached_input_per_mtok: float | None = Field(default=None, ge=0)
    # Retired by its provider on this date: refuses to run (naming ``replacement``) unless the
    # preset points at an endpoint of the user's own (base_url / base_url_env set).
    retired: str | None = None
    replacement: str | None = None
    # The server answers one stream at a time (llama.cpp's default slots): run it at
    # concurrency 1, or warn when more is asked.
    single_stream: bool = False
    # Self-hosted servers: ask once whether images reach the model (prompt tokens with and
    # without the image); a server that drops them gets "image dropped" failures.
    image_probe: bool = True
    notes: str = ""
    aliases: list[str] = Field(default_factory=list)

    @field_validator("name", "model_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        """Names and model ids must be non-empty."""
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("api_key_env", "base_url_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        """An env var NAME: catches a key pasted where its variable name belongs."""
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(
                "must be the NAME of an environment variable (letters, digits, underscore), "
                "not a key or URL"
            )
        return value

    @field_validator("price_date", "retired")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        """Prices carry the day they were read, as YYYY-MM-DD."""
        if value is not None and not _DATE.match(value):
            raise ValueError(f"must be YYYY-MM-DD, got {value!r}")
        return value

    @model_validator(mode="after")
    def _reasoning_consistent(self) -> Preset:
        """A reasoning kind comes with its setting: an effort, or a thinking budget."""
        if self.reasoning == "effort" and not self.reasoning_effort:
            raise ValueError("reasoning: effort needs reasoning_effort (e.g. low)")
        if self.reasoning == "budget" and self.thinking_budget is None:
            raise ValueError("reasoning: budget needs thinking_budget (tokens, or -1 for dynamic)")
        if self.reasoning == "none" and (self.reasoning_effort or self.thinking_budget):
            raise ValueError("reasoning_effort/thinking_budget need reasoning: effort/budget")
        if self.retired is None and self.replacement is not None:
            raise ValueError("replacement is only meaningful with retired: YYYY-MM-DD")
        return self

    def accepted_sampling(self) -> list[str]:
        """The sampling parameters the model accepts (the preset's list, or its provider's)."""
        if self.sampling is not None:
            return list(self.sampling)
        return [] if self.provider == "anthropic" else ["temperature", "top_p", "seed"]

    def retirement_problem(self) -> str | None:
        """Why this preset must not run (retired at its provider's own endpoint), or None."""
        if self.retired is None or self.resolved_base_url():
            return None
        instead = f"; use {self.replacement!r} instead" if self.replacement else ""
        return (
            f"model preset {self.name!r} ({self.model_id}) was retired by its provider on "
            f"{self.retired}{instead} (or point the preset's base_url at a server of your own "
            "that still serves it)"
        )

    def output_budget(self, answer_tokens: int) -> int:
        """The provider's output limit for an answer of ``answer_tokens``: the answer budget
        plus the reasoning reserve (capped by max_output_tokens)."""
        total = answer_tokens + (self.reasoning_tokens if self.reasoning != "none" else 0)
        if self.max_output_tokens is not None:
            total = min(total, self.max_output_tokens)
        return total

    def resolved_base_url(self) -> str | None:
        """The base URL to use now: ``$base_url_env`` when set and non-empty, else base_url."""
        if self.base_url_env:
            from_env = os.environ.get(self.base_url_env, "").strip()
            if from_env:
                return from_env
        return self.base_url

    def api_key(self) -> str | None:
        """Read the API key from the environment now (None when unset or not needed)."""
        if not self.api_key_env:
            return None
        value = os.environ.get(self.api_key_env, "").strip()
        return value or None


def credentials_present(preset: Preset) -> bool:
    """True when the preset needs no key or its key variable is set and non-empty."""
    return preset.api_key_env is None or preset.api_key() is not None


def _format_validation(source: str, name: str, exc: ValidationError) -> str:
    """One readable line per problem: file, preset, key, message."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(preset)"
        lines.append(f"{source}: preset {name!r}: {key}: {err['msg']}")
    return "\n".join(lines)


def _entries(source: str, data: Any) -> Iterable[tuple[str, dict[str, Any]]]:
    """The (name, fields) pairs of a presets YAML document.

    Accepted shapes: ``{presets: [ {name: ..., ...}, ... ]}``, a list of such mappings, or a
    mapping ``name -> fields``.
    """
    if isinstance(data, Mapping) and "presets" in data:
        data = data["presets"]
    if isinstance(data, list):
        for i, item in enumerate(data):
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
                raise ValueError(f"{source}: presets[{i}]: each preset needs a string 'name'")
            yield item["name"], dict(item)
    elif isinstance(data, Mapping):
        for name, fields in data.items():
            if not isinstance(fields, Mapping):
                raise ValueError(f"{source}: preset {name!r}: expected a mapping of fields")
            yield str(name), {"name": str(name), **dict(fields)}
    else:
        raise ValueError(f"{source}: expected a list of presets or a mapping name -> preset")


def _load_document(source: str, text: str) -> Any:
    """Parse YAML text, naming the file on a syntax error."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{source}: invalid YAML ({exc})") from exc


def _merge(presets: dict[str, Preset], source: str, data: Any, *, allow_partial: bool) -> None:
    """Add or override presets from one document; overrides merge field by field."""
    for name, fields in _entries(source, data):
        base = presets.get(name)
        merged = {**base.model_dump(), **fields} if (base and allow_partial) else fields
        try:
            presets[name] = Preset.model_validate(merged)
        except ValidationError as exc:
            raise ValueError(_format_validation(source, name, exc)) from None
    _check_aliases(presets, source)


def _check_aliases(presets: Mapping[str, Preset], source: str) -> None:
    """Names and aliases must be unique case-insensitively."""
    seen: dict[str, str] = {}
    for preset in presets.values():
        for label in (preset.name, *preset.aliases):
            key = label.lower()
            if key in seen and seen[key] != preset.name:
                raise ValueError(
                    f"{source}: {label!r} names both preset {seen[key]!r} and {preset.name!r}"
                )
            seen[key] = preset.name


def builtin_presets_text() -> str:
    """The text of the shipped ``presets.yaml``."""
    return resources.files("medmine.models").joinpath("presets.yaml").read_text("utf-8")


def load_presets(paths: Sequence[Path] = ()) -> dict[str, Preset]:
    """Built-in presets, then each user YAML file in order, adding or overriding by name.

    An override may give only the fields it changes. Errors name the file, preset and key.
    """
    presets: dict[str, Preset] = {}
    _merge(
        presets,
        "presets.yaml (built-in)",
        _load_document("presets.yaml", builtin_presets_text()),
        allow_partial=False,
    )
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: presets file not found")
        source = str(path)
        _merge(presets, source, _load_document(source, path.read_text("utf-8")), allow_partial=True)
    return presets


def resolve_preset(name: str, presets: Mapping[str, Preset]) -> Preset:
    """The preset called ``name`` or having it as an alias, case-insensitively.

    Raises ValueError listing close matches when there is none.
    """
    wanted = name.strip().lower()
    labels: dict[str, Preset] = {}
    for preset in presets.values():
        for label in (preset.name, *preset.aliases):
            labels[label.lower()] = preset
    if wanted in labels:
        return labels[wanted]
    close = difflib.get_close_matches(wanted, list(labels), n=5, cutoff=0.5)
    suggestions = list(dict.fromkeys(labels[c].name for c in close))
    hint = f"; did you mean {', '.join(map(repr, suggestions))}?" if suggestions else ""
    raise ValueError(f"unknown model preset {name!r}{hint} (known: {', '.join(sorted(presets))})")
