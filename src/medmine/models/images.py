"""Turn an :class:`~medmine.core.ImageRef` into bytes a provider accepts, and count its tokens.

Encoding keeps lossless PNG where it matters (PNG sources, masks, grey images, DICOM) and JPEG
quality 95 otherwise; it downsizes with LANCZOS keeping the aspect ratio; it maps 16-bit, float,
palette and CMYK images to 8-bit L/RGB. DICOM files are rendered from pixels only (Modality LUT,
then the header's VOI LUT or window by pydicom, else min-max; MONOCHROME1 inverted): no header
field ever reaches a prompt.
Encodings are memoised per (content hash, frame, max_edge, format) in a bounded LRU.
"""

from __future__ import annotations

import base64
import io
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from medmine.core import ImageRef, Request
from medmine.models.image_passthrough import passthrough
from medmine.models.presets import Preset

ImageFormat = Literal["JPEG", "PNG"]
_LOSSLESS_SOURCES = frozenset(("PNG", "BMP", "TIFF", "GIF", "PPM", "DICOM"))
_CACHE_SIZE = 128
_cache: OrderedDict[tuple[str, int | None, int | None, str | None], EncodedImage] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class EncodedImage:
    """One image ready to send: its bytes, MIME type, and sizes after and before resizing."""

    data: bytes
    mime: str
    width: int
    height: int
    original_width: int
    original_height: int

    def b64(self) -> str:
        """The bytes as base64 text."""
        return base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        """A ``data:`` URL (the form OpenAI-style chat APIs accept)."""
        return f"data:{self.mime};base64,{self.b64()}"


def clear_cache() -> None:
    """Forget all memoised encodings (tests; or to free memory)."""
    with _cache_lock:
        _cache.clear()


