"""Report baselines: registered, answering in the task's own format, retrieval fitted."""

from __future__ import annotations

import asyncio
import json
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmine.baselines.registry import default_baselines, make_baseline
from medmine.baselines.reports import (
    NORMAL_FINDINGS,
    NORMAL_IMPRESSION,
    ChexpertRules,
    NormalReport,
    RetrievalReport,
)
from medmine.core import ImageRef, ObservationsTarget, ParseStatus, ReportTarget, Sample
from medmine.tasks.diagnosis import DiagnosisTask
from medmine.tasks.report_generation import ReportGenerationTask


def _image(path: Path, level: int, seed: int) -> ImageRef:
    rng = np.random.default_rng(seed)
    arr = rng.normal(level, 12, (24, 24, 3)).clip(0, 255).astype(np.uint8)
    Image.fromarray(arr).save(path)
    return ImageRef(path)


def _cxr(tmp: Path, sid: str, level: int, findings: str, impression: str = "") -> Sample:
    return Sample(
        sid,
        "toy",
        images=(_image(tmp / f"{sid}.png", level, zlib.crc32(sid.encode())),),
        targets={"report_generation": ReportTarget(findings, impression)},
        split="train",
    )


def test_report_baselines_are_registered_as_defaults() -> None:
    names = default_baselines()
    for name in ("chexpert-rules", "normal-report", "retrieval-report"):
        assert name in names
        model = make_baseline(name)
        assert model.name == name
    assert make_baseline("chexpert-rules").tasks == frozenset({"diagnosis"})  # type: ignore[attr-defined]


def test_chexpert_rules_answers_the_diagnosis_json() -> None:
    text = (
        "1. Left pleural effusion with adjacent atelectasis.\n2. Cardiomegaly without overt edema."
    )
    sample = Sample("r", "t", text=text, targets={"diagnosis": ObservationsTarget({})})
    task = DiagnosisTask()
    response = asyncio.run(ChexpertRules().generate(task.request(sample)))
    answer = json.loads(response.text)
    assert answer["Pleural Effusion"] == "positive" and answer["Edema"] == "negative"
    assert answer["Atelectasis"] == "positive" and answer["Pneumothorax"] == "not mentioned"
    assert response.cost_usd == 0.0 and response.error is None
    assert task.parse(response, sample).status is ParseStatus.OK


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("findings", NORMAL_FINDINGS),
        ("impression", NORMAL_IMPRESSION),
        ("both", f"FINDINGS: {NORMAL_FINDINGS}\nIMPRESSION: {NORMAL_IMPRESSION}"),
    ],
)
def test_normal_report_answers_plain_text_for_the_section(
    tmp_path: Path, section: str, expected: str
) -> None:
    sample = _cxr(tmp_path, "a", 100, "Lungs clear.", "Normal.")
    task = ReportGenerationTask(section=section, meteor=False)
    response = asyncio.run(NormalReport().generate(task.request(sample)))
    assert response.text == expected
    prediction = task.parse(response, sample)
    assert prediction.status is ParseStatus.OK
    assert prediction.value["text"].startswith(NORMAL_FINDINGS if section != "impression" else "No")


def test_normal_report_refuses_other_tasks() -> None:
    sample = Sample("r", "t", text="x", targets={"diagnosis": ObservationsTarget({})})
    response = asyncio.run(NormalReport().generate(DiagnosisTask().request(sample)))
    assert response.error and "does not do task diagnosis" in response.error


def test_retrieval_returns_the_nearest_training_report(tmp_path: Path) -> None:
    dark = _cxr(tmp_path, "dark", 30, "Dark findings.", "Dark impression.")
    bright = _cxr(tmp_path, "bright", 220, "Bright findings.", "Bright impression.")
    mid = _cxr(tmp_path, "mid", 128, "", "Mid impression only.")
    task = ReportGenerationTask(meteor=False)
    model = RetrievalReport().fit([dark, bright, mid], task)
    assert model.state_id != "unfitted" and model.cache_id != RetrievalReport().cache_id
    query = _cxr(tmp_path, "query", 215, "Reference.", "Ref.")
    response = asyncio.run(model.generate(task.request(query)))
    assert response.text == "Bright findings." and response.extra["retrieved"] == "bright"
    # Asking for findings skips a neighbour that has none.
    near_mid = _cxr(tmp_path, "near_mid", 126, "Reference.", "Ref.")
    response = asyncio.run(model.generate(task.request(near_mid)))
    assert response.extra["retrieved"] != "mid"
    imp = ReportGenerationTask(section="impression", meteor=False)
    response = asyncio.run(model.generate(imp.request(near_mid)))
    assert response.text == "Mid impression only."


def test_retrieval_needs_a_usable_training_split(tmp_path: Path) -> None:
    task = ReportGenerationTask(meteor=False)
    with pytest.raises(ValueError, match="needs training samples"):
        RetrievalReport().fit([], task)
    no_image = Sample("x", "t", targets={"report_generation": ReportTarget("a")})
    with pytest.raises(ValueError, match="needs training samples"):
        RetrievalReport().fit([no_image], task)
    sample = _cxr(tmp_path, "q", 100, "x")
    response = asyncio.run(RetrievalReport().generate(task.request(sample)))
    assert response.error and "before fit" in response.error


def test_retrieval_unreadable_query_image_is_an_input_error(tmp_path: Path) -> None:
    task = ReportGenerationTask(meteor=False)
    model = RetrievalReport().fit([_cxr(tmp_path, "a", 40, "A.")], task)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    sample = Sample(
        "b", "t", images=(ImageRef(broken),), targets={"report_generation": ReportTarget("x")}
    )
    response = asyncio.run(model.generate(task.request(sample)))
    assert response.error_kind == "input" and "broken.png" in (response.error or "")
