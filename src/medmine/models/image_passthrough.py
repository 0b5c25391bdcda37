"""Send an image file's own bytes when re-encoding would not change what the model sees.

Decoding and re-encoding a JPEG costs about 10 ms of CPU per image; in a run at concurrency 8
that work competes with the requests in flight and shows up in their latency. A JPEG (RGB) or
PNG (RGB or grey) that needs no resizing, no frame selection and no mode change is sent as the
file's bytes, with the metadata segments a re-encode would also drop removed (EXIF, XMP, ICC,
comments; PNG text and other ancillary chunks), so no metadata reaches the provider either way.
Anything else (a resize, CMYK, alpha, 16-bit, palette, DICOM, a damaged file) goes through the
full decode/encode path.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from PIL import Image

_JPEG_DROP = frozenset((*range(0xE1, 0xEE), 0xEF, 0xFE))  # APP1-13, APP15, COM
_PNG_KEEP = frozenset((b"IHDR", b"PLTE", b"IDAT", b"IEND"))
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def strip_jpeg(data: bytes) -> bytes | None:
    """The JPEG without APP1-13/APP15 and COM segments (JFIF and Adobe kept: they decide the
    colour transform), or None if the marker structure is not what it should be."""
    if data[:2] != b"\xff\xd8":
        return None
    out = [data[:2]]
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA:  # start of scan: the entropy-coded data and EOI follow
            out.append(data[i:])
            return b"".join(out)
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2 or i + 2 + length > len(data):
            return None
        if marker not in _JPEG_DROP:
            out.append(data[i : i + 2 + length])
        i += 2 + length
    return None


def strip_png(data: bytes) -> bytes | None:
    """The PNG with only its critical chunks (IHDR, PLTE, IDAT, IEND), or None if a chunk is
    malformed (bad length or CRC)."""
    if data[:8] != _PNG_SIGNATURE:
        return None
    out = [_PNG_SIGNATURE]
    i = 8
    while i + 12 <= len(data):
        (length,) = struct.unpack(">I", data[i : i + 4])
        kind = data[i + 4 : i + 8]
        end = i + 12 + length
        if end > len(data):
            return None
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(data[i + 4 : end - 4]) != crc:
            return None
        if kind in _PNG_KEEP:
            out.append(data[i:end])
        i = end
        if kind == b"IEND":
            return b"".join(out)
    return None


def passthrough(
    path: Path, frame: int | None, max_edge: int | None, fmt: str | None
) -> tuple[bytes, str, int, int] | None:
    """(bytes, mime, width, height) of a file that can be sent as it is, else None.

    The output format must be the one the full path would choose (JPEG for an RGB JPEG, PNG
    for an RGB or grey PNG) and the image must already fit ``max_edge``.
    """
    try:
        with Image.open(path) as im:  # reads the header only
            source, mode, (w, h) = im.format, im.mode, im.size
            frames = getattr(im, "n_frames", 1)
    except Exception:  # unreadable here: the full path says why
        return None
    if frame not in (None, 0) or frames != 1:
        return None
    if max_edge is not None and max(w, h) > max_edge:
        return None
    if source == "JPEG" and mode == "RGB" and fmt in (None, "JPEG"):
        data = strip_jpeg(path.read_bytes())
        return (data, "image/jpeg", w, h) if data is not None else None
    if source == "PNG" and mode in ("RGB", "L") and fmt in (None, "PNG"):
        data = strip_png(path.read_bytes())
        return (data, "image/png", w, h) if data is not None else None
    return None
