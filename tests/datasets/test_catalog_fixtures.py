"""Readers on small fixtures in each official layout (the formats absent from realdata)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmine.core import BoxesTarget, LabelTarget, LandmarkTarget, MaskTarget
from medmine.datasets.catalog import find_dataset, load_dataset
from medmine.datasets.check import check_dataset
from medmine.datasets.readers.base import ReadContext
from medmine.datasets.readers.mask_pairs import landmark_from_mask, mask_array
from medmine.datasets.readers.voc import read_voc
from medmine.datasets.readers.yolo import read_yolo


def png(path: Path, arr: np.ndarray) -> Path:
    """Write an array as an image file (format from the suffix), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def rgb(h: int = 20, w: int = 30) -> np.ndarray:
    """A small RGB image."""
    return np.full((h, w, 3), 90, np.uint8)


def test_dentex_coco_hierarchical_categories(tmp_path: Path) -> None:
    """Dentex coco hierarchical categories."""
    base = tmp_path / "training_data" / "quadrant-enumeration-disease"
    png(base / "xrays" / "train_0.png", rgb(40, 60))
    png(base / "xrays" / "train_1.png", rgb(40, 60))
    coco = {
        "images": [
            {"id": 1, "file_name": "train_0.png", "width": 60, "height": 40},
            {"id": 2, "file_name": "train_1.png", "width": 60, "height": 40},
            {"id": 3, "file_name": "train_2.png", "width": 60, "height": 40},
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "bbox": [5, 6, 10, 8],
                "category_id_1": 0,
                "category_id_2": 7,
                "category_id_3": 0,
            },
            {
                "id": 2,
                "image_id": 1,
                "bbox": [20, 10, 4, 4],
                "category_id_1": 2,
                "category_id_2": 5,
                "category_id_3": 2,
            },
            {
                "id": 3,
                "image_id": 2,
                "bbox": [1, 1, 0, 4],
                "category_id_1": 0,
                "category_id_2": 0,
                "category_id_3": 1,
            },
            {
                "id": 4,
                "image_id": 3,
                "bbox": [1, 1, 3, 4],
                "category_id_1": 0,
                "category_id_2": 0,
                "category_id_3": 3,
            },
        ],
        "categories_1": [{"id": i, "name": str(i + 1)} for i in range(4)],
        "categories_2": [{"id": i, "name": str(i + 1)} for i in range(8)],
        "categories_3": [
            {"id": 0, "name": "Impacted"},
            {"id": 1, "name": "Caries"},
            {"id": 2, "name": "Periapical Lesion"},
            {"id": 3, "name": "Deep Caries"},
        ],
    }
    (base / "train_quadrant_enumeration_disease.json").write_text(json.dumps(coco))
    assert find_dataset("dentex", tmp_path) == tmp_path
    read = load_dataset("dentex", tmp_path)
    assert [s.id for s in read.samples] == ["train_0"]
    det = read.samples[0].target("detection")
    assert isinstance(det, BoxesTarget)
    assert [(b.x0, b.y0, b.x1, b.y1, b.label) for b in det.boxes] == [
        (5, 6, 15, 14, "impacted"),
        (20, 10, 24, 14, "periapical_lesion"),
    ]
    assert read.samples[0].meta["box_attributes"] == [
        {"quadrant": "1", "tooth": "8"},
        {"quadrant": "3", "tooth": "6"},
    ]
    assert read.samples[0].images[0].size == (60, 40)
    reasons = sorted(b.reason.split(":")[0] for b in read.bad)
    assert reasons == ["malformed", "missing"]  # zero-width box; train_2.png absent
    assert [s.id for s in read.missing] == ["train_2"]
    assert read.unexpected == []  # train_1.png is listed in the JSON (its only box is invalid)


def test_yolo_boxes_in_pixels(tmp_path: Path) -> None:
    """Yolo boxes in pixels."""
    png(tmp_path / "images" / "train" / "a.jpg", rgb(100, 200))
    (tmp_path / "labels" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train" / "a.txt").write_text("1 0.5 0.5 0.2 0.4\n")
    (tmp_path / "data.yaml").write_text("names: [caries, impacted]\n")
    read = read_yolo(tmp_path, ctx=ReadContext(dataset="y"))
    box = read.samples[0].target("detection").boxes[0]  # type: ignore[union-attr]
    assert (box.x0, box.y0, box.x1, box.y1, box.label) == (80, 30, 120, 70, "impacted")
    (tmp_path / "labels" / "train" / "a.txt").write_text("7 0.5 0.5 0.2 0.4\n")
    read = read_yolo(tmp_path, ctx=ReadContext(dataset="y"))
    assert read.samples == [] and "class 7" in read.bad[0].reason


def test_voc_boxes_become_zero_based_exclusive(tmp_path: Path) -> None:
    """Voc boxes become zero based exclusive."""
    png(tmp_path / "JPEGImages" / "0001.jpg", rgb(50, 80))
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "0001.xml").write_text(
        "<annotation><filename>0001.jpg</filename><size><width>80</width><height>50</height>"
        "</size><object><name>polyp</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>10</xmax>"
        "<ymax>20</ymax></bndbox></object></annotation>"
    )
    (tmp_path / "Annotations" / "0002.xml").write_text("<annotation><broken")
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    (tmp_path / "ImageSets" / "Main" / "val.txt").write_text("0001\n")
    read = read_voc(tmp_path, ctx=ReadContext(dataset="v"))
    s = read.samples[0]
    box = s.target("detection").boxes[0]  # type: ignore[union-attr]
    assert (box.x0, box.y0, box.x1, box.y1) == (0, 1, 10, 20)
    assert s.split == "val" and s.images[0].size == (80, 50)
    assert read.bad[0].path.endswith("0002.xml") and "invalid XML" in read.bad[0].reason


