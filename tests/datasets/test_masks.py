"""medmine.datasets.masks.read_mask: strict binary, thresholded and value-mapped mask images."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmine.datasets import masks as seg
from medmine.metrics.segmentation import dice

REALDATA = Path(
    os.environ.get(
        "MEDMINE_REALDATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"
    )
)


def _save(tmp_path: Path, name: str, arr: np.ndarray, mode: str | None = None) -> Path:
    """Write an array as an image file and return its path."""
    path = tmp_path / name
    Image.fromarray(arr, mode=mode).save(path) if mode else Image.fromarray(arr).save(path)
    return path


def test_read_mask_strict_binary(tmp_path: Path) -> None:
    arr = np.zeros((6, 7), np.uint8)
    arr[2:4, 1:5] = 255
    for ext in ("png", "bmp", "tif", "gif"):
        out = seg.read_mask(_save(tmp_path, f"m.{ext}", arr))
        assert out.dtype == bool and np.array_equal(out, arr > 0)
    ones = seg.read_mask(_save(tmp_path, "ones.png", (arr > 0).astype(np.uint8)))
    assert np.array_equal(ones, arr > 0)
    grey = arr.copy()
    grey[0, 0] = 128
    with pytest.raises(ValueError, match=r"grey\.png.*\[0, 128, 255\]"):
        seg.read_mask(_save(tmp_path, "grey.png", grey))


def test_read_mask_value_map(tmp_path: Path) -> None:
    raw = np.array([[0, 128, 255], [255, 128, 0]], np.uint8)
    path = _save(tmp_path, "refuge.bmp", raw)
    out = seg.read_mask(path, value_map={0: 2, 128: 1, 255: 0})
    assert out.tolist() == [[2, 1, 0], [0, 1, 2]]
    with pytest.raises(ValueError, match=r"refuge\.bmp.*\[128\]"):
        seg.read_mask(path, value_map={0: 1, 255: 0})
    with pytest.raises(ValueError, match="not both"):
        seg.read_mask(path, value_map={0: 0}, threshold=3)


def test_read_mask_threshold_on_rgb_jpeg(tmp_path: Path) -> None:
    arr = np.zeros((32, 32, 3), np.uint8)
    arr[8:24, 8:24] = 255
    path = tmp_path / "m.jpg"
    Image.fromarray(arr).save(path, quality=70)
    out = seg.read_mask(path, threshold=128)
    assert dice(out, arr[..., 0] > 0) > 0.95
    raw = np.asarray(Image.open(path).convert("L"))
    assert np.array_equal(out, raw >= 128)


def test_read_mask_rejects_colour_missing_and_corrupt(tmp_path: Path) -> None:
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[0, 0] = (255, 0, 0)
    with pytest.raises(ValueError, match=r"c\.png.*colour"):
        seg.read_mask(_save(tmp_path, "c.png", colour))
    with pytest.raises(FileNotFoundError, match=r"nope\.png"):
        seg.read_mask(tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ValueError, match=r"bad\.png"):
        seg.read_mask(bad)


def test_read_mask_real_isic_and_kvasir() -> None:
    isic = REALDATA / "isic2017" / "ISIC-2017_Validation_Part1_GroundTruth"
    kvasir = REALDATA / "kvasir_seg" / "Kvasir-SEG" / "masks"
    if not (isic.is_dir() and kvasir.is_dir()):
        pytest.skip(f"real data not found under {REALDATA}")
    for path in sorted(isic.glob("*.png")):
        m = seg.read_mask(path)
        assert m.dtype == bool and 0 < m.sum() < m.size
    first = sorted(kvasir.glob("*.jpg"))[0]
    with pytest.raises(ValueError, match=first.name):
        seg.read_mask(first)  # JPEG artefacts: not strictly binary
    m = seg.read_mask(first, threshold=128)
    assert m.dtype == bool and m.any()
