"""The detection task: COCO scoring against pycocotools, empty answers, malformed answers."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from medmine.baselines.classical import BlobDetector
from medmine.core import Box, BoxesTarget, ImageRef, ParseStatus, Prediction, Response, Sample
from medmine.datasets.demo import DemoSpec, build_demo
from medmine.run.runner import Job, Runner
from medmine.run.store import RunStore
from medmine.tasks.detection import DetectionTask

W, H = 200, 100
LABELS = ("haemorrhage", "exudate")


def _samples(tmp_path: Path) -> list[Sample]:
    img = tmp_path / "img.png"
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(img)
    gts = [
        (Box(10, 10, 50, 40, "haemorrhage"), Box(100, 50, 140, 90, "exudate")),
        (Box(20, 20, 60, 60, "haemorrhage"),),
        (),  # a normal image
    ]
    return [
        Sample(
            f"img{i}",
            "toy",
            (ImageRef(img),),
            category="ophthalmology",
            targets={"detection": BoxesTarget(boxes, LABELS)},
        )
        for i, boxes in enumerate(gts)
    ]


def _parse(task: DetectionTask, samples: list[Sample], texts: list[str]) -> list[Prediction]:
    return [task.parse(Response(text=t, model="t"), s) for t, s in zip(texts, samples, strict=True)]


def _pycoco(gts: list[tuple], preds: list[tuple]) -> COCOeval:
    """pycocotools' bbox evaluation on (image index, label, xyxy[, score]) rows."""
    cats = {lab: i + 1 for i, lab in enumerate(LABELS)}
    gt = COCO()
    gt.dataset = {
        "images": [{"id": i} for i in range(3)],
        "categories": [{"id": c} for c in cats.values()],
        "annotations": [
            {
                "id": k + 1,
                "image_id": i,
                "category_id": cats[lab],
                "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                "area": (b[2] - b[0]) * (b[3] - b[1]),
                "iscrowd": 0,
            }
            for k, (i, lab, b) in enumerate(gts)
        ],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(
            [
                {
                    "image_id": i,
                    "category_id": cats[lab],
                    "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                    "score": sc,
                }
                for i, lab, b, sc in preds
            ]
        )
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def test_prompt_lists_the_classes_and_the_empty_answer(tmp_path: Path) -> None:
    req = DetectionTask().request(_samples(tmp_path)[0])
    text = req.messages[0].text
    assert "haemorrhage, exudate" in text and '{"lesions": []}' in text
    assert "200 pixels wide" in text
    assert req.intent.labels == LABELS and req.intent.convention == "norm1000_xyxy"
    item = req.json_schema["properties"]["lesions"]["items"]
    assert item["properties"]["label"]["enum"] == list(LABELS)


def test_scores_equal_pycocotools_on_the_same_boxes(tmp_path: Path) -> None:
    samples = _samples(tmp_path)
    task = DetectionTask(convention="pixel_xyxy")
    texts = [
        json.dumps(
            {
                "lesions": [
                    {"label": "haemorrhage", "box": [12, 10, 50, 42]},
                    {"label": "Exudate", "box": [130, 60, 180, 95]},
                ]
            }
        ),
        json.dumps({"lesions": [{"label": "haemorrhage", "box": [20, 20, 60, 60]}]}),
        json.dumps({"lesions": [{"label": "exudate", "box": [0, 0, 30, 30]}]}),
    ]
    scores = task.score(_parse(task, samples, texts), samples)
    ev = _pycoco(
        [
            (0, "haemorrhage", (10, 10, 50, 40)),
            (0, "exudate", (100, 50, 140, 90)),
            (1, "haemorrhage", (20, 20, 60, 60)),
        ],
        [
            (0, "haemorrhage", (12, 10, 50, 42), 1.0),
            (0, "exudate", (130, 60, 180, 95), 1.0),
            (1, "haemorrhage", (20, 20, 60, 60), 1.0),
            (2, "exudate", (0, 0, 30, 30), 1.0),
        ],
    )
    assert scores.metrics["ap"] == pytest.approx(ev.stats[0], abs=1e-12)
    assert scores.metrics["ap50"] == pytest.approx(ev.stats[1], abs=1e-12)
    assert scores.metrics["ap75"] == pytest.approx(ev.stats[2], abs=1e-12)
    assert scores.per_sample["img0"] == {"tp": 1.0, "fp": 1.0, "fn": 1.0}
    assert scores.per_sample["img2"] == {"tp": 0.0, "fp": 1.0, "fn": 0.0}
    assert scores.metrics["precision"] == pytest.approx(2 / 4)
    assert scores.metrics["recall"] == pytest.approx(2 / 3)
    assert scores.tables["per_class"]["exudate"]["ap50"] == 0.0
    assert scores.tables["per_class"]["haemorrhage"]["ap50"] == 1.0
    assert scores.headline == "ap50"


def test_empty_lists_are_valid_and_perfect_answers_score_one(tmp_path: Path) -> None:
    samples = _samples(tmp_path)
    task = DetectionTask(convention="pixel_xyxy")
    texts = [
        '{"lesions": [{"label": "haemorrhage", "box": [10, 10, 50, 40]},'
        ' {"label": "exudate", "box": [100, 50, 140, 90]}]}',
        '{"lesions": [{"label": "haemorrhage", "box": [20, 20, 60, 60]}]}',
        '{"lesions": []}',
    ]
    preds = _parse(task, samples, texts)
    assert preds[2].status is ParseStatus.OK
    scores = task.score(preds, samples)
    assert scores.metrics["ap50"] == 1.0 and scores.metrics["ap"] == 1.0
    assert scores.metrics["f1"] == 1.0
    assert scores.metrics["ap50_ci_low"] <= 1.0 <= scores.metrics["ap50_ci_high"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "There may be some haemorrhages near the disc.",
        '{"lesions": [{"label": "exudate", "box": [NaN, 1, 2, 3]}]}',
        '{"lesions": [{"label": "exudate", "box": {"x": 1, "y": 1, "w": -4, "h": 3}}]}',
    ],
)
def test_malformed_answers_are_no_detections_and_counted(tmp_path: Path, text: str) -> None:
    samples = _samples(tmp_path)[:1]
    task = DetectionTask()
    preds = _parse(task, samples, [text])
    assert preds[0].status is ParseStatus.UNPARSEABLE
    scores = task.score(preds, samples)
    assert scores.per_sample["img0"] == {"tp": 0.0, "fp": 0.0, "fn": 2.0}
    assert scores.metrics["ap50"] == 0.0 and scores.metrics["parse_failure_rate"] == 1.0


