"""Image encoding (modes, formats, resizing, DICOM) and per-provider image token estimates."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.sequence import Sequence

from medmine.core import ImageRef
from medmine.models.images import (
    EncodedImage,
    clear_cache,
    encode_image,
    estimate_image_tokens,
    is_dicom,
    render_dicom,
)


def decode(encoded: EncodedImage) -> Image.Image:
    """Open the encoded bytes with PIL."""
    image = Image.open(io.BytesIO(encoded.data))
    image.load()
    return image


def test_rgb_jpeg_is_resized_keeping_aspect(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    Image.fromarray(np.full((480, 640, 3), 120, np.uint8)).save(path)
    enc = encode_image(ImageRef(path), max_edge=100)
    assert enc.mime == "image/jpeg" and (enc.width, enc.height) == (100, 75)
    assert (enc.original_width, enc.original_height) == (640, 480)
    image = decode(enc)
    assert image.format == "JPEG" and image.size == (100, 75) and image.mode == "RGB"
    assert enc.data_url().startswith("data:image/jpeg;base64,")


def test_grey_png_is_lossless(tmp_path: Path) -> None:
    arr = np.random.default_rng(0).integers(0, 256, (50, 70), dtype=np.uint8)
    path = tmp_path / "mask.png"
    Image.fromarray(arr).save(path)
    enc = encode_image(ImageRef(path))
    assert enc.mime == "image/png"
    np.testing.assert_array_equal(np.asarray(decode(enc)), arr)


def test_16bit_png_is_scaled_to_8bit(tmp_path: Path) -> None:
    arr = np.linspace(1000, 5000, 40 * 30).reshape(30, 40).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(arr).save(path)
    out = np.asarray(decode(encode_image(ImageRef(path))))
    expected = np.round((arr - 1000.0) * 255.0 / 4000.0).astype(np.uint8)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)


def test_float_tiff_palette_and_cmyk(tmp_path: Path) -> None:
    tif = tmp_path / "f.tif"
    Image.fromarray(np.linspace(-1, 1, 100, dtype=np.float32).reshape(10, 10)).save(tif)
    out = np.asarray(decode(encode_image(ImageRef(tif))))
    assert out.min() == 0 and out.max() == 255 and decode(encode_image(ImageRef(tif))).mode == "L"

    pal = tmp_path / "p.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).convert("P").save(pal)
    assert decode(encode_image(ImageRef(pal))).mode == "RGB"

    cmyk = tmp_path / "c.jpg"
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(cmyk)
    image = decode(encode_image(ImageRef(cmyk)))
    assert image.mode == "RGB" and image.format == "JPEG"
    r, g, b = image.getpixel((5, 5))
    assert r > 200 and g < 60 and b < 60  # CMYK (0,255,255,0) is red


def test_forced_formats_and_alpha_flattening(tmp_path: Path) -> None:
    rgba = tmp_path / "t.png"
    Image.new("RGBA", (10, 10), (255, 0, 0, 0)).save(rgba)
    as_jpeg = decode(encode_image(ImageRef(rgba), fmt="JPEG"))
    assert as_jpeg.mode == "RGB" and max(as_jpeg.getpixel((3, 3))) < 10  # transparent -> black
    jpg = tmp_path / "x.jpg"
    Image.new("RGB", (10, 10), (0, 200, 0)).save(jpg)
    assert encode_image(ImageRef(jpg), fmt="PNG").mime == "image/png"


def test_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ValueError, match=r"broken\.png"):
        encode_image(ImageRef(bad))
    with pytest.raises(FileNotFoundError, match=r"missing\.jpg"):
        encode_image(ImageRef(tmp_path / "missing.jpg"))
    with pytest.raises(ValueError, match="max_edge"):
        encode_image(ImageRef(bad), max_edge=0)
    with pytest.raises(ValueError, match="fmt"):
        encode_image(ImageRef(bad), fmt="GIF")  # type: ignore[arg-type]


def test_memoised_per_content_and_size(tmp_path: Path) -> None:
    clear_cache()
    path = tmp_path / "m.jpg"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(path)
    first = encode_image(ImageRef(path), 32)
    assert encode_image(ImageRef(path), 32) is first
    assert encode_image(ImageRef(path), 16) is not first


# --------------------------------------------------------------------------- DICOM


def test_dicom_ct_min_max_matches_pydicom_reference() -> None:
    path = Path(get_testdata_file("CT_small.dcm"))
    assert is_dicom(path)
    enc = encode_image(ImageRef(path))
    out = np.asarray(decode(enc))
    ds = pydicom.dcmread(path)
    hu = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    expected = np.round((hu - hu.min()) * 255.0 / (hu.max() - hu.min())).astype(np.uint8)
    assert enc.mime == "image/png" and out.shape == (128, 128)
    np.testing.assert_array_equal(out, expected)
    name = str(ds.PatientName).encode()
    assert name not in enc.data and b"CompressedSamples" not in enc.data


def test_dicom_window_matches_pydicom_voi() -> None:
    path = Path(get_testdata_file("MR_small.dcm"))
    ds = pydicom.dcmread(path)
    out = np.asarray(decode(encode_image(ImageRef(path)))).astype(np.int64)
    voi = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds).astype(np.float64)
    ymin, ymax = -(2 ** (ds.BitsStored - 1)), 2 ** (ds.BitsStored - 1) - 1  # signed 16-bit
    expected = np.round((voi - ymin) * 255.0 / (ymax - ymin)).astype(np.int64)
    assert np.abs(out - expected).max() <= 1


def test_dicom_voi_lut_sequence_is_applied_before_the_window() -> None:
    """A VOI LUT Sequence wins over the window (PS3.3 C.11.2); its output spans 2**bits."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    values = apply_modality_lut(ds.pixel_array, ds).astype(np.int64)
    first, n = int(values.min()) + 50, 1024  # values below first / past the end are clipped
    lut = np.round(4095 * np.sqrt(np.arange(n) / (n - 1))).astype(np.uint16)
    item = Dataset()
    item.LUTDescriptor = [n, first, 12]
    item.LUTData = lut.tolist()
    ds.VOILUTSequence = Sequence([item])
    out = np.asarray(render_dicom(ds)).astype(np.int64)
    expected = np.round(lut[np.clip(values - first, 0, n - 1)] * 255.0 / 4095).astype(np.int64)
    np.testing.assert_array_equal(out, expected)


