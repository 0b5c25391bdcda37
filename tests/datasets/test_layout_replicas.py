"""`datasets check` on a replica of every catalogued dataset's distribution layouts.

Each builder writes, under ``tmp_path``, the folder a user gets after unzipping one
published distribution (small generated images, the publisher's file and column names) and
returns that top folder; the test runs ``check_dataset`` on it exactly as the CLI does.
Layouts already built in other modules are listed in ``ELSEWHERE`` (the table in the test
below fails when a catalog entry has no replica anywhere).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmine.core import BoxesTarget
from medmine.datasets.catalog import get_entry, list_entries, load_dataset
from medmine.datasets.check import check_dataset
from medmine.datasets.readers.coco import read_coco

REALDATA = Path(
    os.environ.get(
        "MEDMINE_REALDATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"
    )
)


def _img(path: Path, arr: np.ndarray | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((20, 30, 3), 90, np.uint8) if arr is None else arr).save(path)


def _mask(path: Path) -> None:
    m = np.zeros((20, 30), np.uint8)
    m[4:12, 5:15] = 255
    _img(path, m)


def _text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# --------------------------------------------------------------------------- builders
def ham10000_kaggle(tmp: Path) -> tuple[Path, int]:
    top = tmp / "skin-cancer-mnist-ham10000"  # Kaggle kmader zip
    rows = ["HAM_0000118,ISIC_0027419,bkl,histo,80.0,male,scalp",
            "HAM_0002730,ISIC_0026769,mel,histo,80.0,male,scalp"]  # fmt: skip
    header = "lesion_id,image_id,dx,dx_type,age,sex,localization\n"
    _text(top / "HAM10000_metadata.csv", header + "\n".join(rows) + "\n")
    _img(top / "HAM10000_images_part_1" / "ISIC_0027419.jpg")
    _img(top / "HAM10000_images_part_2" / "ISIC_0026769.jpg")
    return top, 2


def isic9_kaggle(tmp: Path) -> tuple[Path, int]:
    top = tmp / "archive"
    base = top / "Skin cancer ISIC The International Skin Imaging Collaboration"
    _img(base / "Train" / "melanoma" / "ISIC_0000139.jpg")
    _img(base / "Train" / "nevus" / "ISIC_0000005.jpg")
    _img(base / "Test" / "melanoma" / "ISIC_0000002.jpg")
    return top, 3


def isic2017_challenge(tmp: Path) -> tuple[Path, int]:
    top = tmp / "isic2017"
    for split in ("Training", "Validation"):
        _img(top / f"ISIC-2017_{split}_Data" / "ISIC_0000001.jpg")
        _img(top / f"ISIC-2017_{split}_Data" / "ISIC_0000001_superpixels.png")
        _text(top / f"ISIC-2017_{split}_Data" / f"ISIC-2017_{split}_Data_metadata.csv",
              "image_id,age_approximate,sex\r\nISIC_0000001,55,female\r\n")  # fmt: skip
        _mask(top / f"ISIC-2017_{split}_Part1_GroundTruth" / "ISIC_0000001_segmentation.png")
        _text(top / f"ISIC-2017_{split}_Part3_GroundTruth.csv",
              "image_id,melanoma,seborrheic_keratosis\r\nISIC_0000001,1.0,0.0\r\n")  # fmt: skip
    return top, 2


def isic2018_task1(tmp: Path) -> tuple[Path, int]:
    top = tmp / "isic2018"
    _img(top / "ISIC2018_Task1-2_Training_Input" / "ISIC_0000000.jpg")
    _text(top / "ISIC2018_Task1-2_Training_Input" / "ATTRIBUTION.txt", "ISIC\n")
    _text(top / "ISIC2018_Task1-2_Training_Input" / "LICENSE.txt", "CC BY-NC\n")
    _mask(top / "ISIC2018_Task1_Training_GroundTruth" / "ISIC_0000000_segmentation.png")
    _img(top / "ISIC2018_Task1-2_Validation_Input" / "ISIC_0012255.jpg")
    _mask(top / "ISIC2018_Task1_Validation_GroundTruth" / "ISIC_0012255_segmentation.png")
    return top, 2


def _nih_table(top: Path) -> None:
    _text(top / "BBox_List_2017.csv",
          "Image Index,Finding Label,Bbox [x,y,w,h],,,\n"
          "00000001_000.png,Cardiomegaly,5.0,4.0,10.0,8.0\n")  # fmt: skip


def nih_box_folder(tmp: Path) -> tuple[Path, int]:
    top = tmp / "ChestXray-NIHCC"  # the NIH Box folder: images/ from images_*.tar.gz
    _nih_table(top)
    _img(top / "images" / "00000001_000.png", np.zeros((1024, 1024), np.uint8))
    return top, 1


def nih_kaggle(tmp: Path) -> tuple[Path, int]:
    top = tmp / "data"  # Kaggle nih-chest-xrays/data: images_001/images/...
    _nih_table(top)
    _text(top / "Data_Entry_2017.csv",
          "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,"
          "View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n"
          "00000001_000.png,Cardiomegaly,0,1,58,M,PA,2682,2749,0.143,0.143,\n")  # fmt: skip
    _text(top / "test_list.txt", "00000001_000.png\n")
    _text(top / "train_val_list.txt", "00000002_000.png\n")
    _img(top / "images_001" / "images" / "00000001_000.png", np.zeros((1024, 1024), np.uint8))
    return top, 1


def _dentex_json(n_images: int) -> str:
    return json.dumps({
        "images": [{"id": i + 1, "file_name": f"train_{i}.png", "width": 30, "height": 20}
                   for i in range(n_images)],
        "annotations": [{"id": i + 1, "image_id": i + 1, "bbox": [2, 3, 8, 6],
                         "category_id_1": 0, "category_id_2": 5, "category_id_3": 1}
                        for i in range(n_images)],
        "categories_1": [{"id": i, "name": str(i + 1)} for i in range(4)],
        "categories_2": [{"id": i, "name": str(i + 1)} for i in range(8)],
        "categories_3": [{"id": 0, "name": "Impacted"}, {"id": 1, "name": "Caries"},
                         {"id": 2, "name": "Periapical Lesion"}, {"id": 3, "name": "Deep Caries"}],
    })  # fmt: skip


def _dentex_part(base: Path, json_name: str, n: int) -> None:
    _text(base / json_name, _dentex_json(n))
    for i in range(n):
        _img(base / "xrays" / f"train_{i}.png", np.zeros((20, 30), np.uint8))


def dentex_hf_training(tmp: Path) -> tuple[Path, int]:
    top = tmp / "DENTEX"  # Hugging Face ibrahimhamamci/DENTEX, training_data.zip unpacked
    tr = top / "training_data"
    _dentex_part(tr / "quadrant-enumeration-disease", "train_quadrant_enumeration_disease.json", 2)
    _dentex_part(tr / "quadrant", "train_quadrant.json", 1)  # partial labels: not read
    (tr / "unlabelled" / "xrays").mkdir(parents=True)
    return top, 2


def dentex_underscore_with_validation(tmp: Path) -> tuple[Path, int]:
    top = tmp / "dentex"  # a copy spelling the folder with underscores, plus the later release
    tr = top / "training_data" / "quadrant_enumeration_disease"
    _dentex_part(tr, "train_quadrant_enumeration_disease.json", 2)
    va = top / "validation_data" / "quadrant_enumeration_disease"
    _dentex_part(va, "validation_triple.json", 1)
    return top, 3


def _labelme(name: str, shapes: list[tuple[str, str, list[list[float]]]]) -> str:
    """One LabelMe 5 file as DENTEX's test_data.zip has them: the annotators' Turkish labels
    "<code>-<word>-<FDI tooth>" written with \\u escapes (DENTEX issue 8), an X-ray of 30x20."""
    return json.dumps({
        "version": "5.2.1", "flags": {},
        "shapes": [{"label": label, "points": points, "group_id": None, "description": "",
                    "shape_type": kind, "flags": {}} for label, kind, points in shapes],
        "imagePath": f"{name}.png", "imageData": None, "imageHeight": 20, "imageWidth": 30,
    })  # fmt: skip


DENTEX_TEST_LABELS = {
    "test_0": [("1-\u00e7\u00fcr\u00fck-26", "polygon", [[2, 3], [9, 3], [10, 8], [3, 9]]),
               ("6-g\u00f6m\u00fcl\u00fc-38", "rectangle", [[20, 10], [28, 18]]),
               ("3-kanal-36", "polygon", [[12, 4], [16, 4], [16, 9]])],
    "test_1": [("7-lezyon-47", "polygon", [[1, 1], [5, 1], [5, 6], [1, 6]]),
               ("5-\u00e7ekim-16", "rectangle", [[6, 2], [9, 7]]),
               ("2-k\u00fcretaj-35", "polygon", [[11, 2], [14, 2], [14, 7]])],
    "test_2": [("3-kanal-11", "polygon", [[2, 2], [6, 2], [6, 7]])],  # no DENTEX finding
}  # fmt: skip


def dentex_hf_with_test(tmp: Path) -> tuple[Path, int]:
    top, n = dentex_hf_training(tmp)  # plus test_data.zip (Hugging Face, March 2024) unpacked
    disease = top / "test_data" / "disease"
    for name, shapes in DENTEX_TEST_LABELS.items():
        _img(disease / "input" / f"{name}.png", np.zeros((20, 30), np.uint8))
        _text(disease / "label" / f"{name}.json", _labelme(name, shapes))
    return top, n + 2


def aptos_competition(tmp: Path) -> tuple[Path, int]:
    top = tmp / "aptos2019-blindness-detection"  # the competition zip, unzipped into its name
    _text(top / "train.csv", "id_code,diagnosis\n000c1434d8d7,2\n001639a390f0,4\n")
    _text(top / "test.csv", "id_code\n0005cfc8afb6\n")
    _text(top / "sample_submission.csv", "id_code,diagnosis\n0005cfc8afb6,0\n")
    for name in ("000c1434d8d7", "001639a390f0"):
        _img(top / "train_images" / f"{name}.png")
    _img(top / "test_images" / "0005cfc8afb6.png")
    return top, 2


def cvc_clinicdb_original(tmp: Path) -> tuple[Path, int]:
    top = tmp / "CVC-ClinicDB"
    for n in (1, 2):
        _img(top / "Original" / f"{n}.tif")
        _mask(top / "Ground Truth" / f"{n}.tif")
    return top, 2


def kvasir_v2_zip(tmp: Path) -> tuple[Path, int]:
    top = tmp / "kvasir-dataset-v2"
    for cls in ("polyps", "normal-z-line", "dyed-lifted-polyps"):
        _img(top / cls / f"{cls}-0001.jpg")
    return top, 3


def r2gen_iu(tmp: Path) -> tuple[Path, int]:
    top = tmp / "iu_xray"  # R2Gen's iu_xray.zip
    items = {
        split: [{"id": f"CXR{i}_IM-{i}", "report": "The lungs are clear. No effusion.",
                 "image_path": [f"CXR{i}_IM-{i}/0.png", f"CXR{i}_IM-{i}/1.png"], "split": split}]
        for i, split in enumerate(("train", "val", "test"), start=1)
    }  # fmt: skip
    _text(top / "annotation.json", json.dumps(items))
    for split_items in items.values():
        for path in split_items[0]["image_path"]:
            _img(top / "images" / path, np.zeros((20, 20), np.uint8))
    return top, 3


OPENI_XML = """<?xml version="1.0" encoding="utf-8"?>
<eCitation><uId id="CXR{n}"/><MedlineCitation><Article><Abstract>
<AbstractText Label="FINDINGS">The heart is normal in size. The lungs are clear.</AbstractText>
<AbstractText Label="IMPRESSION">No acute disease.</AbstractText>
</Abstract></Article></MedlineCitation>
<MeSH><major>normal</major></MeSH>
<parentImage id="CXR{n}_1_IM-000{n}-1001"><figureId>F1</figureId></parentImage>
</eCitation>
"""


def openi_tgz(tmp: Path) -> tuple[Path, int]:
    top = tmp / "openi"  # NLMCXR_reports.tgz and NLMCXR_png.tgz unpacked side by side
    for n in (1, 2):
        _text(top / "ecgen-radiology" / f"{n}.xml", OPENI_XML.format(n=n))
    _img(top / "NLMCXR_png" / "CXR1_1_IM-0001-1001.png", np.zeros((20, 20), np.uint8))
    return top, 2


def iu_kaggle(tmp: Path) -> tuple[Path, int]:
    top = tmp / "archive"  # raddar/chest-xrays-indiana-university
    _text(top / "indiana_reports.csv",
          "uid,MeSH,Problems,image,indication,comparison,findings,impression\n"
          "1,normal,normal,Xray Chest PA and Lateral,Cough.,None.,The lungs are clear.,Normal.\n"
          "2,Cardiomegaly/mild,Cardiomegaly,Xray Chest PA and Lateral,Dyspnea.,,"
          "Mild cardiomegaly.,Enlarged heart.\n")  # fmt: skip
    _text(top / "indiana_projections.csv",
          "uid,filename,projection\n1,1_IM-0001-4001.dcm.png,Frontal\n")  # fmt: skip
    _img(top / "images" / "images_normalized" / "1_IM-0001-4001.dcm.png",
         np.zeros((20, 20), np.uint8))  # fmt: skip
    return top, 2


def chexpert_labeler_real(tmp: Path) -> tuple[Path, int]:
    folder = REALDATA / "chexpert_labeler_samples"
    if not folder.is_dir():
        pytest.skip("chexpert_labeler_samples not in the real-data folder")
    return folder, 4


Builder = Callable[[Path], tuple[Path, int]]
REPLICAS: dict[str, list[Builder]] = {
    "ham10000": [ham10000_kaggle],
    "skin_cancer_isic_9": [isic9_kaggle],
    "isic2017": [isic2017_challenge],
    "isic2018_task1": [isic2018_task1],
    "nih_chestxray14": [nih_box_folder, nih_kaggle],
    "dentex": [dentex_hf_training, dentex_underscore_with_validation, dentex_hf_with_test],
    "aptos2019": [aptos_competition],
    "cvc_clinicdb": [cvc_clinicdb_original],
    "kvasir_v2": [kvasir_v2_zip],
    "iu_xray_r2gen": [r2gen_iu],
    "openi": [openi_tgz],
    "iu_xray_kaggle": [iu_kaggle],
    "chexpert_labeler_sample": [chexpert_labeler_real],
}
#: Entries whose layout replicas are built (and checked) in other test modules.
ELSEWHERE: dict[str, str] = {
    "ham10000": "test_published_layouts: Dataverse HAM10000_metadata / .tab",
    "chestxray2017": "test_published_layouts: chest_xray/chest_xray + __MACOSX",
    "montgomery": "test_published_layouts: NLM-MontgomeryCXRSet, 1-bit masks",
    "dental_mandibles": "test_published_layouts: DentalPanoramicXrays/DentalPanoramicXrays",
    "refuge": "test_catalog_fixtures: Training400 + Annotation-Training400 (xlsx)",
    "kvasir_seg": "test_published_layouts / test_catalog_check: Kvasir-SEG.zip",
    "cvc_clinicdb_kaggle": "test_published_layouts: PNG/ and TIF/",
    "mimic_cxr": "test_report_truth: files/pXX + chexpert/split csv.gz + expert test set, checked",
    **{
        name: "test_vqa_layouts + test_check_on_every_vqa_replica (below)"
        for name in (
            "vqa_rad",
            "vqa_rad_parquet",
            "slake",
            "path_vqa",
            "pmc_vqa",
            "omnimedvqa",
            "gmai_mmbench",
            "medxpertqa_mm",
        )
    },
}
CASES = [(name, b) for name, builders in REPLICAS.items() for b in builders]


def test_every_catalog_entry_has_a_replica() -> None:
    names = {e.name for e in list_entries()}
    assert names <= set(REPLICAS) | set(ELSEWHERE), sorted(names - set(REPLICAS) - set(ELSEWHERE))


@pytest.mark.parametrize(("name", "build"), CASES, ids=[f"{n}-{b.__name__}" for n, b in CASES])
def test_check_succeeds_on_the_unzipped_top_folder(
    tmp_path: Path, name: str, build: Builder
) -> None:
    top, samples = build(tmp_path)
    report = check_dataset(name, top)
    assert report.ok, report.to_text()
    assert report.counts["samples"] == samples, report.to_text()
    assert report.fingerprint
    if top.is_relative_to(tmp_path):  # the folder that holds the download works too
        assert check_dataset(name, top.parent).ok


def test_dentex_validation_is_its_own_split(tmp_path: Path) -> None:
    top, _ = dentex_underscore_with_validation(tmp_path)
    report = check_dataset("dentex", top)
    assert (report.counts.get("train"), report.counts.get("val")) == (2, 1), report.to_text()


def test_dentex_test_split_has_boxes_labels_and_tooth_attributes(tmp_path: Path) -> None:
    top, _ = dentex_hf_with_test(tmp_path)
    report = check_dataset("dentex", top)
    assert report.ok, report.to_text()
    assert (report.counts.get("train"), report.counts.get("test")) == (2, 2), report.to_text()
    assert report.counts["boxes"] == 2 + 3, report.to_text()
    read = load_dataset("dentex", top, split="test")
    assert [(s.id, s.split) for s in read.samples] == [("test_0", "test"), ("test_1", "test")]
    assert (read.bad, read.missing, read.unexpected) == ([], [], [])  # test_2 is used, empty
    first, second = read.samples
    det = first.target("detection")
    assert isinstance(det, BoxesTarget)
    assert det.labels == ("impacted", "caries", "periapical_lesion", "deep_caries")
    assert [(b.x0, b.y0, b.x1, b.y1, b.label) for b in det.boxes] == [
        (2, 3, 10, 9, "caries"),  # polygon: the box around its points
        (20, 10, 28, 18, "impacted"),
    ]
    assert first.meta["box_attributes"] == [
        {"quadrant": "2", "tooth": "6"},
        {"quadrant": "3", "tooth": "8"},
    ]
    assert first.meta["skipped_shapes"] == {"3-kanal-36": 1}  # a treatment, counted
    assert first.images[0].size == (30, 20)
    assert first.images[0].path == top / "test_data" / "disease" / "input" / "test_0.png"
    det2 = second.target("detection")
    assert isinstance(det2, BoxesTarget)
    assert [b.label for b in det2.boxes] == ["periapical_lesion"]
    assert second.meta["box_attributes"] == [{"quadrant": "4", "tooth": "7"}]
    assert second.meta["skipped_shapes"] == {"2-küretaj-35": 1, "5-çekim-16": 1}
    assert all(s.split == "train" for s in load_dataset("dentex", top, split="train").samples)


def test_dentex_copy_without_test_data_reads_as_the_coco_reader_alone(tmp_path: Path) -> None:
    top, _ = dentex_underscore_with_validation(tmp_path)
    entry = get_entry("dentex")
    coco = read_coco(top, ctx=entry.context(), **entry.reader_args["parts"][0]["args"])
    read = load_dataset("dentex", top)
    assert read.fingerprint == coco.fingerprint  # caches keyed on it stay valid
    assert read.samples == coco.samples and read.bad == coco.bad
    with_test, _ = dentex_hf_with_test(tmp_path / "b")
    assert (
        load_dataset("dentex", with_test).fingerprint
        != load_dataset("dentex", with_test, split="train").fingerprint
    )


def _dentex_test_with(tmp_path: Path, name: str, text: str | None, image: bool) -> Path:
    """The DENTEX replica plus one more test label file (raw text) and/or its X-ray."""
    top, _ = dentex_hf_with_test(tmp_path)
    disease = top / "test_data" / "disease"
    if text is not None:
        _text(disease / "label" / f"{name}.json", text)
    if image:
        _img(disease / "input" / f"{name}.png", np.zeros((20, 30), np.uint8))
    return top


def _problems(top: Path) -> list[tuple[str, str, str]]:
    report = check_dataset("dentex", top)
    return [(kind, Path(path).name, msg) for kind, path, msg in report.problems]


def test_dentex_test_malformed_json_is_named_and_the_rest_read(tmp_path: Path) -> None:
    top = _dentex_test_with(tmp_path, "test_3", '{"version": "5.2.1", "shapes": [', image=True)
    problems = _problems(top)
    assert [(k, n) for k, n, _ in problems] == [("malformed", "test_3.json")], problems
    assert "not valid JSON" in problems[0][2]
    read = load_dataset("dentex", top, split="test")
    assert [s.id for s in read.samples] == ["test_0", "test_1"]
    assert read.unexpected == []  # test_3.png belongs to the broken file, reported once


def test_dentex_test_unknown_label_is_named_and_not_guessed(tmp_path: Path) -> None:
    shapes = [
        ("4-derin \u00e7\u00fcr\u00fck-36", "polygon", [[2, 2], [6, 2], [6, 7]]),
        ("Caries", "rectangle", [[8, 2], [12, 7]]),  # not "<code>-<word>-<tooth>"
        ("1-\u00e7\u00fcr\u00fck-37", "rectangle", [[14, 2], [18, 7]]),
    ]
    top = _dentex_test_with(tmp_path, "test_4", _labelme("test_4", shapes), image=True)
    problems = _problems(top)
    assert [(k, n) for k, n, _ in problems] == [("label", "test_4.json")] * 2, problems
    assert "shape 0" in problems[0][2] and "'derin çürük'" in problems[0][2]
    assert "shape 1" in problems[1][2] and "does not match" in problems[1][2]
    read = load_dataset("dentex", top, split="test")
    fourth = read.samples[-1]
    assert fourth.id == "test_4"
    det = fourth.target("detection")
    assert isinstance(det, BoxesTarget)
    assert [(b.x0, b.label) for b in det.boxes] == [(14, "caries")]
    assert fourth.meta["box_attributes"] == [{"quadrant": "3", "tooth": "7"}]


def test_dentex_test_label_without_its_image_is_named(tmp_path: Path) -> None:
    shapes = [("1-\u00e7\u00fcr\u00fck-14", "polygon", [[2, 2], [6, 2], [6, 7]])]
    top = _dentex_test_with(tmp_path, "test_5", _labelme("test_5", shapes), image=False)
    problems = _problems(top)
    assert [(k, n) for k, n, _ in problems] == [("missing", "test_5.png")], problems
    assert "test_5.json has no image" in problems[0][2]
    read = load_dataset("dentex", top, split="test")
    assert [s.id for s in read.samples] == ["test_0", "test_1"]
    assert [s.id for s in read.missing] == ["test_5"]


def test_dentex_test_shape_that_is_no_box_is_named(tmp_path: Path) -> None:
    shapes = [
        ("1-\u00e7\u00fcr\u00fck-14", "circle", [[5, 5], [8, 5]]),
        ("1-\u00e7\u00fcr\u00fck-15", "polygon", [{"x": 1, "y": 2}, {"x": 4, "y": 6}]),
        ("1-\u00e7\u00fcr\u00fck-16", "rectangle", [[3, 3], [3, 9]]),
    ]
    top = _dentex_test_with(tmp_path, "test_6", _labelme("test_6", shapes), image=True)
    problems = _problems(top)
    assert [(k, n) for k, n, _ in problems] == [("malformed", "test_6.json")] * 3, problems
    assert "circle" in problems[0][2] and "[[x, y], ...]" in problems[1][2]
    assert "no area" in problems[2][2]


def test_check_on_every_vqa_replica(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow", reason="parquet layouts need pyarrow (medmine[vqa])")
    from vqa_layouts import BUILDERS

    names = {"vqa_rad_parquet": "vqa-rad", "path_vqa": "path-vqa"}
    for name, build in sorted(BUILDERS.items()):
        root = tmp_path / name / names.get(name, name)
        root.mkdir(parents=True)
        build(root)
        report = check_dataset(name, root)
        # the replicas hold deliberately broken rows; the layout itself must be found and read
        assert not [p for p in report.problems if p[0] == "layout"], (name, report.to_text())
        assert report.counts["samples"] > 0, (name, report.to_text())
