"""score_reports pauses the cyclic garbage collector for its own duration only."""

from __future__ import annotations

import gc

import pytest

from medmine.metrics.nlg import score_reports

REFS = {"a": ["The heart is normal in size. No effusion."], "b": ["Mild cardiomegaly."]}
HYPS = {"a": "Heart size is normal. No pleural effusion.", "b": "The heart is enlarged."}


def test_the_collector_runs_again_after_a_call_and_after_a_failing_one() -> None:
    assert gc.isenabled()
    assert score_reports(REFS, HYPS)["bleu_1"] > 0
    assert gc.isenabled()
    with pytest.raises(ValueError, match="same ids"):
        score_reports(REFS, {"a": "x"})
    assert gc.isenabled()


def test_a_caller_that_paused_the_collector_keeps_it_paused() -> None:
    gc.disable()
    try:
        score_reports(REFS, HYPS)
        assert not gc.isenabled()
    finally:
        gc.enable()
