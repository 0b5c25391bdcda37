"""Samples, their images and their targets (labels, masks, landmarks, boxes, reports)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A reference to one image file, loaded lazily.

    ``frame`` selects a frame of a multi-frame file (DICOM); ``size`` may be filled by a reader
    that already knows it (saves opening the file when a prompt states the image size).
    """

    path: Path
    size: tuple[int, int] | None = None  # (width, height)
    frame: int | None = None

    def content_hash(self) -> str:
        """SHA-256 of the file's bytes: the image's identity in cache keys."""
        return file_sha256(self.path)

    def dimensions(self) -> tuple[int, int]:
        """(width, height) in pixels, reading only the header when not known yet."""
        if self.size is not None:
            return self.size
        return image_size(self.path)


_HASH_CACHE: dict[tuple[str, int, int], str] = {}
# The memo lets every job of a run hash each image once; past this many files the oldest
# quarter is forgotten (about 350 bytes a file: it stays under ~90 MB on any archive).
HASH_MEMO_MAX = 262_144


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, memoised on (path, size, mtime) so a run hashes each image once."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    digest = _HASH_CACHE.get(key)
    if digest is None:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        _remember(key, digest)
    return digest


def _remember(key: tuple[str, int, int], digest: str) -> None:
    """Memoise one digest, forgetting the oldest quarter when the memo is full."""
    if len(_HASH_CACHE) >= HASH_MEMO_MAX:
        for old in list(itertools.islice(_HASH_CACHE, HASH_MEMO_MAX // 4)):
            del _HASH_CACHE[old]
    _HASH_CACHE[key] = digest


def remember_file_hash(key: tuple[str, int, int], digest: str) -> None:
    """Seed :func:`file_sha256`'s memo with a digest computed elsewhere (a worker process);
    ``key`` is (path as str, size, mtime_ns), the memo's own key."""
    _remember(key, digest)


def forget_file_hash(key: tuple[str, int, int]) -> None:
    """Drop one file's memoised digest (a streamed job keeps the memo bounded)."""
    _HASH_CACHE.pop(key, None)


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file; raises ValueError naming the file when unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{path}: not a readable image ({exc})") from exc


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in pixel coordinates of the original image (x right, y down).

    x1/y1 are exclusive pixel edges: a box covering pixel columns 10..19 has x0=10, x1=20.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    label: str | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True)
class LabelTarget:
    """Ground truth for classification: one label out of the dataset's label set.

    ``names`` maps a canonical label to the words a reader (or a model) may use for it: its
    display name first, then synonyms and abbreviations. Readers share one mapping per dataset.
    """

    label: str
    labels: tuple[str, ...]
    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MaskTarget:
    """Ground truth for segmentation: a mask file, read with an explicit value rule.

    ``value_map`` maps raw grey values to class ids; ``threshold`` binarises (value >= threshold
    is foreground) for JPEG-compressed masks; ``foreground`` selects which class id is scored.
    """

    path: Path
    structure: str = "lesion"
    value_map: Mapping[int, int] | None = None
    threshold: int | None = None
    foreground: int = 1


@dataclass(frozen=True, slots=True)
class LandmarkTarget:
    """Ground truth for anatomical localization: a named structure as a box and/or a point."""

    structure: str
    box: Box | None = None
    point: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class BoxesTarget:
    """Ground truth for detection: every lesion of the listed classes, each a labelled box."""

    boxes: tuple[Box, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ObservationsTarget:
    """Ground truth for diagnosis: CheXpert observations (1 pos, 0 neg, -1 uncertain, None)."""

    values: Mapping[str, float | None]


@dataclass(frozen=True, slots=True)
class ReportTarget:
    """Ground truth for report generation: the reference FINDINGS and/or IMPRESSION."""

    findings: str = ""
    impression: str = ""


Target = LabelTarget | MaskTarget | LandmarkTarget | BoxesTarget | ObservationsTarget | ReportTarget


@dataclass(frozen=True, slots=True)
class Sample:
    """One case: its inputs (images and/or report text), its targets per task kind, metadata."""

    id: str
    dataset: str
    images: tuple[ImageRef, ...] = ()
    text: str | None = None
    targets: Mapping[str, Target] = field(default_factory=dict)
    split: str = "test"
    patient_id: str | None = None
    category: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def target(self, kind: str) -> Target | None:
        """The target for a task kind, or None when this sample cannot serve it."""
        return self.targets.get(kind)


@dataclass(frozen=True, slots=True)
class BadSample:
    """A case a reader could not turn into a Sample: recorded with the file and the reason."""

    id: str
    dataset: str
    path: str
    reason: str