def _refuge(root: Path) -> None:
    """A two-image REFUGE Training400 tree with masks and a fovea XLSX."""
    openpyxl = pytest.importorskip("openpyxl")
    mask = np.full((20, 30), 255, np.uint8)
    mask[5:15, 10:20] = 128
    mask[8:12, 13:17] = 0
    for cls, name in (("Glaucoma", "g0001"), ("Non-Glaucoma", "n0001")):
        png(root / "Training400" / cls / f"{name}.jpg", rgb())
        png(root / "Annotation-Training400" / "Disc_Cup_Masks" / cls / f"{name}.bmp", mask)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["ID", "ImgName", "Fovea_X", "Fovea_Y"])
    ws.append([1, "g0001.jpg", 12.5, 7.25])
    ws.append([2, "n0001.jpg", 3.0, 4.0])
    wb.save(root / "Annotation-Training400" / "Fovea_location.xlsx")


def test_refuge_classes_disc_cup_masks_and_fovea(tmp_path: Path) -> None:
    """Refuge classes disc cup masks and fovea."""
    _refuge(tmp_path)
    read = load_dataset("ichallenge_gon", tmp_path)  # alias of refuge
    assert not read.bad and not read.unexpected
    by_id = {s.id: s for s in read.samples}
    g = by_id["Training400/Glaucoma/g0001"]
    assert g.target("classification").label == "glaucoma"  # type: ignore[union-attr]
    assert by_id["Training400/Non-Glaucoma/n0001"].target("classification").label == "non_glaucoma"  # type: ignore[union-attr]
    disc, cup = g.target("segmentation"), g.target("segmentation/optic cup")
    assert isinstance(disc, MaskTarget) and isinstance(cup, MaskTarget)
    assert disc.structure == "optic disc" and disc.path.suffix == ".bmp"
    assert mask_array(disc).sum() == 100 and mask_array(cup).sum() == 16
    fovea = g.target("localization")
    assert isinstance(fovea, LandmarkTarget) and fovea.point == (12.5, 7.25)
    assert check_dataset("refuge", tmp_path).ok


def test_montgomery_left_and_right_lung_masks(tmp_path: Path) -> None:
    """Montgomery left and right lung masks."""
    base = tmp_path / "MontgomerySet"
    png(base / "CXR_png" / "MCUCXR_0001_0.png", np.zeros((20, 30), np.uint8))
    left = np.zeros((20, 30), np.uint8)
    left[2:10, 3:9] = 255
    png(base / "ManualMask" / "leftMask" / "MCUCXR_0001_0.png", left)
    png(base / "ManualMask" / "rightMask" / "MCUCXR_0001_0.png", left[:, ::-1].copy())
    png(base / "CXR_png" / "MCUCXR_0002_1.png", np.zeros((20, 30), np.uint8))
    read = load_dataset("montgomery", tmp_path)
    assert [s.id for s in read.samples] == ["MCUCXR_0001_0"]
    assert [s.id for s in read.missing] == ["MCUCXR_0002_1"]
    assert sorted(Path(b.path).parent.name for b in read.bad) == ["leftMask", "rightMask"]
    s = read.samples[0]
    assert s.meta["tuberculosis"] == "0"
    lm = landmark_from_mask(s.target("segmentation"))  # type: ignore[arg-type]
    assert lm.structure == "left lung" and lm.box is not None
    assert (lm.box.x0, lm.box.y0, lm.box.x1, lm.box.y1) == (3, 2, 9, 10)
    right = landmark_from_mask(s.target("segmentation/right lung"))  # type: ignore[arg-type]
    assert right.box is not None and (right.box.x0, right.box.x1) == (21, 27)


