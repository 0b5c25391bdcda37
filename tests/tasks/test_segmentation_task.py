"""The segmentation task: prompt, parsing of malformed answers, scoring against medpy, runner."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from medpy.metric import binary
from PIL import Image

from medmine.baselines.classical import OtsuLCC
from medmine.core import ImageRef, MaskTarget, ParseStatus, Response, Sample
from medmine.datasets.demo import DemoSpec, build_demo
from medmine.run.runner import Job, Runner
from medmine.run.store import RunStore
from medmine.tasks.registry import make_task
from medmine.tasks.segmentation import SegmentationTask

W, H = 200, 100


@pytest.fixture()
def sample(tmp_path: Path) -> Sample:
    """A 200x100 image whose lesion is the rectangle x 40..120, y 20..60 (pixels)."""
    img = tmp_path / "img.png"
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(img)
    mask = np.zeros((H, W), np.uint8)
    mask[20:60, 40:120] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return Sample(
        "s1",
        "toy",
        (ImageRef(img),),
        category="dermatology",
        targets={"segmentation": MaskTarget(tmp_path / "mask.png", "lesion")},
        meta={},
    )


def _gt() -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[20:60, 40:120] = True
    return m


def _run(task: SegmentationTask, sample: Sample, text: str, **kw: object):
    pred = task.parse(Response(text=text, model="t", **kw), sample)
    return pred, task.score([pred], [sample])


def test_prompt_states_size_structure_convention_and_json(sample: Sample) -> None:
    req = SegmentationTask(convention="norm1000_yxyx").request(sample)
    assert req.messages[0].parts[0].type == "image"
    text = req.messages[0].text
    assert "200 pixels wide and 100 pixels high" in text
    assert "lesion" in text and '"polygons"' in text and "[y, x]" in text
    assert req.intent.structure == "lesion" and req.intent.convention == "norm1000_yxyx"
    assert req.json_schema is not None and "polygons" in req.json_schema["properties"]
    assert make_task("segmentation", convention="pixel_xyxy").convention == "pixel_xyxy"
    with pytest.raises(ValueError, match="unknown coordinate convention"):
        SegmentationTask(convention="norm_999")


def test_template_hash_changes_with_the_convention() -> None:
    assert SegmentationTask().template_hash() != SegmentationTask("pixel_xyxy").template_hash()


def test_exact_polygon_scores_one_and_matches_medpy(sample: Sample) -> None:
    text = json.dumps({"polygons": [[[200, 200], [600, 200], [600, 600], [200, 600]]]})
    pred, scores = _run(SegmentationTask(), sample, text)
    assert pred.status is ParseStatus.OK
    assert pred.value["polygons"] == [[[40.0, 20.0], [120.0, 20.0], [120.0, 60.0], [40.0, 60.0]]]
    assert scores.per_sample["s1"]["dice"] == 1.0
    assert scores.metrics["dice"] == 1.0 and scores.headline == "dice"
    json.dumps(pred.value)  # the stored value is JSON-serialisable


def test_partial_overlap_equals_medpy_on_the_same_masks(sample: Sample) -> None:
    # A triangle plus a separate square: two polygons, united.
    text = json.dumps(
        {
            "polygons": [
                [[250, 100], [700, 300], [300, 700]],
                [[800, 800], [900, 800], [900, 950], [800, 950]],
            ]
        }
    )
    _, scores = _run(SegmentationTask(), sample, text)
    from medmine.metrics.geometry import rasterize_polygon

    pm = rasterize_polygon(np.array([[50, 10], [140, 30], [60, 70]]), H, W) | rasterize_polygon(
        np.array([[160, 80], [180, 80], [180, 95], [160, 95]]), H, W
    )
    row = scores.per_sample["s1"]
    assert row["dice"] == pytest.approx(binary.dc(pm, _gt()), abs=1e-12)
    assert row["iou"] == pytest.approx(binary.jc(pm, _gt()), abs=1e-12)
    assert row["hd95"] == pytest.approx(binary.hd95(pm, _gt()), abs=1e-9)
    assert row["assd"] == pytest.approx(binary.assd(pm, _gt()), abs=1e-9)


def test_pixel_spacing_scales_the_distances(sample: Sample) -> None:
    from dataclasses import replace

    text = json.dumps({"polygons": [[[250, 100], [700, 300], [300, 700]]]})
    task = SegmentationTask()
    plain = _run(task, sample, text)[1].per_sample["s1"]["hd95"]
    spaced = replace(sample, meta={"pixel_spacing": [0.5, 0.5]})
    assert _run(task, spaced, text)[1].per_sample["s1"]["hd95"] == pytest.approx(plain / 2)
    bad = replace(sample, meta={"pixel_spacing": [-1, 2]})
    scores = _run(task, bad, text)[1]
    assert scores.metrics["n_unreadable_targets"] == 1
    assert "pixel_spacing" in scores.tables["unreadable_targets"]["s1"]


def test_a_box_answer_is_a_repaired_fallback(sample: Sample) -> None:
    pred, scores = _run(SegmentationTask(), sample, '{"box": [200, 200, 600, 600]}')
    assert pred.status is ParseStatus.REPAIRED and "corners of a box" in (pred.detail or "")
    assert scores.per_sample["s1"]["dice"] == 1.0
    assert scores.metrics["box_fallback_rate"] == 1.0


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("", ParseStatus.UNPARSEABLE),
        ("The lesion is in the upper left part of the image.", ParseStatus.UNPARSEABLE),
        ('{"polygons": [[[NaN, 1], [2, 3], [4, NaN]]]}', ParseStatus.UNPARSEABLE),
        ('{"polygons": [[[10, 20], [30, 40]]]}', ParseStatus.UNPARSEABLE),
        ("I'm sorry, but I cannot provide a segmentation.", ParseStatus.REFUSED),
    ],
)
def test_malformed_answers_are_counted_and_scored_as_misses(
    sample: Sample, text: str, status: ParseStatus
) -> None:
    pred, scores = _run(SegmentationTask(), sample, text)
    assert pred.status is status
    row = scores.per_sample["s1"]
    assert row["dice"] == 0.0 and row["iou"] == 0.0
    assert row["hd95"] == pytest.approx(np.hypot(W, H))  # the worst distance, not skipped
    rate = "refusal_rate" if status is ParseStatus.REFUSED else "parse_failure_rate"
    assert scores.metrics[rate] == 1.0


def test_provider_errors_and_refusals_keep_their_status(sample: Sample) -> None:
    pred, scores = _run(SegmentationTask(), sample, "", error="HTTP 500")
    assert pred.status is ParseStatus.ERROR and scores.metrics["error_rate"] == 1.0
    assert scores.per_sample["s1"]["dice"] == 0.0
    pred, scores = _run(SegmentationTask(), sample, "", refused=True)
    assert pred.status is ParseStatus.REFUSED and scores.metrics["refusal_rate"] == 1.0


def test_an_empty_list_is_a_valid_answer_scored_as_an_empty_mask(sample: Sample) -> None:
    pred, scores = _run(SegmentationTask(), sample, '{"polygons": []}')
    assert pred.status is ParseStatus.OK
    assert scores.per_sample["s1"]["dice"] == 0.0


def test_a_10000_vertex_polygon_is_read_and_scored_without_raising(sample: Sample) -> None:
    t = np.linspace(0, 2 * np.pi, 10_000, endpoint=False)
    circle = np.c_[400 + 100 * np.cos(t), 400 + 200 * np.sin(t)].round(1)
    pred, scores = _run(SegmentationTask(), sample, json.dumps({"polygons": [circle.tolist()]}))
    assert pred.usable and len(pred.value["polygons"][0]) == 10_000
    assert 0.0 < scores.per_sample["s1"]["dice"] < 1.0
    # A degenerate 10,000-vertex polygon (all on one line) covers nothing: counted.
    line = np.c_[np.linspace(0, 1000, 10_000), np.linspace(0, 1000, 10_000)].round(2)
    pred, scores = _run(SegmentationTask(), sample, json.dumps({"polygons": [line.tolist()]}))
    assert scores.per_sample["s1"]["dice"] == 0.0
    assert scores.metrics["degenerate_rate"] == 1.0


def test_swapped_and_negative_box_answers_never_raise(sample: Sample) -> None:
    pred, scores = _run(SegmentationTask(), sample, '{"box": [600, 600, 200, 200]}')
    assert pred.status is ParseStatus.REPAIRED and scores.per_sample["s1"]["dice"] == 1.0
    pred, scores = _run(
        SegmentationTask(), sample, '{"box": {"x": 200, "y": 200, "width": -5, "height": 10}}'
    )
    assert pred.status is ParseStatus.UNPARSEABLE and scores.per_sample["s1"]["dice"] == 0.0


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> list[Sample]:
    spec = DemoSpec(per_class_test=2, per_class_train=2, reports_test=2, reports_train=2)
    return build_demo(spec, tmp_path_factory.mktemp("demo"))


def _test_split(samples: list[Sample], category: str) -> list[Sample]:
    return [s for s in samples if s.category == category and s.split == "test"]


def test_otsu_lcc_through_the_runner_on_demo_data(demo: list[Sample], tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    runner = Runner(store, None, progress=False)
    jobs = [
        Job(OtsuLCC(), SegmentationTask(), f"demo-{cat}", _test_split(demo, cat))
        for cat in ("dermatology", "ophthalmology", "endoscopy")
    ]
    runner.score(asyncio.run(runner.run(jobs)))
    scores = {s["dataset"]: s for s in store.scores()}
    store.close()
    derm = scores["demo-dermatology"]["metrics"]
    assert derm["n"] == 6 and derm["parse_failure_rate"] == 0.0 and derm["error_rate"] == 0.0
    assert derm["dice"] > 0.9  # a dark lesion on even skin: Otsu finds it
    assert derm["dice_ci_low"] <= derm["dice"] <= derm["dice_ci_high"]
    assert scores["demo-ophthalmology"]["metrics"]["dice"] > 0.9  # the bright optic disc
    endo = scores["demo-endoscopy"]["metrics"]
    assert endo["n"] == 2 and 0.0 <= endo["dice"] <= 1.0  # only polyp frames have a mask
    assert set(scores["demo-dermatology"]["per_sample"]) == {
        s.id for s in demo if s.category == "dermatology" and s.split == "test"
    }


def test_many_samples_are_scored_in_workers_exactly_as_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Masks read and distances computed in worker processes give the very same scores,
    unreadable targets and counts as scoring in this process."""
    import medmine.tasks.segmentation as seg_module

    rng = np.random.default_rng(1)
    task = SegmentationTask()
    samples, preds = [], []
    answers = [
        '{"polygons": [[[40, 20], [120, 20], [120, 60], [40, 60]]]}',
        '{"polygons": [[[50, 25], [130, 25], [110, 70]]]}',
        '{"box": [30, 10, 100, 50]}',
        '{"polygons": [[[10, 10], [10, 10], [10, 10]]]}',
        "I cannot outline it.",
    ]
    for i in range(20):
        img = tmp_path / f"img{i}.png"
        Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(img)
        mask = np.zeros((H, W), np.uint8)
        x, y = int(rng.integers(10, 100)), int(rng.integers(5, 50))
        mask[y : y + 40, x : x + 80] = 255
        size = (W, H) if i != 7 else (W // 2, H)  # one mask that does not fit its image
        Image.fromarray(mask).resize(size).save(tmp_path / f"mask{i}.png")
        target = MaskTarget(
            tmp_path / f"mask{i}.png" if i != 11 else tmp_path / "gone.png", "lesion"
        )
        s = Sample(f"s{i:02d}", "toy", (ImageRef(img),), category="dermatology",
                   targets={"segmentation": target}, meta={})  # fmt: skip
        samples.append(s)
        preds.append(task.parse(Response(text=answers[i % len(answers)], model="t"), s))
    here = task.score(preds, samples)
    monkeypatch.setattr(seg_module, "PARALLEL_FROM", 4)
    calls: list[int] = []
    real = seg_module.process_map

    def spying(fn, items, **kw):  # type: ignore[no-untyped-def]
        calls.append(len(items))
        return real(fn, items, **{**kw, "workers": 2})

    monkeypatch.setattr(seg_module, "process_map", spying)
    in_workers = task.score(preds, samples)
    assert calls == [20]
    assert in_workers.per_sample == here.per_sample
    assert in_workers.tables == here.tables
    assert in_workers.metrics.keys() == here.metrics.keys()
    for k, v in here.metrics.items():
        assert in_workers.metrics[k] == v or (np.isnan(v) and np.isnan(in_workers.metrics[k]))
    assert set(here.tables["unreadable_targets"]) == {"s07", "s11"}
