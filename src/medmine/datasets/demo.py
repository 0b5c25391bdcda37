"""The built-in demo dataset: synthetic cases of all five categories plus template reports.

Generated deterministically from a seed when first needed and written as PNG files (images and
masks) under a data folder, so every backend and reader sees ordinary files. Every case carries
the ground truth of every task kind it can serve. THE DEMO DATA IS SYNTHETIC: its numbers say
whether the pipeline works, not how good a model is on real patients.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from medmine.core import (
    Box,
    BoxesTarget,
    ImageRef,
    LabelTarget,
    LandmarkTarget,
    MaskTarget,
    ObservationsTarget,
    ReportTarget,
    Sample,
    Target,
    TaskKind,
    stable_hash,
)
from medmine.datasets.demo_images import GENERATORS, Case
from medmine.datasets.demo_reports import random_observations, write_report
from medmine.datasets.demo_vqa import demo_vqa_target

DEMO_VERSION = "1"
SYNTHETIC_NOTICE = "SYNTHETIC demo data: these figures check the pipeline, not clinical skill."

LABEL_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "dermatology": {
        "nv": ("melanocytic nevus", "nevus", "nevi", "melanocytic nevi", "mole"),
        "mel": ("melanoma", "malignant melanoma"),
        "bkl": (
            "benign keratosis",
            "benign keratosis-like lesion",
            "seborrheic keratosis",
            "solar lentigo",
        ),
    },
    "radiology": {
        "normal": ("normal", "no pneumonia", "healthy"),
        "pneumonia": ("pneumonia", "consolidation"),
    },
    "dentistry": {
        "healthy": ("healthy", "no caries", "normal"),
        "caries": ("caries", "dental caries", "cavity", "cavities", "tooth decay"),
    },
    "ophthalmology": {
        "normal": ("normal", "healthy"),
        "glaucoma": ("glaucoma", "glaucomatous optic neuropathy"),
        "diabetic retinopathy": ("diabetic retinopathy", "dr"),
    },
    "endoscopy": {
        "normal": ("normal mucosa", "normal", "no polyp"),
        "polyp": ("polyp", "colorectal polyp", "adenoma"),
    },
}
DETECTION_CLASSES = {
    "radiology": ("opacity",),
    "dentistry": ("caries",),
    "ophthalmology": ("haemorrhage", "exudate"),
    "endoscopy": ("polyp",),
}
SEGMENTATION_STRUCTURE = {
    "dermatology": "lesion",
    "radiology": "opacity",
    "endoscopy": "polyp",
    "ophthalmology": "optic disc",
}
LANDMARKS = {
    "radiology": ("heart", "right lung", "left lung"),
    "ophthalmology": ("optic disc", "fovea"),
    "dentistry": ("tooth 36",),
}


@dataclass(frozen=True)
class DemoSpec:
    """How much demo data to make: cases per class and split, template reports per split."""

    seed: int = 0
    per_class_test: int = 6
    per_class_train: int = 6
    reports_test: int = 30
    reports_train: int = 20

    def fingerprint(self) -> str:
        """Identity of the generated data (its recipe): what the manifest records."""
        return stable_hash(["demo", DEMO_VERSION, self.__dict__])


def default_data_dir() -> Path:
    """Where demo files are written unless told otherwise (shared across runs)."""
    from medmine.core import cache_dir

    return cache_dir() / "demo"


def build_demo(spec: DemoSpec = DemoSpec(), data_dir: Path | None = None) -> list[Sample]:
    """All demo samples (train and test splits), writing their files once per recipe."""
    root = (data_dir or default_data_dir()) / f"v{DEMO_VERSION}-{spec.fingerprint()}"
    done = root / "COMPLETE"
    samples: list[Sample] = []
    write = not done.exists()
    root.mkdir(parents=True, exist_ok=True)
    for ci, (category, (gen, labels)) in enumerate(GENERATORS.items()):
        for split, n in (("train", spec.per_class_train), ("test", spec.per_class_test)):
            for li, label in enumerate(labels):
                for k in range(n):
                    seed = [spec.seed, ci, li, k, split == "test"]
                    sid = f"{category}/{split}/{label.replace(' ', '_')}_{k:03d}"
                    samples.append(
                        _image_sample(
                            root,
                            sid,
                            category,
                            split,
                            label,
                            lambda s=seed, g=gen, lb=label: g(np.random.default_rng(s), lb),
                            seed,
                            write,
                        )
                    )
    rng = np.random.default_rng([spec.seed, 99])
    for split, n in (("train", spec.reports_train), ("test", spec.reports_test)):
        for k in range(n):
            values = random_observations(rng)
            findings, impression = write_report(values, rng)
            samples.append(
                Sample(
                    id=f"reports/{split}/report_{k:03d}",
                    dataset="demo",
                    split=split,
                    category="reports",
                    text=f"FINDINGS: {findings}\n\nIMPRESSION: {impression}",
                    targets={TaskKind.DIAGNOSIS: ObservationsTarget(values)},
                    meta={"synthetic": True},
                )
            )
    if write:
        done.write_text(SYNTHETIC_NOTICE + "\n")
    return samples


def _image_sample(
    root: Path,
    sid: str,
    category: str,
    split: str,
    label: str,
    make: Callable[[], Case],
    seed: list[object],
    write: bool,
) -> Sample:
    """One image case: its files (written if needed) and every target it can serve."""
    img_path = root / f"{sid}.png"
    meta_path = root / f"{sid}.json"
    if write or not meta_path.exists():
        case = make()
        img_path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(case.image).save(img_path)
        meta = _case_meta(case, root, sid, category, seed)
        meta_path.write_text(json.dumps(meta))
    else:
        meta = json.loads(meta_path.read_text())
    w, h = meta["size"]
    targets: dict[str, Target] = {
        TaskKind.CLASSIFICATION: LabelTarget(
            label, tuple(LABEL_NAMES[category]), LABEL_NAMES[category]
        ),
    }
    if meta.get("mask"):
        targets[TaskKind.SEGMENTATION] = MaskTarget(
            root / meta["mask"], SEGMENTATION_STRUCTURE[category], threshold=128
        )
    if meta.get("landmark"):
        name, box, point = meta["landmark"]
        targets[TaskKind.LOCALIZATION] = LandmarkTarget(name, Box(*box), tuple(point))
    if category in DETECTION_CLASSES:
        targets[TaskKind.DETECTION] = BoxesTarget(
            tuple(Box(*b, label=lab) for lab, b in meta["boxes"]), DETECTION_CLASSES[category]
        )
    targets[TaskKind.VQA] = demo_vqa_target(  # type: ignore[assignment]
        category, label, int(sid.rsplit("_", 1)[1]), LABEL_NAMES[category]
    )
    if meta.get("findings"):
        targets[TaskKind.DIAGNOSIS] = ObservationsTarget(meta["findings"])
        targets[TaskKind.REPORT_GENERATION] = ReportTarget(*meta["report"])
    return Sample(
        id=sid,
        dataset="demo",
        images=(ImageRef(img_path, (w, h)),),
        split=split,
        category=category,
        targets=targets,
        patient_id=sid,
        meta={"synthetic": True},
    )


def _case_meta(
    case: Case, root: Path, sid: str, category: str, seed: list[object]
) -> dict[str, object]:
    """Everything about a case that targets need, as JSON (masks go to PNG files)."""
    h, w = case.image.shape[:2]
    meta: dict[str, object] = {"size": [w, h], "label": case.label}
    structure = SEGMENTATION_STRUCTURE.get(category)
    mask = None
    if structure in case.structure_masks:
        mask = case.structure_masks[structure]
    elif case.lesions and structure is not None:
        mask = np.logical_or.reduce([les.mask for les in case.lesions])
    if mask is not None and mask.any():
        rel = f"{sid}_mask.png"
        Image.fromarray((mask * 255).astype(np.uint8)).save(root / rel)
        meta["mask"] = rel
    meta["boxes"] = [[les.label, _box(les.mask)] for les in case.lesions]
    if category in LANDMARKS:
        names = LANDMARKS[category]
        name = names[int(np.random.default_rng(seed).integers(len(names)))]
        box, point = case.landmarks[name]
        meta["landmark"] = [name, list(box), list(point)]
    if case.findings:
        meta["findings"] = case.findings
        meta["report"] = list(write_report(case.findings, np.random.default_rng(seed)))
    return meta


def _box(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
