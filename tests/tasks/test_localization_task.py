"""The localization task: answer forms, hit / IoU / distance, malformed answers, runner."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmine.baselines.classical import LandmarkIntensity
from medmine.core import Box, ImageRef, LandmarkTarget, MaskTarget, ParseStatus, Response, Sample
from medmine.datasets.demo import DemoSpec, build_demo
from medmine.run.runner import Job, Runner
from medmine.run.store import RunStore
from medmine.tasks.localization import LocalizationTask

W, H = 400, 200
TARGET = LandmarkTarget("optic disc", Box(100, 50, 200, 150), (150.0, 100.0))


@pytest.fixture()
def sample(tmp_path: Path) -> Sample:
    img = tmp_path / "img.png"
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(img)
    return Sample(
        "s1", "toy", (ImageRef(img),), category="ophthalmology", targets={"localization": TARGET}
    )


def _run(task: LocalizationTask, sample: Sample, text: str, **kw: object):
    pred = task.parse(Response(text=text, model="t", **kw), sample)
    return pred, task.score([pred], [sample])


def test_prompt_and_schema_follow_the_answer_form(sample: Sample) -> None:
    box = LocalizationTask().request(sample)
    assert "400 pixels wide and 200 pixels high" in box.messages[0].text
    assert '{"box": [x_min, y_min, x_max, y_max]}' in box.messages[0].text
    assert box.json_schema["required"] == ["box"]
    point = LocalizationTask(answer="point", convention="norm1000_yx").request(sample)
    assert '{"point": [y, x]}' in point.messages[0].text
    assert point.intent.structure == "optic disc"
    both = LocalizationTask(answer="both").request(sample)
    assert both.json_schema["required"] == ["box", "point"]
    with pytest.raises(ValueError, match="answer must be one of"):
        LocalizationTask(answer="mask")  # type: ignore[arg-type]


def test_box_answer_scores_iou_hit_and_distance(sample: Sample) -> None:
    # Pixel box (150, 50, 250, 150): IoU with (100, 50, 200, 150) = 50*100 / (2*100*100 - 5000).
    _, scores = _run(LocalizationTask(), sample, '{"box": [375, 250, 625, 750]}')
    row = scores.per_sample["s1"]
    assert row["iou"] == pytest.approx(5000 / 15000)
    assert row["hit"] == 1.0  # centre (200, 100) is on the target box's edge: inclusive
    assert row["distance"] == pytest.approx(50 / np.hypot(W, H))
    assert scores.metrics["hit_rate"] == 1.0 and scores.headline == "hit_rate"


def test_point_answer_miss_and_distance(sample: Sample) -> None:
    _, scores = _run(LocalizationTask(answer="point"), sample, '{"point": [750, 500]}')
    row = scores.per_sample["s1"]
    assert row["hit"] == 0.0 and "iou" not in row
    assert row["distance"] == pytest.approx(150 / np.hypot(W, H))


def test_both_answer_uses_the_point_for_hits_and_the_box_for_iou(sample: Sample) -> None:
    text = '{"box": [250, 250, 500, 750], "point": [900, 900]}'
    pred, scores = _run(LocalizationTask(answer="both"), sample, text)
    assert pred.status is ParseStatus.OK
    row = scores.per_sample["s1"]
    assert row["iou"] == pytest.approx(1.0) and row["hit"] == 0.0


def test_point_only_targets_use_a_mask_or_the_radius_rule(sample: Sample, tmp_path: Path) -> None:
    task = LocalizationTask(answer="point", hit_radius=0.05)
    fovea = replace(sample, targets={"localization": LandmarkTarget("fovea", None, (150, 100))})
    near = _run(task, fovea, '{"point": [400, 540]}')[1]  # (160, 108): 12.8 px < 22.4 px
    far = _run(task, fovea, '{"point": [500, 500]}')[1]  # (200, 100): 50 px
    assert near.per_sample["s1"]["hit"] == 1.0 and far.per_sample["s1"]["hit"] == 0.0
    assert near.tables["hit_rule_counts"]["radius"] == 1
    mask = np.zeros((H, W), np.uint8)
    mask[90:110, 190:210] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    with_mask = replace(
        fovea,
        targets={
            "localization": LandmarkTarget("fovea", None, (150, 100)),
            "segmentation/fovea": MaskTarget(tmp_path / "m.png", "fovea"),
        },
    )
    scores = _run(task, with_mask, '{"point": [500, 500]}')[1]
    assert scores.per_sample["s1"]["hit"] == 1.0
    assert scores.tables["hit_rule_counts"]["mask"] == 1


@pytest.mark.parametrize(
    "text",
    [
        "",
        "The optic disc is on the left.",
        '{"box": [NaN, 1, 2, 3]}',
        '{"box": {"x": 10, "y": 10, "width": -5, "height": 5}}',
        "[[1, 2], [3,",
    ],
)
def test_malformed_answers_are_misses_and_counted(sample: Sample, text: str) -> None:
    pred, scores = _run(LocalizationTask(), sample, text)
    assert not pred.usable
    row = scores.per_sample["s1"]
    assert row == {"hit": 0.0, "iou": 0.0, "distance": 1.0, "usable": 0.0}
    assert scores.metrics["parse_failure_rate"] == 1.0


def test_swapped_corners_are_repaired(sample: Sample) -> None:
    pred, scores = _run(LocalizationTask(), sample, '{"box": [500, 750, 250, 250]}')
    assert pred.status is ParseStatus.REPAIRED
    assert scores.per_sample["s1"]["iou"] == pytest.approx(1.0)
    assert scores.metrics["repaired_rate"] == 1.0


def test_errors_and_refusals_are_misses(sample: Sample) -> None:
    for kw, rate in (({"error": "timeout"}, "error_rate"), ({"refused": True}, "refusal_rate")):
        _, scores = _run(LocalizationTask(), sample, "", **kw)
        assert scores.metrics[rate] == 1.0 and scores.per_sample["s1"]["hit"] == 0.0


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> list[Sample]:
    spec = DemoSpec(per_class_test=2, per_class_train=2, reports_test=2, reports_train=2)
    return build_demo(spec, tmp_path_factory.mktemp("demo"))


def test_landmark_intensity_through_the_runner(demo: list[Sample], tmp_path: Path) -> None:
    test = [s for s in demo if s.split == "test"]
    disc = [s for s in test if getattr(s.target("localization"), "structure", "") == "optic disc"]
    lungs = [s for s in test if "lung" in getattr(s.target("localization"), "structure", "")]
    assert disc and lungs
    store = RunStore(tmp_path / "run")
    runner = Runner(store, None, progress=False)
    jobs = [
        Job(LandmarkIntensity(), LocalizationTask(), "disc", disc),
        Job(LandmarkIntensity(), LocalizationTask(answer="point"), "lungs", lungs),
    ]
    runner.score(asyncio.run(runner.run(jobs)))
    scores = {s["dataset"]: s["metrics"] for s in store.scores()}
    store.close()
    assert scores["disc"]["hit_rate"] > 0.5 and scores["disc"]["iou_mean"] > 0.3
    assert scores["disc"]["error_rate"] == 0.0
    assert scores["lungs"]["hit_rate"] > 0.5
    assert 0.0 <= scores["lungs"]["distance_error_mean"] < 0.2


def test_an_unknown_structure_is_an_error_answer_not_a_bad_sample(
    demo: list[Sample], tmp_path: Path
) -> None:
    s = next(x for x in demo if x.split == "test" and x.target("localization") is not None)
    odd = replace(s, targets={"localization": LandmarkTarget("pineal gland", Box(1, 1, 9, 9))})
    request = LocalizationTask().request(odd)
    response = asyncio.run(LandmarkIntensity().generate(request))
    assert response.error == "landmark-intensity does not know structure 'pineal gland'"
    assert response.error_kind == "unsupported"
    assert json.loads(asyncio.run(LandmarkIntensity().generate(LocalizationTask().request(s))).text)