def test_swapped_corners_and_unlabelled_boxes(tmp_path: Path) -> None:
    s = _samples(tmp_path)[1]
    target = BoxesTarget((Box(20, 20, 60, 60, "haemorrhage"),), ("haemorrhage",))
    single = Sample(s.id, s.dataset, s.images, targets={"detection": target})
    task = DetectionTask(convention="pixel_xyxy")
    (pred,) = _parse(task, [single], ['{"lesions": [{"box": [60, 60, 20, 20]}]}'])
    assert pred.status is ParseStatus.REPAIRED
    scores = task.score([pred], [single])
    assert scores.metrics["ap50"] == pytest.approx(1.0)  # COCO's eps: 1 / (1 + 2**-52)
    assert scores.metrics["unlabelled_rate"] == 1.0


def test_a_dataset_without_boxes_has_undefined_ap(tmp_path: Path) -> None:
    samples = _samples(tmp_path)[2:]
    task = DetectionTask()
    scores = task.score(_parse(task, samples, ['{"lesions": []}']), samples)
    assert np.isnan(scores.metrics["ap50"]) and "undefined" in scores.tables["note"]


def test_blob_detector_through_the_runner(tmp_path: Path) -> None:
    spec = DemoSpec(per_class_test=2, per_class_train=2, reports_test=2, reports_train=2)
    demo = build_demo(spec, tmp_path / "demo")
    fundus = [s for s in demo if s.category == "ophthalmology" and s.split == "test"]
    store = RunStore(tmp_path / "run")
    runner = Runner(store, None, progress=False)
    runner.score(asyncio.run(runner.run([Job(BlobDetector(), DetectionTask(), "fundus", fundus)])))
    (row,) = store.scores()
    store.close()
    m = row["metrics"]
    assert m["n"] == 6 and m["error_rate"] == 0.0 and m["parse_failure_rate"] == 0.0
    assert 0.0 < m["ap50"] <= 1.0 and m["recall"] > 0.3  # finds some haemorrhages/exudates
    assert set(row["per_sample"]) == {s.id for s in fundus}
