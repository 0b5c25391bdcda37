"""Check that a sample's images can be decoded before any model is asked about them.

Every model then sees the same set of readable samples, so a comparison is never skewed by one
model (that reads pixels) tripping over a file another model (that does not) answered anyway.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from medmine.core import ImageRef, Model

_CHECKED: dict[tuple[str, int, int], str | None] = {}
CHECK_MEMO_MAX = 262_144  # past this many files the oldest quarter is forgotten


def _is_dicom(path: Path) -> bool:
    if path.suffix.lower() == ".dcm":
        return True
    try:
        with path.open("rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def remember_checked(key: tuple[str, int, int], problem: str | None) -> None:
    """Seed :func:`image_problem`'s memo with a check made elsewhere (a worker process);
    ``key`` is (path as str, size, mtime_ns), the memo's own key."""
    _remember(key, problem)


def is_checked(key: tuple[str, int, int]) -> bool:
    """Whether this file version's check is memoised (``key`` as in :func:`remember_checked`)."""
    return key in _CHECKED


def _remember(key: tuple[str, int, int], problem: str | None) -> None:
    """Memoise one check, forgetting the oldest quarter when the memo is full."""
    if len(_CHECKED) >= CHECK_MEMO_MAX:
        for old in list(itertools.islice(_CHECKED, CHECK_MEMO_MAX // 4)):
            del _CHECKED[old]
    _CHECKED[key] = problem


def forget_checked(key: tuple[str, int, int]) -> None:
    """Drop one file's memoised check (a streamed job keeps the memo bounded)."""
    _CHECKED.pop(key, None)


def image_problem(ref: ImageRef) -> str | None:
    """Why an image cannot be used (missing, truncated, not an image), or None if it decodes.

    JPEGs are decoded in draft mode (reduced scale), which still reads the whole bitstream and
    so still catches truncation, at a fraction of the cost. Results are memoised per file
    version. DICOM files are left to the DICOM reader of the backend.
    """
    path = ref.path
    try:
        st = path.stat()
    except FileNotFoundError:
        return f"missing file: {path}"
    except OSError as exc:
        return f"cannot access {path}: {exc}"
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _CHECKED:
        return _CHECKED[key]
    problem: str | None = None
    if st.st_size == 0:
        problem = f"empty file: {path}"
    elif not _is_dicom(path):
        try:
            with Image.open(path) as im:
                im.draft(im.mode, (max(1, im.width // 8), max(1, im.height // 8)))
                im.load()
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            problem = f"corrupt or unreadable image {path}: {exc}"
    _remember(key, problem)
    return problem


def cannot_take(model: Model, n_images: int) -> str | None:
    """Why a model cannot be sent a request carrying ``n_images`` images (the sample is then
    "not run" for it, not failed), or None: a text-only model takes none."""
    if n_images and getattr(model, "modality", "vision") == "text":
        return "text-only model: these samples' requests carry images"
    return None


def too_many_images(model: Model, n_images: int) -> str | None:
    """Why a request carrying ``n_images`` images exceeds the model's per-request image limit
    (``max_images`` of the model or its preset: the provider's documented limit), or None.
    Such a request is not sent: medmine built a prompt (few-shot, multi-image VQA) the provider
    would reject, which is medmine's failure to flag, not the model's."""
    cap = getattr(model, "max_images", None)
    if cap is None:
        cap = getattr(getattr(model, "preset", None), "max_images", None)
    if cap is not None and n_images > int(cap):
        return (
            f"its request carries {n_images} images; {getattr(model, 'name', 'the model')} "
            f"takes at most {int(cap)} per request (max_images, the provider's documented "
            "limit): not sent (use fewer shots, or a model that takes more images)"
        )
    return None


class ImageChecks:
    """Image checks and content hashes memoised for one pass over a job's samples: a dataset
    often reuses files, and each look would otherwise stat the file again. Both depend on
    the file alone, so they are kept by path."""

    def __init__(self) -> None:
        self._problems: dict[Path, str | None] = {}
        self._hashes: dict[Path, str] = {}

    def problem(self, ref: ImageRef) -> str | None:
        """:func:`image_problem` of ``ref``, once per file and pass."""
        try:
            return self._problems[ref.path]
        except KeyError:
            found = self._problems[ref.path] = image_problem(ref)
            return found

    def content_hash(self, ref: ImageRef) -> str:
        """``ref.content_hash()``, once per file and pass."""
        try:
            return self._hashes[ref.path]
        except KeyError:
            digest = self._hashes[ref.path] = ref.content_hash()
            return digest
