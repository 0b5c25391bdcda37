"""Where an item's image or report text is: the mined folder, or the evaluated dataset.

A mining run records the mined folder (manifest ``source``): a sample id is the file's path
relative to it, and a DICOM file's pixels were rendered to ``RUN_DIR/pixels/<id>.png``. An
evaluation run records its suite: each dataset is loaded again from the recipe (the way the
HTML report's gallery does). What cannot be found is reported with the reason, never guessed.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medmine.core import LabelTarget, Sample

BROWSER_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


@dataclass
class Media:
    """An item's inputs: an image file and/or report text, or why they are missing."""

    image: Path | None = None
    text: str | None = None
    labels: tuple[str, ...] = ()
    missing: str | None = None


@dataclass
class MediaFinder:
    """Finds the inputs of a run's samples (loading an evaluation dataset once)."""

    run_dir: Path
    manifest: Mapping[str, Any]
    data_root: Path | None = None
    _loaded: dict[str, dict[str, Sample] | str] = field(default_factory=dict)

    def find(self, dataset: str, sample_id: str) -> Media:
        """The image path and/or text of one sample, or the reason they cannot be found."""
        if self.manifest.get("command") == "mine":
            return self._mined(sample_id)
        samples = self._dataset(dataset)
        if isinstance(samples, str):
            return Media(missing=samples)
        sample = samples.get(sample_id)
        if sample is None:
            return Media(missing=f"sample {sample_id!r} not found in dataset {dataset!r}")
        labels: tuple[str, ...] = ()
        for target in sample.targets.values():
            if isinstance(target, LabelTarget):
                labels = tuple(target.labels)
        image = sample.images[0].path if sample.images else None
        return Media(image=image, text=sample.text, labels=labels)

    def _mined(self, sample_id: str) -> Media:
        named = str(self.manifest.get("source", ""))
        if named.startswith("mine:"):
            return Media(
                missing=f"this mining run records its source only as {named!r} (report mining "
                "does not keep the file's path), so the input cannot be shown"
            )
        source = Path(named)
        if not source.exists():
            return Media(missing=f"the mined source {str(source)!r} is not found on this machine")
        rendered = self.run_dir / "pixels" / f"{sample_id}.png"
        if rendered.is_file():
            return Media(image=rendered)
        path = source if source.is_file() else source / sample_id
        if not path.is_file():
            return Media(missing=f"{path}: file not found (moved or deleted since mining?)")
        return Media(image=path)

    def _dataset(self, dataset: str) -> dict[str, Sample] | str:
        if dataset not in self._loaded:
            self._loaded[dataset] = self._load(dataset)
        return self._loaded[dataset]

    def _load(self, dataset: str) -> dict[str, Sample] | str:
        from medmine.datasets.sources import load_for_suite
        from medmine.run.suite import DatasetSpec

        suite = self.manifest.get("suite") or {}
        specs = [d for d in suite.get("datasets", []) if d.get("name") == dataset]
        if not specs:
            return f"the run's recipe does not describe dataset {dataset!r}"
        try:
            spec = DatasetSpec(**{**specs[0], "limit": None, "per_class": None})
            loaded = load_for_suite(spec, self.data_root, int(suite.get("seed", 0)))
        except Exception as exc:  # a moved dataset must not stop the review of the others
            return f"dataset {dataset!r} could not be loaded ({type(exc).__name__}: {exc})"
        return {s.id: s for s in [*loaded.test, *loaded.support]}


def browser_image(path: Path) -> tuple[bytes, str]:
    """The image's bytes at full resolution in a type browsers show (PNG/JPEG kept as they are;
    TIFF, BMP and 16-bit greys converted to 8-bit PNG without resizing)."""
    media_type = BROWSER_TYPES.get(path.suffix.lower())
    if media_type is not None:
        return path.read_bytes(), media_type
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        if im.mode in ("I", "I;16", "I;16B", "F"):
            arr = np.asarray(im, dtype=np.float64)
            lo, hi = float(arr.min()), float(arr.max())
            im = Image.fromarray(((arr - lo) / (hi - lo or 1.0) * 255).astype(np.uint8))
        rgb = im.convert("RGB")
    buf = io.BytesIO()
    rgb.save(buf, format="PNG")
    return buf.getvalue(), "image/png"


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file."""
    from PIL import Image

    with Image.open(path) as im:
        return im.size
