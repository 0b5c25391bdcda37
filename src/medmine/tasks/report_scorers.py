"""Model-based report metrics as pluggable scorers (CheXbert F1, BERTScore, RadGraph F1, ...).

The report-generation task (layer 4) cannot import the models (layer 5), so the models'
package registers a factory per metric here (:func:`register_report_scorer`; importing
:mod:`medmine.clinical` does it) and the task builds the scorers it is asked for when it is
constructed, i.e. before anything is sent:

- a factory raises :class:`ScorerUnavailable` when the metric cannot run here (the
  ``clinical`` extra is not installed, its weights folder is not configured): with
  ``model_metrics="auto"`` the metric is listed as unavailable with that reason, when named
  explicitly the run fails with it;
- a factory raises ``ValueError`` when the configured weights folder is wrong (missing files):
  the run always fails before it starts, with the expected file list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

#: Metrics medmine knows, with what they need when nothing registered them.
KNOWN_SCORERS: dict[str, str] = {
    "chexbert": "CheXbert-labeler F1 (14 and 5 observations)",
    "bertscore": "BERTScore with a stated model and layer",
    "radgraph": "RadGraph F1 (entity and relation)",
    "ratescore": "RaTEScore (entity-aware, negation-sensitive)",
}


class ScorerUnavailable(RuntimeError):
    """The metric cannot run on this machine (extra or weights absent); says why."""


@dataclass
class ScorerResult:
    """What a scorer returns: corpus metrics, per-sample values (metric -> one per sample)
    and tables (per observation, settings)."""

    metrics: dict[str, float]
    per_sample: dict[str, list[float]]
    tables: dict[str, Any] = field(default_factory=dict)


class ReportScorer(Protocol):
    """A model-based metric comparing generated reports with references."""

    name: str

    def describe(self) -> dict[str, Any]:
        """The recipe: model, layer, weights folder and fingerprint, library versions."""
        ...

    def score(self, refs: Sequence[str], hyps: Sequence[str]) -> ScorerResult:
        """Score each hypothesis against its reference (same length, same order)."""
        ...


ScorerFactory = Callable[[Mapping[str, Any]], ReportScorer]
_FACTORIES: dict[str, ScorerFactory] = {}


def register_report_scorer(name: str, factory: ScorerFactory) -> None:
    """Make a model-based metric available to report generation by name."""
    _FACTORIES[name] = factory


def build_scorers(
    names: str | Sequence[str], options: Mapping[str, Any]
) -> tuple[list[ReportScorer], dict[str, str]]:
    """The scorers asked for and the unavailable ones with their reason.

    ``names`` is ``"auto"`` (every known metric that can run; the others are listed as
    unavailable) or a list of metric names (each must run, else ValueError with the reason).
    ``options`` are the task's options for the scorers (weights folders, BERTScore layer).
    """
    auto = isinstance(names, str) and names == "auto"
    wanted = list(KNOWN_SCORERS) if auto else [str(n).lower() for n in names]
    unknown = [n for n in wanted if n not in KNOWN_SCORERS and n not in _FACTORIES]
    if unknown:
        raise ValueError(
            f"report_generation option model_metrics: unknown {unknown}; known: "
            f"{', '.join(sorted({*KNOWN_SCORERS, *_FACTORIES}))} (or 'auto')"
        )
    scorers: list[ReportScorer] = []
    unavailable: dict[str, str] = {}
    for name in wanted:
        factory = _FACTORIES.get(name)
        try:
            if factory is None:
                raise ScorerUnavailable(
                    "no implementation registered (import medmine.clinical; it needs the "
                    "clinical extra: pip install 'medmine[clinical]')"
                )
            scorers.append(factory(options))
        except ScorerUnavailable as exc:
            if not auto:
                raise ValueError(f"report_generation: model metric {name!r}: {exc}") from None
            unavailable[name] = str(exc)
    return scorers, unavailable
