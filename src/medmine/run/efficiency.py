"""A job's generation-efficiency figures (latency, time to first token, tokens, throughput,
cost), tallied one answer at a time so scoring never holds a job's responses."""

from __future__ import annotations

import statistics
from array import array
from collections.abc import Sequence

import numpy as np

from medmine.core import Response


class EfficiencyTally:
    """Running figures over a job's answers: one float per answer for the figures that
    need every value (means, percentiles), running sums for the rest."""

    def __init__(self) -> None:
        self.n = 0
        self.n_failed = 0
        self.n_cached = 0
        self.n_batched = 0
        self.estimated = False
        self.latency = array("d")
        self.queue = array("d")
        self.ttft = array("d")
        self.tps = array("d")
        self.tokens_in: int | None = None
        self.tokens_out: int | None = None
        self.costs = array("d")

    def add(self, r: Response, cached: bool) -> None:
        """Count one stored answer (``cached``: it came from the response cache)."""
        self.n += 1
        self.n_cached += cached
        self.n_batched += bool(r.extra.get("batch"))
        self.estimated = self.estimated or r.usage.estimated
        if r.usage.input_tokens is not None:
            self.tokens_in = (self.tokens_in or 0) + r.usage.input_tokens
        if r.usage.output_tokens is not None:
            self.tokens_out = (self.tokens_out or 0) + r.usage.output_tokens
        if r.cost_usd is not None:
            self.costs.append(r.cost_usd)  # summed at the end, in order, as ``sum`` would
        # Timing covers answers only: a failure's time (retry waits included) is not a latency.
        if r.error is not None:
            self.n_failed += 1
            return
        if r.latency_s is not None:
            self.latency.append(r.latency_s)
        if (q := r.extra.get("queue_s")) is not None:
            self.queue.append(q)
        if r.ttft_s is not None:
            self.ttft.append(r.ttft_s)
        if (t := r.tokens_per_s) is not None:
            self.tps.append(t)

    def figures(self) -> dict[str, float]:
        """The figures, by metric name, for the answers counted so far."""
        out: dict[str, float] = {}
        if self.n_failed:
            out["n_failed_responses"] = float(self.n_failed)
        if self.queue:
            out["queue_mean_s"] = float(statistics.fmean(self.queue))
        if self.latency:
            out["latency_mean_s"] = float(statistics.fmean(self.latency))
            out["latency_p50_s"] = float(np.percentile(self.latency, 50))
            out["latency_p95_s"] = float(np.percentile(self.latency, 95))
        if self.ttft:
            out["ttft_mean_s"] = float(statistics.fmean(self.ttft))
        if self.tokens_in is not None:
            out["input_tokens"] = float(self.tokens_in)
        if self.tokens_out is not None:
            out["output_tokens"] = float(self.tokens_out)
        if self.tps:
            out["tokens_per_s"] = float(statistics.fmean(self.tps))
        if self.estimated:
            out["tokens_estimated"] = 1.0
        if self.costs:
            total = sum(self.costs)
            out["cost_usd"] = float(total)
            out["cost_per_sample_usd"] = float(total / self.n)
        if self.n:
            out["cached_share"] = float(self.n_cached / self.n)
            if self.n_batched:
                # Batch answers carry no latency: the figures above cover live answers only.
                out["batch_share"] = float(self.n_batched / self.n)
        return out


def efficiency(responses: Sequence[Response], cached: Sequence[bool]) -> dict[str, float]:
    """Latency, time to first token, tokens, throughput and cost over a job's answers."""
    tally = EfficiencyTally()
    for r, c in zip(responses, cached, strict=True):
        tally.add(r, c)
    return tally.figures()
