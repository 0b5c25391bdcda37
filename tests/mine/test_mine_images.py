"""``medmine mine`` over a folder of real images, a DICOM file, a corrupt and a non-image file,
with the offline baselines: per-file results, field formats, resume that asks nothing again."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from medmine.core import LabelTarget, Sample
from medmine.mine.cli_command import mine_command
from medmine.mine.image_stream import mine_images
from medmine.mine.images import MiningQuestion, MiningTask, build_inputs, parse_labels, walk_files
from medmine.mine.outputs import output_names
from medmine.run.store import RunStore
from medmine.tasks.classification import ClassificationTask
from medmine.tasks.segmentation import predicted_mask

REALDATA = Path(
    os.environ.get("MEDMINE_REALDATA", Path(__file__).parents[2] / "../shared/realdata")
)
REAL_IMAGES = (
    "ham10000/HAM10000_images_part_1/ISIC_0024317.jpg",
    "kvasir_seg/Kvasir-SEG/images/cju0qkwl35piu0993l0dewei2.jpg",
    "chestxray2017/chest_xray/train/NORMAL/IM-0651-0001.jpeg",
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """Real images (one in a subfolder), a suffix-less DICOM, a truncated JPEG, a text file."""
    pydicom_data = pytest.importorskip("pydicom.data")
    sources = [REALDATA / rel for rel in REAL_IMAGES]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        pytest.skip(f"real data samples not found ({missing[0]}); set MEDMINE_REALDATA")
    root = tmp_path / "archive"
    (root / "endo").mkdir(parents=True)
    (root / "dicom" / "series1").mkdir(parents=True)
    shutil.copy(sources[0], root / "skin.jpg")
    shutil.copy(sources[1], root / "endo" / "polyp.jpg")
    shutil.copy(sources[2], root / "chest.jpeg")
    shutil.copy(pydicom_data.get_testdata_file("CT_small.dcm"), root / "dicom/series1/IM0001")
    (root / "broken.jpg").write_bytes(sources[0].read_bytes()[:3000])  # truncated JPEG
    (root / "README.txt").write_text("scanned at site 3\n")  # a non-image (and a .txt!)
    (root / ".DS_Store").write_bytes(b"\0\0")  # hidden: ignored, not reported
    return root


def _cli(*args: str) -> tuple[int, str]:
    app = typer.Typer()
    app.command("mine")(mine_command)
    app.command("other")(lambda: None)  # two commands: typer keeps "mine" as a subcommand
    # The archive holds a DICOM file, which turns on anonymized ids by default; these tests
    # check outputs by file name, so they keep path ids (anonymization: test_mine_dicom_safety).
    result = CliRunner().invoke(app, ["mine", *args, "--path-ids"])
    return result.exit_code, result.output


def _jsonl(path: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {r["file"]: r for r in rows}


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


GOOD = ("chest.jpeg", "dicom/series1/IM0001", "endo/polyp.jpg", "skin.jpg")


def test_segmentation_with_a_baseline_writes_masks_and_per_file_statuses(archive: Path) -> None:
    out = archive.parent / "out"
    code, text = _cli(
        str(archive), "--task", "segmentation", "--target", "lesion", "--model", "otsu-lcc",
        "--out", str(out), "--no-progress",
    )  # fmt: skip
    assert code == 0, text
    flat = " ".join(text.split())
    assert "6 file(s)" in flat and "4 to mine, 2 skipped" in flat
    assert "4 item(s) to ask otsu-lcc" in flat and "estimated cost: $0.00" in flat
    assert "asked 4" in flat and "recorded spend: $0.0000" in flat
    results = _jsonl(out / "results.jsonl")
    assert sorted(results) == sorted([*GOOD, "broken.jpg", "README.txt"])
    for name in GOOD:
        assert results[name]["status"] == "ok", results[name]
        assert results[name]["raw_answer"].startswith('{"polygons"')
        assert results[name]["usage"] == {"input_tokens": 0, "output_tokens": 0, "estimated": False}
        assert results[name]["cost_usd"] == 0.0
    assert results["broken.jpg"]["status"] == "skipped"
    assert "corrupt or unreadable image broken.jpg" in results["broken.jpg"]["detail"]
    assert results["README.txt"]["status"] == "skipped"
    assert "not an image" in results["README.txt"]["detail"]
    skipped = _csv(out / "skipped.csv")
    assert [r["file"] for r in skipped] == ["README.txt", "broken.jpg"]
    # Masks: 0/255 at the original size, equal to the answer's polygons rasterised.
    sizes = {
        "skin.jpg": (600, 450),
        "endo/polyp.jpg": Image.open(archive / "endo/polyp.jpg").size,
        "chest.jpeg": Image.open(archive / "chest.jpeg").size,
        "dicom/series1/IM0001": (128, 128),
    }
    for name, (w, h) in sizes.items():
        mask_file = out / results[name]["outputs"]["mask"]
        assert mask_file == out / "masks" / output_names([name], ".png")[name]
        mask = np.asarray(Image.open(mask_file))
        assert mask.shape == (h, w) and set(np.unique(mask)) <= {0, 255}
        want = predicted_mask(results[name]["parsed"], h, w)
        assert np.array_equal(mask == 255, want) and want.any()
    assert (out / "masks/dicom/series1/IM0001.png").is_file()
    assert (out / "masks/skin.png").is_file() and (out / "masks/endo/polyp.png").is_file()


def test_a_second_identical_run_asks_nothing(archive: Path) -> None:
    out = archive.parent / "out"
    question = MiningQuestion("segmentation", structure="lesion")
    first = mine_images(archive, question, "otsu-lcc", out, say=lambda _: None, progress=False)
    assert first.summary.asked == 4 and first.statuses == {"ok": 4, "skipped": 2}
    lines: list[str] = []
    again = mine_images(archive, question, "otsu-lcc", out, say=lines.append, progress=False)
    assert again.summary.asked == 0 and again.summary.from_cache == 0
    assert again.summary.resumed == 4 and again.statuses == first.statuses
    assert any("0 item(s) to ask" in line and "4 already answered" in line for line in lines)
    store = RunStore(out)
    assert len(list(store.results())) == 4
    assert store.manifest()["command"] == "mine"
    store.close()
    # Another output folder: the shared response cache answers, still nothing is computed.
    other = mine_images(
        archive, question, "otsu-lcc", archive.parent / "o2", say=lambda _: None, progress=False
    )
    assert other.summary.asked == 0 and other.summary.from_cache == 4


def test_detection_and_localization_write_coco_json(archive: Path) -> None:
    from pycocotools.coco import COCO

    for task, option, model in (
        ("detection", ["--labels", "polyp"], "blob-detector"),
        ("localization", ["--target", "heart"], "landmark-intensity"),
    ):
        out = archive.parent / task
        code, text = _cli(
            str(archive), "--task", task, *option, "--model", model, "--out", str(out),
            "--no-progress",
        )  # fmt: skip
        assert code == 0, text
        coco = COCO(str(out / "detections.coco.json"))
        assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == [option[1]]
        images = {im["file_name"]: im for im in coco.loadImgs(coco.getImgIds())}
        assert sorted(images) == sorted(GOOD)
        results = _jsonl(out / "results.jsonl")
        n_boxes = 0
        for name, im in images.items():
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[im["id"]]))
            boxes = results[name]["parsed"]["boxes"]
            assert len(anns) == len(boxes)
            for ann, box in zip(anns, boxes, strict=True):
                x0, y0, x1, y1 = box["box"]
                assert ann["bbox"] == pytest.approx([x0, y0, x1 - x0, y1 - y0], abs=0.01)
                left, width = ann["bbox"][0], ann["bbox"][2]
                assert left >= 0 and left + width <= im["width"] + 0.01
                assert ann["category_id"] == 1
            n_boxes += len(anns)
        assert n_boxes >= 1
        if task == "localization":
            assert all(len(coco.getAnnIds(imgIds=[i])) == 1 for i in coco.getImgIds())


def test_report_generation_writes_text_files(archive: Path) -> None:
    out = archive.parent / "reports_out"
    code, text = _cli(
        str(archive), "--task", "report", "--model", "normal-report", "--out", str(out),
        "--no-progress",
    )  # fmt: skip
    assert code == 0, text
    for name in GOOD:
        txt = out / "reports" / output_names([name], ".txt")[name]
        assert "lungs are clear" in txt.read_text().lower()


def test_options_each_task_needs_and_models_that_cannot_mine(archive: Path) -> None:
    out = str(archive.parent / "o")
    code, text = _cli(str(archive), "--task", "classification", "--model", "x", "--out", out)
    assert code == 2 and "needs --labels" in text
    code, text = _cli(str(archive), "--task", "segmentation", "--model", "otsu-lcc", "--out", out)
    assert code == 2 and "needs --target" in text
    code, text = _cli(str(archive), "--task", "detection", "--model", "blob-detector", "--out", out)
    assert code == 2 and "needs --labels" in text
    code, text = _cli(str(archive), "--task", "segment", "--model", "otsu-lcc", "--out", out)
    assert code == 2 and "--task 'segment'" in text
    code, text = _cli(
        str(archive), "--task", "classification", "--labels", "nevus,melanoma",
        "--model", "nearest-centroid", "--out", out,
    )  # fmt: skip
    flat = " ".join(text.split())
    assert code == 2 and "labelled training split" in flat and "otsu-lcc (segmentation)" in flat
    code, text = _cli(
        str(archive), "--task", "diagnosis", "--model", "chexpert-rules", "--out", out
    )
    assert code == 2 and "text-only" in text
    code, text = _cli(
        str(archive), "--task", "detection", "--labels", "polyp", "--model", "otsu-lcc",
        "--out", out,
    )  # fmt: skip
    assert code == 2 and "does not do the detection task" in " ".join(text.split())
    with pytest.raises(ValueError, match="repeated label"):
        parse_labels("a,b,A")
    with pytest.raises(ValueError, match="empty label"):
        parse_labels("a,,b")
    assert not (archive.parent / "o" / "run.sqlite").exists()  # nothing ran


def test_mining_targets_carry_no_truth_and_are_never_scored(archive: Path, tmp_path: Path) -> None:
    question = MiningQuestion("classification", labels=("nevus", "melanoma"))
    inputs = build_inputs(archive, question, tmp_path / "o", dataset="mine:x")
    sample = inputs.samples[0]
    assert sample.meta["mining"] is True
    target = sample.target("classification")
    assert isinstance(target, LabelTarget) and target.label == ""
    assert target.labels == ("nevus", "melanoma")
    task = MiningTask(ClassificationTask())
    assert task.applies_to(sample)
    assert not task.applies_to(Sample("x", "d", sample.images, targets=sample.targets))
    request = task.request(sample)
    assert "nevus" in request.messages[0].text and request.intent.labels == target.labels
    with pytest.raises(ValueError, match="no ground truth"):
        task.score([], [sample])


def test_walk_finds_dicom_by_magic_at_any_depth_and_skips_the_output_folder(
    archive: Path,
) -> None:
    (archive / "out").mkdir()
    (archive / "out" / "x.png").write_bytes(b"")
    found = {f.rel: f.kind for f in walk_files(archive, exclude=[archive / "out"])}
    assert found == {
        "README.txt": "other",
        "broken.jpg": "image",
        "chest.jpeg": "image",
        "dicom/series1/IM0001": "dicom",
        "endo/polyp.jpg": "image",
        "skin.jpg": "image",
    }
    assert output_names(["a/b.jpg", "a/b.png", "c.dcm", "d/1.2.3"], ".png") == {
        "a/b.jpg": "a/b.jpg.png",
        "a/b.png": "a/b.png.png",
        "c.dcm": "c.png",
        "d/1.2.3": "d/1.2.3.png",
    }


def test_a_report_source_goes_to_the_report_miner_with_estimate_and_resume(
    tmp_path: Path,
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "a.txt").write_text("Small right pleural effusion. No pneumothorax.")
    (reports / "b.txt").write_text("FINDINGS: Stable cardiomegaly.\nIMPRESSION: No edema.")
    out = tmp_path / "out"
    args = [str(reports), "--task", "diagnosis", "--model", "chexpert-rules", "--out", str(out)]
    code, text = _cli(*args, "--no-progress")
    flat = " ".join(text.split())
    assert code == 0, text
    assert "2 item(s) to ask chexpert-rules" in flat and "asked 2" in flat
    rows = _csv(out / "labels.csv")
    assert [r["id"] for r in rows] == ["a", "b"] and rows[0]["Pleural Effusion"] == "1.0"
    assert rows[1]["Cardiomegaly"] == "1.0" and rows[1]["Edema"] == "0.0"
    code, text = _cli(*args, "--no-progress", "--max-cost", "0")
    flat = " ".join(text.split())
    assert code == 0 and "2 already answered" in flat and "asked 0" in flat, text
    code, text = _cli(str(reports), "--task", "segmentation", "--out", str(out))
    assert code == 2 and "--task diagnosis" in " ".join(text.split())
    code, text = _cli(str(reports), "--task", "diagnosis", "--out", str(tmp_path / "rules"))
    assert code == 0 and "CheXpert rules (nothing sent)" in " ".join(text.split())
    assert _csv(tmp_path / "rules" / "labels.csv")[0]["Pleural Effusion"] == "1.0"
