"""What a run's manifest says about how its figures were obtained, for every report view.

- ``concurrency_shown``: per model, the concurrency asked and the most requests actually seen
  in flight at once (``concurrency_peak``, recorded when the run finished), e.g.
  ``"8 (peak 3 in flight)"``; latency depends on what was in flight, not on what was asked.
- ``run_notes``: one sentence per thing a reader must know: answers bought through a
  provider's batch channel (at which share of the list price), and each model's configuration
  warnings (a server that answers one stream at a time, ...).
"""

from __future__ import annotations

from typing import Any


def concurrency_shown(manifest: dict[str, Any]) -> dict[str, Any]:
    """model -> the concurrency asked, with the peak in flight when the run recorded it."""
    asked = dict(manifest.get("concurrency") or {})
    peak = manifest.get("concurrency_peak") or {}
    out: dict[str, Any] = {}
    for model, value in asked.items():
        seen = peak.get(model)
        out[model] = value if seen is None else f"{value} (peak {seen} in flight)"
    return out


def run_notes(manifest: dict[str, Any]) -> list[str]:
    """The run's notes: batch pricing and the models' configuration warnings."""
    notes: list[str] = []
    models = manifest.get("models") or {}
    batch = manifest.get("batch")
    if isinstance(batch, dict) and batch.get("batches_submitted", 0) + batch.get(
        "batches_resumed", 0
    ):
        shares = {
            name: d.get("batch_discount")
            for name, d in models.items()
            if isinstance(d, dict) and d.get("batch_discount") is not None
        }
        priced = ", ".join(f"{m} {100 * s:g}%" for m, s in shares.items()) or "unknown"
        notes.append(
            f"Answers asked through the providers' batch APIs are costed at the batch price "
            f"(share of the list price: {priced}); their latency is not measured (a batch "
            "answer's wall time is queueing)."
        )
    for name, d in models.items():
        for warning in (d.get("warnings") or []) if isinstance(d, dict) else []:
            notes.append(f"Warning ({name}): {warning}")
    return notes