def test_isic2018_and_cvc_mask_pairs(tmp_path: Path) -> None:
    """Isic2018 and cvc mask pairs."""
    png(tmp_path / "ISIC2018_Task1-2_Training_Input" / "ISIC_0000000.jpg", rgb())
    (tmp_path / "ISIC2018_Task1-2_Training_Input" / "LICENSE.txt").write_text("licence")
    png(
        tmp_path / "ISIC2018_Task1_Training_GroundTruth" / "ISIC_0000000_segmentation.png",
        np.zeros((20, 30), np.uint8),
    )
    read = load_dataset("isic2018_task1", tmp_path)
    assert [(s.id, s.split) for s in read.samples] == [("ISIC_0000000", "train")]
    assert not read.unexpected

    cvc = tmp_path / "cvc"
    png(cvc / "CVC-ClinicDB" / "Original" / "1.tif", rgb())
    png(cvc / "CVC-ClinicDB" / "Ground Truth" / "1.tif", np.zeros((20, 30), np.uint8))
    read = load_dataset("cvc_clinicdb", cvc)
    mask = read.samples[0].target("segmentation")
    assert isinstance(mask, MaskTarget) and mask.path.parent.name == "Ground Truth"
    assert mask.threshold == 128


def test_kvasir_v2_folder_per_class_and_unknown_class(tmp_path: Path) -> None:
    """Kvasir v2 folder per class and unknown class."""
    base = tmp_path / "kvasir-dataset-v2"
    png(base / "polyps" / "a.jpg", rgb())
    png(base / "normal-z-line" / "b.jpg", rgb())
    png(base / "mystery" / "c.jpg", rgb())
    read = load_dataset("kvasir_v2", tmp_path)
    labels = {s.id: s.target("classification").label for s in read.samples}  # type: ignore[union-attr]
    assert labels == {
        "kvasir-dataset-v2/polyps/a": "polyps",
        "kvasir-dataset-v2/normal-z-line/b": "normal_z_line",
    }
    assert len(read.bad) == 1 and "mystery" in read.bad[0].reason
    assert all(s.split == "test" for s in read.samples)


def test_aptos_label_table_missing_image_and_bad_label(tmp_path: Path) -> None:
    """Aptos label table missing image and bad label."""
    png(tmp_path / "train_images" / "000c1434d8d7.png", rgb())
    png(tmp_path / "train_images" / "stray.png", rgb())
    (tmp_path / "train.csv").write_text(
        "id_code,diagnosis\n000c1434d8d7,2\n001639a390f0,4\n0024cdab0c1e,9\n"
    )
    read = load_dataset("aptos2019", tmp_path)
    assert [(s.id, s.target("classification").label) for s in read.samples] == [  # type: ignore[union-attr]
        ("000c1434d8d7", "moderate")
    ]
    kinds = {b.id: b.reason.split(":")[0] for b in read.bad}
    assert kinds == {"001639a390f0": "missing", "0024cdab0c1e": "label"}
    assert [p.name for p in read.unexpected] == ["stray.png"]
    target = read.samples[0].target("classification")
    assert isinstance(target, LabelTarget) and len(target.labels) == 5


def test_dicom_headers_without_pixels(tmp_path: Path) -> None:
    """Dicom headers without pixels."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    src = get_testdata_file("CT_small.dcm")
    if src is None:
        pytest.skip("pydicom's bundled CT_small.dcm is not available")
    (tmp_path / "study").mkdir()
    shutil.copy(src, tmp_path / "study" / "ct.dcm")
    (tmp_path / "study" / "broken.dcm").write_bytes(b"not dicom at all")
    from medmine.datasets.readers.dicom import read_dicom

    read = read_dicom(tmp_path, ctx=ReadContext(dataset="d"))
    ds = pydicom.dcmread(src)
    assert [s.id for s in read.samples] == ["study/ct"]
    s = read.samples[0]
    assert s.images[0].size == (int(ds.Columns), int(ds.Rows))
    assert s.patient_id == str(ds.PatientID)
    assert [Path(b.path).name for b in read.bad] == ["broken.dcm"]


def test_openi_xml_and_mimic_tree_reports(tmp_path: Path) -> None:
    """Openi xml and mimic tree reports."""
    pytest.importorskip("medmine.datasets.report_text", reason="report_text not written yet")
    xml_dir = tmp_path / "openi" / "ecgen-radiology"
    xml_dir.mkdir(parents=True)
    (xml_dir / "1.xml").write_text(
        '<eCitation><uId id="CXR1"/><MedlineCitation><Article><Abstract>'
        '<AbstractText Label="FINDINGS">The lungs are clear.</AbstractText>'
        '<AbstractText Label="IMPRESSION">No acute disease.</AbstractText>'
        '</Abstract></Article></MedlineCitation><parentImage id="CXR1_1_IM-0001-3001"/>'
        "</eCitation>"
    )
    read = load_dataset("openi", tmp_path / "openi")
    assert len(read.samples) == 1
    ref = read.samples[0].target("report_generation")
    assert ref.findings == "The lungs are clear." and ref.impression == "No acute disease."  # type: ignore[union-attr]

    study = tmp_path / "mimic" / "files" / "p10" / "p10000032" / "s50414267.txt"
    study.parent.mkdir(parents=True)
    study.write_text("FINAL REPORT\nFINDINGS: Heart normal.\nIMPRESSION: No pneumonia.\n")
    read = load_dataset("mimic_cxr", tmp_path / "mimic")
    s = read.samples[0]
    assert s.id == "50414267" and s.patient_id == "10000032"
    assert s.target("report_generation").impression == "No pneumonia."  # type: ignore[union-attr]