def is_dicom(path: Path) -> bool:
    """True for a ``.dcm`` file or a file with the DICM magic at byte 128."""
    if path.suffix.lower() == ".dcm":
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def encode_image(
    ref: ImageRef, max_edge: int | None = None, fmt: ImageFormat | None = None
) -> EncodedImage:
    """Encode an image file for a provider, downsizing so its longer edge is <= ``max_edge``.

    ``fmt`` forces JPEG or PNG; by default PNG is kept for lossless sources and grey images and
    JPEG (q=95) is used otherwise. Raises FileNotFoundError for a missing file and ValueError
    naming the file for an unreadable one.
    """
    if max_edge is not None and max_edge < 1:
        raise ValueError(f"encode_image: max_edge must be >= 1 or None, got {max_edge}")
    if fmt not in (None, "JPEG", "PNG"):
        raise ValueError(f"encode_image: fmt must be 'JPEG', 'PNG' or None, got {fmt!r}")
    path = Path(ref.path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: image file not found")
    key = (ref.content_hash(), ref.frame, max_edge, fmt)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    encoded = _encode(path, ref.frame, max_edge, fmt)
    with _cache_lock:
        _cache[key] = encoded
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return encoded


def _encode(path: Path, frame: int | None, max_edge: int | None, fmt: str | None) -> EncodedImage:
    """Load, normalise, resize and compress one image (uncached); a file that needs none of
    it is sent as its own bytes without metadata (:mod:`image_passthrough`)."""
    if not is_dicom(path):
        same = passthrough(path, frame, max_edge, fmt)
        if same is not None:
            data, mime, w, h = same
            return EncodedImage(data, mime, w, h, w, h)
    if is_dicom(path):
        image, source = dicom_to_image(path, frame), "DICOM"
    else:
        image, source = _load_raster(path, frame)
    ow, oh = image.size
    out_fmt = fmt or ("PNG" if source in _LOSSLESS_SOURCES or image.mode in ("L", "LA") else "JPEG")
    image = _to_output_mode(image, out_fmt)
    if max_edge is not None and max(ow, oh) > max_edge:
        scale = max_edge / max(ow, oh)
        size = (max(1, round(ow * scale)), max(1, round(oh * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if out_fmt == "JPEG":
        image.save(buf, format="JPEG", quality=95)
    else:
        image.save(buf, format="PNG")
    mime = "image/jpeg" if out_fmt == "JPEG" else "image/png"
    return EncodedImage(buf.getvalue(), mime, image.width, image.height, ow, oh)


def _load_raster(path: Path, frame: int | None) -> tuple[Image.Image, str]:
    """Open a non-DICOM image, select a frame, and map it to L/LA/RGB/RGBA 8-bit."""
    try:
        with Image.open(path) as im:
            source = im.format or ""
            if frame is not None:
                n = getattr(im, "n_frames", 1)
                if not 0 <= frame < n:
                    raise ValueError(f"{path}: frame {frame} out of range (file has {n})")
                im.seek(frame)
            im.load()
            image = _to_8bit(im)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"{path}: not a readable image ({exc})") from exc
    return image, source


def _to_8bit(im: Image.Image) -> Image.Image:
    """Map any PIL mode to 8-bit L, LA, RGB or RGBA (a new image without metadata)."""
    mode = im.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return im.copy()
    if mode == "1":
        return im.convert("L")
    if mode in ("P", "PA"):
        return im.convert("RGBA" if "transparency" in im.info or mode == "PA" else "RGB")
    if mode.startswith("I") or mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        return Image.fromarray(_minmax_to_uint8(arr), mode="L")
    if mode == "La":
        return im.convert("LA")
    if mode == "RGBa":
        return im.convert("RGBA")
    return im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX


def _to_output_mode(image: Image.Image, fmt: str) -> Image.Image:
    """JPEG has no alpha: flatten transparent images onto black; PNG keeps them."""
    if fmt == "PNG" or image.mode in ("L", "RGB"):
        return image
    rgb = "L" if image.mode == "LA" else "RGB"
    background = Image.new(rgb, image.size, 0)
    background.paste(image.convert(rgb), mask=image.getchannel("A"))
    return background


def _minmax_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Scale an array linearly so its min maps to 0 and max to 255 (constant -> 0)."""
    arr = np.asarray(arr, dtype=np.float64)
    return _scale_to_uint8(arr, float(np.min(arr)), float(np.max(arr)))


def _voi_to_uint8(values: np.ndarray, ds: Any) -> np.ndarray | None:
    """The header's first VOI transform (PS3.3 C.11.2) by pydicom, mapped to 0..255.

    A VOI LUT Sequence is preferred over a window (pydicom's ``apply_voi_lut``); its output
    spans ``0 .. 2**bits - 1`` (bits: the LUT Descriptor's third value). A window (LINEAR,
    LINEAR_EXACT or SIGMOID, per VOI LUT Function) spans the range pydicom gives for the
    modality LUT's output, found by windowing the two extremes. None when the header has no
    VOI transform, or only a window pydicom refuses (e.g. a LINEAR width below 1): the caller
    then uses the frame's min..max, as for a header without a window.
    """
    from pydicom.pixels import apply_voi_lut, apply_windowing

    lut = ds.get("VOILUTSequence")
    if lut and lut[0].get("LUTDescriptor") is not None and lut[0].get("LUTData") is not None:
        bits = int(lut[0].LUTDescriptor[2])
        mapped = apply_voi_lut(np.rint(values).astype(np.int64), ds)
        return _scale_to_uint8(np.asarray(mapped, dtype=np.float64), 0.0, 2.0**bits - 1.0)
    if ds.get("WindowCenter") is None or ds.get("WindowWidth") is None:
        return None
    try:
        with np.errstate(over="ignore"):
            y_min, y_max = apply_windowing(np.array([-1e300, 1e300]), ds)
        windowed = apply_voi_lut(values, ds)
    except ValueError:
        return None
    return _scale_to_uint8(np.asarray(windowed, dtype=np.float64), float(y_min), float(y_max))


def _scale_to_uint8(arr: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map ``lo..hi`` linearly to 0..255, rounding and clipping."""
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    return np.clip(np.round((arr - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)


def dicom_to_image(path: Path, frame: int | None = None) -> Image.Image:
    """Render one frame of a DICOM file to an 8-bit L (grey) or RGB image, from pixels only."""
    pydicom = _pydicom(path)
    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise ValueError(f"{path}: not a readable DICOM image ({reason})") from exc
    return render_dicom(ds, frame, name=str(path))


def _pydicom(name: object) -> Any:
    try:
        import pydicom
    except ImportError as exc:  # pragma: no cover - exercised only without pydicom
        raise ImportError(
            f"{name}: reading DICOM needs pydicom; install it with pip install 'medmine[dicom]'"
        ) from exc
    return pydicom


def render_dicom(ds: Any, frame: int | None = None, *, name: str = "DICOM") -> Image.Image:
    """Render one frame of a pydicom Dataset to an 8-bit L or RGB image, from pixels only.

    The modality LUT (rescale) is applied, then the header's first VOI LUT or window by
    pydicom (else the frame's min..max), and MONOCHROME1 is inverted; colour images are
    converted to RGB. ``name`` identifies the source in error messages.
    """
    from pydicom.pixels import apply_modality_lut, convert_color_space

    try:
        arr = np.asarray(ds.pixel_array)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise ValueError(f"{name}: not a readable DICOM image ({reason})") from exc
    n_frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2")).upper()
    samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
    index = 0 if frame is None else frame
    if not 0 <= index < n_frames:
        raise ValueError(f"{name}: frame {index} out of range (file has {n_frames})")
    if n_frames > 1:
        arr = arr[index]
    if samples > 1:
        if photometric.startswith("YBR"):
            arr = convert_color_space(arr, photometric, "RGB")
        if arr.dtype != np.uint8:
            arr = _minmax_to_uint8(arr)
        return Image.fromarray(np.ascontiguousarray(arr[..., :3]), mode="RGB")
    values = np.asarray(apply_modality_lut(arr, ds), dtype=np.float64)
    grey = _voi_to_uint8(values, ds)
    if grey is None:
        grey = _minmax_to_uint8(values)
    if photometric == "MONOCHROME1":
        grey = 255 - grey
    return Image.fromarray(grey, mode="L")


# --------------------------------------------------------------------------- token estimates


def estimate_image_tokens(width: int, height: int, provider: str) -> int:
    """Approximate prompt tokens one image costs at a provider.

    - ``openai``: high detail: fit in 2048x2048, shortest side down to 768, then
      85 + 170 per 512-px tile.
    - ``anthropic``: fit the long edge in 1568 px, then ceil(w*h/750), at most 1600.
    - ``gemini``: 258 when both sides are <= 384 px, else 258 per 768x768 tile.
    - ``openai_compatible``, ``hf_local``, ``baseline``: a conservative lower bound (64), used
      to detect servers that silently drop images.
    """
    if width < 1 or height < 1:
        raise ValueError(
            f"estimate_image_tokens: width and height must be >= 1, got {width}x{height}"
        )
    w, h = float(width), float(height)
    if provider == "openai":
        scale = min(1.0, 2048.0 / max(w, h))
        w, h = w * scale, h * scale
        scale = min(1.0, 768.0 / min(w, h))
        w, h = w * scale, h * scale
        tiles = math.ceil(w / 512.0) * math.ceil(h / 512.0)
        return 85 + 170 * tiles
    if provider == "anthropic":
        scale = min(1.0, 1568.0 / max(w, h))
        w, h = w * scale, h * scale
        return min(1600, math.ceil(w * h / 750.0))
    if provider == "gemini":
        if w <= 384 and h <= 384:
            return 258
        return 258 * math.ceil(w / 768.0) * math.ceil(h / 768.0)
    if provider in ("openai_compatible", "hf_local", "baseline"):
        return 64
    raise ValueError(f"estimate_image_tokens: unknown provider {provider!r}")


def encode_request_images(request: Request, preset: Preset) -> list[EncodedImage]:
    """A request's images encoded for a preset, in message order.

    Raises ValueError when a text-only preset is sent images (the runner must skip those
    samples), OSError/ValueError naming the file when an image cannot be read.
    """
    refs = request.images()
    if refs and preset.modality == "text":
        raise ValueError(
            f"model preset {preset.name!r} is text-only (modality 'text') but the request "
            f"has {len(refs)} image(s); the runner must skip image samples for it"
        )
    return [encode_image(ref, preset.max_image_edge) for ref in refs]
