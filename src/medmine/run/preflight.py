"""Preflight: before anything is sent, find the models that cannot run and say how to fix it.

A model whose API key variable is unset, whose endpoint is missing or malformed, or which a
dataset's data-use rules forbid is reported at once with the fix (the variable to set, the
flag to pass). Nothing is sent to it and no cost is estimated for it; its samples end as
``not_sent_key`` so that no view can mistake it for a model that answered badly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlparse

from medmine.core import Model
from medmine.datasets.sources import LoadedDataset

NEEDS_ENDPOINT = frozenset({"openai_compatible"})


@dataclass(frozen=True)
class Problem:
    """Why one model cannot run (on one dataset, or on all when ``dataset`` is None)."""

    model: str
    dataset: str | None
    reason: str
    fix: str

    def line(self) -> str:
        """One readable line: model, scope, reason and fix."""
        scope = f" on {self.dataset}" if self.dataset else ""
        return f"{self.model}{scope} cannot run: {self.reason}. Fix: {self.fix}"


@dataclass
class Preflight:
    """The problems found; ``why`` answers the runner's question for one (model, dataset)."""

    problems: list[Problem] = field(default_factory=list)

    def why(self, model: str, dataset: str) -> str | None:
        """The reason this model must not be sent this dataset's samples, or None."""
        for p in self.problems:
            if p.model == model and p.dataset in (None, dataset):
                return f"{p.reason} ({p.fix})"
        return None

    def blocked_everywhere(self) -> set[str]:
        """Models that cannot run at all."""
        return {p.model for p in self.problems if p.dataset is None}


def model_problem(model: Model) -> Problem | None:
    """A missing credential or endpoint of one model (None when it can be asked)."""
    preset = getattr(model, "preset", None)
    if preset is None:
        return None  # baselines and in-process models need nothing
    name = model.name
    if preset.api_key_env and preset.api_key() is None:
        return Problem(
            name,
            None,
            f"the environment variable {preset.api_key_env} is not set (its API key)",
            f"export {preset.api_key_env}=<your key>, then rerun the same command",
        )
    url = preset.resolved_base_url()
    if url is None and preset.provider in NEEDS_ENDPOINT:
        var = preset.base_url_env or "base_url in the preset"
        return Problem(name, None, "no endpoint URL is configured", f"set {var}")
    if url is not None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            where = preset.base_url_env or f"base_url of preset {preset.name!r}"
            return Problem(
                name, None, f"the endpoint {url!r} is not an http(s) URL", f"correct {where}"
            )
    return None


def data_use_problems(
    datasets: Sequence[LoadedDataset], model: Model, acknowledged: Sequence[str]
) -> list[Problem]:
    """Datasets whose data-use rules forbid sending them to this model without the user's
    acknowledgement (rules in ``medmine.datasets.datause``)."""
    from medmine.datasets.catalog import get_entry
    from medmine.datasets.datause import (
        DataUseError,
        check_data_use,
        is_local_provider,
        parse_acknowledgements,
    )

    acks = parse_acknowledgements(acknowledged)
    info = model.describe()
    provider = str(info.get("provider", "unknown"))
    local = is_local_provider(provider, info.get("base_url"))
    out = []
    for ds in datasets:
        try:
            entry = get_entry(ds.name)
        except (KeyError, ValueError):
            continue  # built-in generated data (the demo) has no restrictions
        try:
            check_data_use(entry, local, acks, provider=provider)
        except DataUseError as exc:
            out.append(
                Problem(
                    model.name,
                    ds.name,
                    str(exc).split(". ")[0],
                    f"pass --ack-data-use {ds.name}={provider} if your agreement permits it, "
                    "or use a local model",
                )
            )
    return out


def preflight(
    models: Sequence[Model], datasets: Sequence[LoadedDataset], acknowledged: Sequence[str]
) -> Preflight:
    """Check every model before anything is sent."""
    result = Preflight()
    for model in models:
        problem = model_problem(model)
        if problem is not None:
            result.problems.append(problem)
            continue
        result.problems.extend(data_use_problems(datasets, model, acknowledged))
    return result
