"""MeteorScorer equality with pycocoevalcap's Meteor (needs Java)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from medmine.metrics.meteor import MeteorScorer, MeteorUnavailable, default_meteor_jar
from medmine.metrics.ptb_tokenize import ptb_tokenize

REALDATA = Path(
    os.environ.get(
        "MEDMINE_REALDATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"
    )
)
IU = REALDATA / "iu_xray_r2gen" / "iu_xray" / "annotation.json"
needs_java = pytest.mark.skipif(
    shutil.which("java") is None or default_meteor_jar() is None,
    reason="java or pycocoevalcap's meteor-1.5.jar not available",
)


def test_unavailable_raises_clear_error(tmp_path: Path) -> None:
    scorer = MeteorScorer(jar=tmp_path / "missing.jar")
    ok, reason = scorer.is_available()
    assert not ok and "missing.jar" in reason
    with scorer, pytest.raises(MeteorUnavailable, match=r"missing\.jar"):
        scorer.score({"a": [["x"]]}, {"a": ["x"]})
    no_java = MeteorScorer(java="definitely-not-java-xyz")
    assert no_java.is_available() == (
        False,
        "'definitely-not-java-xyz' not found on PATH (METEOR needs a Java runtime)",
    )


@needs_java
def test_meteor_equals_pycocoevalcap_on_iu_reports() -> None:
    from pycocoevalcap.meteor.meteor import Meteor

    if not IU.is_file():
        pytest.skip(f"IU X-ray sample not found at {IU}")
    ann = json.loads(IU.read_text(encoding="utf-8"))
    reports = [e["report"] for split in ann.values() for e in split][:60]
    refs = {
        str(i): [ptb_tokenize(r)] + ([ptb_tokenize(reports[i - 1])] if i % 3 == 0 else [])
        for i, r in enumerate(reports)
    }
    hyps = {
        str(i): ptb_tokenize(reports[(i * 7 + 3) % len(reports)])[: (i % 6) * 6]
        for i in range(len(reports))
    }
    gts = {k: [" ".join(r) for r in v] for k, v in refs.items()}
    res = {k: [" ".join(v)] for k, v in hyps.items()}
    expected, expected_per = Meteor().compute_score(gts, res)
    with MeteorScorer() as scorer:
        corpus, per = scorer.score(refs, hyps)
        again, _ = scorer.score(refs, hyps)  # the warm process is reused
    assert corpus == expected
    assert per == expected_per
    assert again == expected
