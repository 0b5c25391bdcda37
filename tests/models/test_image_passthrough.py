"""Files that need no re-encoding are sent as their own bytes, metadata removed."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from medmine.core import ImageRef
from medmine.models.image_passthrough import strip_jpeg, strip_png
from medmine.models.images import clear_cache, encode_image


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def _rgb(h: int = 48, w: int = 64) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


def test_a_jpeg_is_sent_as_its_bytes_without_exif_or_comment(tmp_path: Path) -> None:
    clear_cache()
    path = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x010F] = "ScannerCo"  # Make
    exif[0x0112] = 1
    _rgb().save(path, quality=80, exif=exif, comment=b"patient: Jane Doe")
    original = path.read_bytes()
    assert b"Jane Doe" in original and b"ScannerCo" in original
    enc = encode_image(ImageRef(path), max_edge=1024)
    assert enc.mime == "image/jpeg" and (enc.width, enc.height) == (64, 48)
    assert b"Jane Doe" not in enc.data and b"ScannerCo" not in enc.data
    assert len(enc.data) < len(original)
    assert np.array_equal(_pixels(enc.data), _pixels(original))  # the very same JPEG data
    reopened = Image.open(io.BytesIO(enc.data))
    assert not reopened.getexif() and "comment" not in reopened.info


def test_a_png_keeps_only_its_critical_chunks(tmp_path: Path) -> None:
    clear_cache()
    path = tmp_path / "scan.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("PatientName", "Doe^Jane")
    _rgb().convert("L").save(path, pnginfo=info)
    enc = encode_image(ImageRef(path))
    assert enc.mime == "image/png" and b"Doe^Jane" not in enc.data
    assert np.array_equal(_pixels(enc.data), _pixels(path.read_bytes()))


def test_images_that_need_work_take_the_full_path(tmp_path: Path) -> None:
    clear_cache()
    big = tmp_path / "big.jpg"
    _rgb(300, 400).save(big, quality=80)
    small = encode_image(ImageRef(big), max_edge=100)
    assert (small.width, small.height) == (100, 75) and small.original_width == 400
    cmyk = tmp_path / "cmyk.jpg"
    _rgb().convert("CMYK").save(cmyk, quality=90)
    assert Image.open(io.BytesIO(encode_image(ImageRef(cmyk)).data)).mode == "RGB"
    grey = tmp_path / "grey.jpg"  # a grey image goes out as PNG (lossless), as before
    _rgb().convert("L").save(grey)
    assert encode_image(ImageRef(grey)).mime == "image/png"


def test_malformed_files_are_not_passed_through() -> None:
    assert strip_jpeg(b"\xff\xd8\xff\xe1\x00") is None  # a cut segment
    assert strip_jpeg(b"GIF89a") is None
    png = io.BytesIO()
    _rgb().save(png, format="PNG")
    data = bytearray(png.getvalue())
    data[40] ^= 0xFF  # corrupt a byte inside a chunk: its CRC no longer matches
    assert strip_png(bytes(data)) is None
