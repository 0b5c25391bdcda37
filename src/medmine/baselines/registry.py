"""Baselines by name: they are the default models when no API key is configured."""

from __future__ import annotations

from collections.abc import Callable

from medmine.baselines.classifiers import MajorityClass, NearestCentroid
from medmine.core import Model

BASELINES: dict[str, Callable[[], Model]] = {
    "majority": lambda: MajorityClass(),
    "nearest-centroid": lambda: NearestCentroid(k=5, seed=0),
}

DEFAULT_BASELINES = ("majority", "nearest-centroid")


def register_baseline(name: str, factory: Callable[[], Model]) -> None:
    """Make a baseline available by name."""
    BASELINES[name] = factory


def make_baseline(name: str) -> Model:
    """A fresh baseline instance by name."""
    try:
        return BASELINES[name]()
    except KeyError:
        raise ValueError(
            f"unknown baseline {name!r}; known: {', '.join(sorted(BASELINES))}"
        ) from None
