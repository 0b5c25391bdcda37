"""Synthetic but anatomically plausible images for the offline demo, with exact ground truth.

Each generator draws one case from a seeded numpy Generator and returns the RGB image plus its
ground truth: the class label, the lesion mask(s) and labelled boxes, and named landmarks. The
pictures are simple on purpose (ellipses, blurred noise, vessels as polylines), but each class
differs the way the real disease does (an irregular multi-coloured melanoma, a hazy opacity in a
lung, a large optic cup in glaucoma), so a method that looks at the image beats one that guesses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Array = np.ndarray


@dataclass
class Lesion:
    """One lesion: its mask on the image grid and its class."""

    mask: Array
    label: str


@dataclass
class Case:
    """One synthetic image with everything a task can be scored against."""

    image: Array  # uint8 HxWx3
    label: str
    lesions: list[Lesion] = field(default_factory=list)
    landmarks: dict[str, tuple[tuple[float, float, float, float], tuple[float, float]]] = field(
        default_factory=dict
    )  # name -> (box x0,y0,x1,y1 (exclusive), point x,y)
    structure_masks: dict[str, Array] = field(default_factory=dict)
    findings: dict[str, float] = field(default_factory=dict)  # CheXpert observations (chest only)


def _grid(h: int, w: int) -> tuple[Array, Array]:
    yy, xx = np.mgrid[0:h, 0:w]
    return yy + 0.5, xx + 0.5


def _ellipse(
    h: int,
    w: int,
    cx: float,
    cy: float,
    rx: float,
    ry: float,
    angle: float = 0.0,
    wobble: Array | None = None,
) -> Array:
    """A filled ellipse (optionally with an irregular border) evaluated at pixel centres."""
    yy, xx = _grid(h, w)
    c, s = np.cos(angle), np.sin(angle)
    u = ((xx - cx) * c + (yy - cy) * s) / rx
    v = (-(xx - cx) * s + (yy - cy) * c) / ry
    r = np.hypot(u, v)
    if wobble is not None:
        theta = np.arctan2(v, u)
        k = np.arange(1, wobble.size + 1)
        radius = 1.0 + (wobble[None, None, :] * np.cos(k * theta[..., None] + k)).sum(-1)
        return r <= radius
    return r <= 1.0


def _noise(rng: np.random.Generator, h: int, w: int, sigma: float) -> Array:
    from scipy.ndimage import gaussian_filter

    n = gaussian_filter(rng.standard_normal((h, w)), sigma)
    return n / (np.abs(n).max() + 1e-9)


def _mask_box(mask: Array) -> tuple[float, float, float, float]:
    ys, xs = np.nonzero(mask)
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def _compose(base: Array, mask: Array, colour: Array, alpha: Array | float = 1.0) -> None:
    a = (mask * alpha)[..., None] if np.ndim(alpha) else mask[..., None] * alpha
    base[:] = base * (1 - a) + colour * a


def _finish(img: Array, rng: np.random.Generator, noise: float = 4.0) -> Array:
    img = img + rng.normal(0, noise, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- dermatology

DERM_LABELS = ("nv", "mel", "bkl")


def skin_lesion(rng: np.random.Generator, label: str, size: int = 256) -> Case:
    """A dermoscopic skin lesion: round even nevus, irregular multi-coloured melanoma, waxy BKL."""
    h = w = size
    tone = np.array([225, 180, 150]) + rng.normal(0, 8, 3)
    img = np.broadcast_to(tone, (h, w, 3)).astype(float).copy()
    img += 10 * _noise(rng, h, w, 6)[..., None]
    cx, cy = rng.uniform(0.35, 0.65, 2) * size
    rx, ry = rng.uniform(0.13, 0.22, 2) * size
    angle = rng.uniform(0, np.pi)
    if label == "nv":
        mask = _ellipse(h, w, cx, cy, rx, ry, angle, rng.normal(0, 0.02, 3))
        colour = np.array([120, 75, 45]) + rng.normal(0, 6, 3)
        _compose(img, mask, colour, 0.9)
    elif label == "mel":
        mask = _ellipse(h, w, cx, cy, rx * 1.2, ry * 1.2, angle, rng.normal(0, 0.12, 6))
        tex = _noise(rng, h, w, 4)
        _compose(img, mask, np.array([60, 35, 30]), 0.95)
        _compose(img, mask & (tex > 0.25), np.array([90, 100, 130]), 0.8)  # blue-grey veil
        _compose(img, mask & (tex < -0.3), np.array([20, 12, 10]), 0.9)
    elif label == "bkl":
        mask = _ellipse(h, w, cx, cy, rx, ry * 0.8, angle, rng.normal(0, 0.05, 4))
        tex = _noise(rng, h, w, 1.5)
        colour = np.array([175, 135, 95]) + rng.normal(0, 6, 3)
        _compose(img, mask, colour, 0.85)
        _compose(img, mask & (tex > 0.2), np.array([215, 195, 150]), 0.6)  # waxy crypts
    else:
        raise ValueError(f"unknown dermatology label {label!r}")
    return Case(_finish(img, rng), label, [Lesion(mask, "lesion")])


# --------------------------------------------------------------------------- chest radiograph

CXR_LABELS = ("normal", "pneumonia")


def chest_radiograph(rng: np.random.Generator, label: str, size: int = 256) -> Case:
    """A frontal chest radiograph: lungs, heart, ribs; pneumonia adds a hazy lobar opacity.

    The image's left is the patient's right (radiological convention). Cardiomegaly and a
    pleural effusion occur at random, independent of the class, so reports vary.
    """
    from scipy.ndimage import gaussian_filter

    h = w = size
    img = np.full((h, w), 30.0)
    body = _ellipse(h, w, w / 2, h * 0.55, w * 0.46, h * 0.5)
    img[body] = 150
    lungs = {}
    for name, side in (("right lung", -1), ("left lung", 1)):
        cx = w / 2 + side * w * rng.uniform(0.19, 0.21)
        lungs[name] = _ellipse(h, w, cx, h * 0.5, w * 0.14, h * 0.3, side * 0.08)
        img[lungs[name]] = 55
    cardiomegaly = rng.random() < 0.3
    heart_r = w * (0.17 if cardiomegaly else 0.12)
    heart = _ellipse(h, w, w / 2 + w * 0.04, h * 0.62, heart_r, h * 0.12)
    img[heart] = 165
    yy, xx = _grid(h, w)
    for k in range(7):  # ribs: bright arcs across both lungs
        y0 = h * (0.25 + 0.07 * k)
        rib = np.abs(yy - y0 - 0.0006 * (xx - w / 2) ** 2) < 2.5
        img[rib & (lungs["right lung"] | lungs["left lung"])] += 35
    findings = {"Cardiomegaly": 1.0 if cardiomegaly else 0.0}
    lesions = []
    if label == "pneumonia":
        side = "right lung" if rng.random() < 0.5 else "left lung"
        ys, xs = np.nonzero(lungs[side])
        i = rng.integers(len(xs))
        blob = (
            _ellipse(
                h,
                w,
                xs[i],
                ys[i],
                w * rng.uniform(0.06, 0.09),
                h * rng.uniform(0.06, 0.1),
                rng.uniform(0, np.pi),
                rng.normal(0, 0.1, 4),
            )
            & lungs[side]
        )
        img = np.where(blob, img * 0.4 + 150 * 0.6 + 10 * _noise(rng, h, w, 2), img)
        lesions.append(Lesion(blob, "opacity"))
        findings.update({"Consolidation": 1.0, "Pneumonia": 1.0, "Lung Opacity": 1.0})
    else:
        findings.update({"Consolidation": 0.0, "Pneumonia": 0.0})
    effusion = rng.random() < 0.25
    if effusion:
        base = lungs["right lung"] & (yy > h * 0.7)
        img[base] = img[base] * 0.3 + 140 * 0.7
    findings["Pleural Effusion"] = 1.0 if effusion else 0.0
    findings["Pneumothorax"] = 0.0
    if not any(v == 1.0 for v in findings.values()):
        findings["No Finding"] = 1.0
    img = gaussian_filter(img, 1.2)
    rgb = np.repeat(img[..., None], 3, axis=2)
    landmarks = {n: (_mask_box(m), _centroid(m)) for n, m in lungs.items()}
    landmarks["heart"] = (_mask_box(heart), _centroid(heart))
    return Case(
        _finish(rgb, rng, 3), label, lesions, landmarks, {**lungs, "heart": heart}, findings
    )


def _centroid(mask: Array) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return float(xs.mean() + 0.5), float(ys.mean() + 0.5)


# --------------------------------------------------------------------------- dental panoramic

DENTAL_LABELS = ("healthy", "caries")


def dental_panoramic(
    rng: np.random.Generator, label: str, width: int = 384, height: int = 192
) -> Case:
    """A dental panoramic radiograph: two arches of teeth; caries are dark spots in crowns."""
    from scipy.ndimage import gaussian_filter

    h, w = height, width
    img = np.full((h, w), 40.0) + 12 * _noise(rng, h, w, 8)
    yy, xx = _grid(h, w)
    jaw = np.abs(yy - (h * 0.5 + 0.0012 * (xx - w / 2) ** 2)) < h * 0.32
    img[jaw] += 50
    teeth: dict[str, Array] = {}
    n = 8
    for arch, (y_mid, sign) in {"upper": (h * 0.36, -1), "lower": (h * 0.64, 1)}.items():
        for side, quadrant in (
            ("right", 1 if arch == "upper" else 4),
            ("left", 2 if arch == "upper" else 3),
        ):
            for k in range(n):
                offset = (k + 0.5) * (w * 0.055)
                cx = w / 2 + (-1 if side == "right" else 1) * offset
                cy = y_mid + 0.0012 * (cx - w / 2) ** 2 * 0.5
                tw = w * (0.022 if k < 3 else 0.026)
                tooth = _ellipse(h, w, cx, cy + sign * h * 0.05, tw, h * 0.11)
                img[tooth] = 200 + rng.normal(0, 6)
                teeth[f"tooth {quadrant}{k + 1}"] = tooth
    lesions = []
    if label == "caries":
        for name in rng.choice(sorted(teeth), size=int(rng.integers(1, 3)), replace=False):
            ys, xs = np.nonzero(teeth[name])
            i = rng.integers(len(xs))
            spot = _ellipse(h, w, xs[i], ys[i], w * 0.009, h * 0.022) & teeth[name]
            if spot.sum() < 6:
                continue
            img[spot] = 70
            lesions.append(Lesion(spot, "caries"))
        if not lesions:  # guarantee the label is visible
            ys, xs = np.nonzero(teeth["tooth 36"])
            spot = _ellipse(h, w, xs.mean(), ys.mean(), w * 0.01, h * 0.025) & teeth["tooth 36"]
            img[spot] = 70
            lesions.append(Lesion(spot, "caries"))
    img = gaussian_filter(img, 0.8)
    rgb = np.repeat(img[..., None], 3, axis=2)
    landmark = teeth["tooth 36"]
    return Case(
        _finish(rgb, rng, 3),
        label,
        lesions,
        {"tooth 36": (_mask_box(landmark), _centroid(landmark))},
        {"tooth 36": landmark},
    )


# --------------------------------------------------------------------------- fundus

FUNDUS_LABELS = ("normal", "glaucoma", "diabetic retinopathy")


def fundus_photo(rng: np.random.Generator, label: str, size: int = 256) -> Case:
    """A colour fundus photograph: optic disc with cup, vessels, fovea; glaucoma enlarges the
    cup, diabetic retinopathy adds haemorrhages and exudates (the lesions)."""
    from scipy.ndimage import gaussian_filter

    h = w = size
    img = np.zeros((h, w, 3))
    field_ = _ellipse(h, w, w / 2, h / 2, w * 0.47, h * 0.47)
    yy, xx = _grid(h, w)
    shade = 1 - 0.35 * (np.hypot(xx - w / 2, yy - h / 2) / (w / 2)) ** 2
    img[field_] = (np.array([200, 90, 40]) * shade[..., None])[field_]
    side = 1 if rng.random() < 0.5 else -1
    dcx, dcy = w / 2 + side * w * 0.22, h / 2 + rng.normal(0, h * 0.03)
    dr = w * rng.uniform(0.065, 0.08)
    disc = _ellipse(h, w, dcx, dcy, dr, dr * 1.1)
    cup_ratio = rng.uniform(0.65, 0.8) if label == "glaucoma" else rng.uniform(0.25, 0.4)
    cup = _ellipse(h, w, dcx, dcy, dr * cup_ratio, dr * 1.1 * cup_ratio)
    for k in range(6):  # vessels: curved lines from the disc
        ang = rng.uniform(0, 2 * np.pi)
        t = np.linspace(0, w * 0.45, 200)
        px = dcx + t * np.cos(ang + 0.002 * t)
        py = dcy + t * np.sin(ang + 0.002 * t)
        for x, y in zip(px, py, strict=True):
            if 0 <= x < w and 0 <= y < h:
                r = 2 if k < 3 else 1
                img[max(0, int(y) - r) : int(y) + r, max(0, int(x) - r) : int(x) + r] = [
                    120,
                    20,
                    15,
                ]
    _compose(img, disc, np.array([240, 200, 120]), 1.0)
    _compose(img, cup, np.array([250, 235, 190]), 1.0)
    fx, fy = w / 2 - side * w * 0.08, dcy + h * 0.02
    fovea = _ellipse(h, w, fx, fy, w * 0.05, w * 0.05)
    _compose(img, fovea, np.array([110, 40, 20]), 0.6)
    lesions: list[Lesion] = []
    if label == "diabetic retinopathy":
        for _ in range(int(rng.integers(3, 7))):
            ang, rad = rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.35) * w
            cx, cy = w / 2 + rad * np.cos(ang), h / 2 + rad * np.sin(ang)
            if rng.random() < 0.6:
                m = _ellipse(h, w, cx, cy, w * 0.015, w * 0.015) & field_ & ~disc
                _compose(img, m, np.array([90, 10, 10]), 1.0)
                lbl = "haemorrhage"
            else:
                m = _ellipse(h, w, cx, cy, w * 0.012, w * 0.009) & field_ & ~disc
                _compose(img, m, np.array([250, 230, 110]), 1.0)
                lbl = "exudate"
            if m.sum() >= 4:
                lesions.append(Lesion(m, lbl))
    img = np.stack([gaussian_filter(img[..., c], 0.8) for c in range(3)], -1)
    img[~field_] = 0
    return Case(
        _finish(img, rng, 3),
        label,
        lesions,
        {"optic disc": (_mask_box(disc), _centroid(disc)), "fovea": (_mask_box(fovea), (fx, fy))},
        {"optic disc": disc, "optic cup": cup},
    )


# --------------------------------------------------------------------------- endoscopy

ENDO_LABELS = ("normal", "polyp")


def endoscopy_frame(rng: np.random.Generator, label: str, size: int = 256) -> Case:
    """A colonoscopy frame: pink mucosa with folds and vignetting; a polyp is a raised blob."""
    h = w = size
    yy, xx = _grid(h, w)
    lumen = np.array([w, h]) * rng.uniform(0.35, 0.65, 2)
    d = np.hypot(xx - lumen[0], yy - lumen[1]) / w
    folds = 0.5 + 0.5 * np.sin(d * rng.uniform(30, 45) + _noise(rng, h, w, 10) * 2)
    bright = np.clip(1.15 - 1.2 * np.exp(-((d / 0.12) ** 2)) - 0.6 * d, 0.15, 1.0)
    img = np.stack(
        [200 * bright * (0.85 + 0.15 * folds), 110 * bright * (0.8 + 0.2 * folds), 100 * bright], -1
    )
    lesions = []
    if label == "polyp":
        for _ in range(int(rng.choice([1, 1, 1, 2]))):
            cx, cy = rng.uniform(0.2, 0.8, 2) * size
            r = rng.uniform(0.07, 0.13) * size
            m = _ellipse(
                h,
                w,
                cx,
                cy,
                r,
                r * rng.uniform(0.7, 1.0),
                rng.uniform(0, np.pi),
                rng.normal(0, 0.04, 3),
            )
            if any((m & les.mask).any() for les in lesions):
                continue
            dome = np.clip(1 - np.hypot(xx - cx, yy - cy) / r, 0, 1)
            colour = np.stack([225 + 25 * dome, 140 + 40 * dome, 120 + 30 * dome], -1)
            img = np.where(m[..., None], colour, img)
            spec = _ellipse(h, w, cx - r * 0.3, cy - r * 0.3, r * 0.12, r * 0.08) & m
            img[spec] = [255, 250, 245]
            lesions.append(Lesion(m, "polyp"))
    return Case(_finish(img, rng, 4), label, lesions)


GENERATORS = {
    "dermatology": (skin_lesion, DERM_LABELS),
    "radiology": (chest_radiograph, CXR_LABELS),
    "dentistry": (dental_panoramic, DENTAL_LABELS),
    "ophthalmology": (fundus_photo, FUNDUS_LABELS),
    "endoscopy": (endoscopy_frame, ENDO_LABELS),
}