def test_dicom_sigmoid_voi_function() -> None:
    """VOI LUT Function SIGMOID (PS3.3 C.11.2.1.3.1): 255 / (1 + exp(-4 (x - c) / w))."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.VOILUTFunction = "SIGMOID"
    x = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    c, w = float(ds.WindowCenter), float(ds.WindowWidth)
    expected = np.round(255.0 / (1.0 + np.exp(-4.0 * (x - c) / w))).astype(np.int64)
    out = np.asarray(render_dicom(ds)).astype(np.int64)
    assert np.abs(out - expected).max() <= 1


def test_dicom_monochrome1_is_inverted(tmp_path: Path) -> None:
    source = Path(get_testdata_file("MR_small.dcm"))
    ds = pydicom.dcmread(source)
    ds.PhotometricInterpretation = "MONOCHROME1"
    inverted = tmp_path / "mono1"  # no .dcm suffix: detected by the DICM magic
    ds.save_as(inverted)
    normal = np.asarray(decode(encode_image(ImageRef(source)))).astype(int)
    flipped = np.asarray(decode(encode_image(ImageRef(inverted)))).astype(int)
    np.testing.assert_array_equal(flipped, 255 - normal)


def test_dicom_multiframe_selects_frame() -> None:
    path = Path(get_testdata_file("rtdose.dcm"))
    ds = pydicom.dcmread(path)
    frame0 = np.asarray(decode(encode_image(ImageRef(path, frame=0))))
    frame7 = np.asarray(decode(encode_image(ImageRef(path, frame=7))))
    assert frame0.shape == (10, 10)
    assert not np.array_equal(frame0, frame7)
    raw = ds.pixel_array[7].astype(np.float64) * float(ds.DoseGridScaling or 1)
    assert np.argmax(frame7) == np.argmax(raw)
    with pytest.raises(ValueError, match="frame 15 out of range"):
        encode_image(ImageRef(path, frame=15))


# --------------------------------------------------------------------------- tokens


@pytest.mark.parametrize(
    ("size", "provider", "tokens"),
    [
        ((1024, 1024), "openai", 765),  # OpenAI's documented example
        ((2048, 4096), "openai", 1105),  # idem
        ((512, 512), "openai", 255),
        ((1000, 1000), "anthropic", 1334),
        ((3000, 3000), "anthropic", 1600),
        ((300, 200), "gemini", 258),
        ((1000, 800), "gemini", 1032),
        ((4000, 3000), "openai_compatible", 64),
    ],
)
def test_estimate_image_tokens(size: tuple[int, int], provider: str, tokens: int) -> None:
    assert estimate_image_tokens(*size, provider) == tokens


def test_estimate_image_tokens_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown provider"):
        estimate_image_tokens(10, 10, "bedrock")
    with pytest.raises(ValueError, match="width and height"):
        estimate_image_tokens(0, 10, "openai")
