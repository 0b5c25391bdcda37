"""Mining unlabelled images: walk a folder or DICOM tree and turn each file into a Sample.

Inputs: raster images (PNG, JPEG, TIFF, BMP, by suffix) and DICOM files (a ``.dcm`` suffix or
the ``DICM`` magic at byte 128, any name, any depth). Hidden files and folders (a leading dot)
and the output folder are ignored; every other file is either a Sample or a :class:`Skipped`
entry with the reason (not an image, corrupt, unreadable DICOM, burned-in annotation).

**Mining targets carry no truth.** A mining Sample has ``meta["mining"] = True`` and a
truth-free target that only carries the question, so the task can build its prompt:

============== ===================================================================
task           target (the question only)
============== ===================================================================
classification ``LabelTarget(label="", labels=<--labels>)``: empty label = unknown
segmentation   ``MaskTarget(path=Path(""), structure=<--target>)``: no mask file
localization   ``LandmarkTarget(structure=<--target>)``: no box, no point
detection      ``BoxesTarget(boxes=(), labels=<--labels>)``: no ground-truth boxes
diagnosis      ``ObservationsTarget(values={})``: no observations
report         ``ReportTarget()``: no reference report
============== ===================================================================

Tasks are wrapped in :class:`MiningTask`, which asks and parses like the wrapped task but
whose ``score`` refuses (there is nothing to score against): mining writes answers, never
metrics.

**DICOM.** Only the header is read to decide (size, frames, BurnedInAnnotation, UIDs); the
first frame of each file (multi-frame files: frame 0 only, recorded in ``meta["frames"]``) is
rendered from pixels only by :func:`medmine.models.images.dicom_to_image` into a header-free
PNG under ``<out>/pixels/<relative path>.png``, and that PNG is what every model (API or
baseline) is shown. No header field ever reaches a model. Files whose header says
``BurnedInAnnotation = YES`` are skipped unless ``allow_burned_in`` (text burned into the
pixels may identify the patient). The UIDs are kept apart from the Sample and written to the
outputs only when the user asks (``--include-uids``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from medmine.core import (
    BoxesTarget,
    ImagePart,
    ImageRef,
    Intent,
    LabelTarget,
    LandmarkTarget,
    MaskTarget,
    Message,
    ObservationsTarget,
    Prediction,
    ReportTarget,
    Request,
    Response,
    Sample,
    Target,
    Task,
    TaskKind,
    TaskScores,
    TextPart,
)
from medmine.mine.ids import FileIds
from medmine.mine.tasks_list import MINING_TASKS
from medmine.models.images import dicom_to_image, is_dicom
from medmine.run.validate import image_problem

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})
PIXELS_DIR = "pixels"
UID_FIELDS = (
    ("study_uid", "StudyInstanceUID"),
    ("series_uid", "SeriesInstanceUID"),
    ("sop_uid", "SOPInstanceUID"),
)


# ------------------------------------------------------------------------------ the question
@dataclass(frozen=True)
class MiningQuestion:
    """What to ask of every file: the task and its option (labels or a target structure)."""

    task: str  # a command-line name: a key of MINING_TASKS
    labels: tuple[str, ...] = ()
    structure: str | None = None

    def __post_init__(self) -> None:
        """Check that the task exists and has the option it needs (clear errors, no default)."""
        if self.task not in MINING_TASKS:
            raise ValueError(f"--task {self.task!r}: expected one of {', '.join(MINING_TASKS)}")
        if self.task == "classification" and len(self.labels) < 2:
            raise ValueError(
                "--task classification needs --labels with at least two labels "
                "(e.g. --labels melanoma,nevus): the model chooses one of them"
            )
        if self.task == "detection" and not self.labels:
            raise ValueError(
                "--task detection needs --labels naming the lesion classes to detect "
                "(e.g. --labels polyp)"
            )
        if self.task in ("segmentation", "localization") and not (self.structure or "").strip():
            raise ValueError(
                f"--task {self.task} needs --target naming the structure "
                "(e.g. --target lesion, --target 'optic disc')"
            )

    @property
    def task_name(self) -> str:
        """The registered task name (``report`` -> ``report_generation``)."""
        return MINING_TASKS[self.task]

    def target(self) -> Target:
        """The truth-free target carrying this question (see the module doc)."""
        if self.task == "classification":
            return LabelTarget(label="", labels=self.labels)
        if self.task == "segmentation":
            return MaskTarget(path=Path(""), structure=str(self.structure))
        if self.task == "localization":
            return LandmarkTarget(structure=str(self.structure))
        if self.task == "detection":
            return BoxesTarget(boxes=(), labels=self.labels)
        if self.task == "diagnosis":
            return ObservationsTarget(values={})
        return ReportTarget()


def parse_labels(text: str | None) -> tuple[str, ...]:
    """``"a, b,c"`` -> ``("a", "b", "c")``; duplicates and empty items are errors."""
    if text is None:
        return ()
    items = [t.strip() for t in text.split(",")]
    if any(not t for t in items):
        raise ValueError(f"--labels {text!r}: empty label (write labels as a,b,c)")
    lowered = [t.lower() for t in items]
    dupes = sorted({t for t in lowered if lowered.count(t) > 1})
    if dupes:
        raise ValueError(f"--labels {text!r}: repeated label(s) {', '.join(dupes)}")
    return tuple(items)


# ------------------------------------------------------------------------------ the task
@dataclass
class MiningTask:
    """A task as mining uses it: same prompt and parser, no scoring (no truth exists)."""

    inner: Task

    @property
    def name(self) -> str:
        """The wrapped task's name (results are stored under it)."""
        return self.inner.name

    @property
    def kind(self) -> TaskKind:
        """The wrapped task's kind."""
        return self.inner.kind

    @property
    def version(self) -> str:
        """The wrapped task's version (the prompt and parser are the same)."""
        return self.inner.version

    def applies_to(self, sample: Sample) -> bool:
        """A mining sample with an image and this task's (truth-free) question."""
        return (
            bool(sample.meta.get("mining"))
            and bool(sample.images)
            and sample.target(self.inner.kind) is not None
        )

    def request(self, sample: Sample) -> Request:
        """The wrapped task's request; report generation is built here (no reference exists).

        ``ReportGenerationTask.request`` refuses a sample without a reference section, so the
        same message (image(s), then the task's own prompt) is assembled from its ``prompt``.
        """
        inner = self.inner
        if inner.name != "report_generation":
            return inner.request(sample)
        prompt = inner.prompt(sample)  # type: ignore[attr-defined]
        parts = (*(ImagePart(im) for im in sample.images), TextPart(prompt))
        return Request(
            messages=(Message("user", parts),),
            intent=Intent(
                task=inner.name,
                sample_id=sample.id,
                structure=getattr(inner, "section", None),
                images=sample.images,
            ),
            settings=inner.settings,  # type: ignore[attr-defined]
        )

    def parse(self, response: Response, sample: Sample) -> Prediction:
        """The wrapped task's parser."""
        return self.inner.parse(response, sample)

    def score(self, predictions: Sequence[Prediction], samples: Sequence[Sample]) -> TaskScores:
        """Refuse: mining samples carry no truth, so there is nothing to score against."""
        raise ValueError("mining samples carry no ground truth: mined answers are not scored")

    def template_hash(self) -> str:
        """The wrapped task's template hash."""
        return self.inner.template_hash()


# ------------------------------------------------------------------------------ walking
@dataclass(frozen=True)
class FoundFile:
    """One file under the mined root: its path, its relative id and what it looks like."""

    path: Path
    rel: str  # POSIX relative path: the file's identity in every output
    kind: str  # "image", "dicom" or "other"


@dataclass(frozen=True)
class Skipped:
    """A file that is not mined, with the reason (written to skipped.csv and results.jsonl)."""

    rel: str
    reason: str


@dataclass
class MiningInputs:
    """The samples to ask about, the files skipped, and the DICOM UIDs kept aside."""

    samples: list[Sample] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    uids: dict[str, dict[str, str]] = field(default_factory=dict)
    n_files: int = 0


def walk_files(root: Path, exclude: Sequence[Path] = ()) -> Iterator[FoundFile]:
    """Every non-hidden file under ``root`` (any depth), classified by suffix/magic, lazily.

    A generator over ``os.scandir``: only the folder being read is listed at a time (its
    entries sorted by name, so the order is the same on every run and every file system),
    and each file is yielded as soon as it is reached, so an archive of millions of files
    is never held in memory. A file ``root`` itself is yielded alone (its id is its name).
    Folders in ``exclude`` (the output folder when it lies inside the root) are not entered.
    """
    root = Path(root)
    if root.is_file():
        yield FoundFile(root, root.name, _kind(root))
        return
    if not root.is_dir():
        raise ValueError(f"{root}: not found (expected a folder of images or a DICOM tree)")
    excluded = {os.path.realpath(e) for e in exclude}

    def visit(folder: str, prefix: str) -> Iterator[FoundFile]:
        with os.scandir(folder) as listing:
            entries = sorted(
                ((e.name, e.path, e.is_dir(), e.is_file()) for e in listing),
                key=lambda item: item[0],
            )
        for name, path, is_dir, is_file in entries:
            if name.startswith("."):
                continue
            if is_dir:
                real = os.path.realpath(path)
                if not any(real == e or real.startswith(e + os.sep) for e in excluded):
                    yield from visit(path, f"{prefix}{name}/")
            elif is_file:
                found = Path(path)
                yield FoundFile(found, f"{prefix}{name}", _kind(found))

    yield from visit(str(root), "")


def _kind(path: Path) -> str:
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return "image"
    if is_dicom(path):
        return "dicom"
    return "other"


def has_images(root: Path, exclude: Sequence[Path] = ()) -> bool:
    """True when any file under ``root`` is an image or DICOM file (by suffix or magic)."""
    return any(f.kind != "other" for f in walk_files(root, exclude))


# ------------------------------------------------------------------------------ samples
def build_inputs(
    root: Path,
    question: MiningQuestion,
    out_dir: Path,
    *,
    dataset: str,
    allow_burned_in: bool = False,
    include_uids: bool = False,
    ids: FileIds | None = None,
) -> MiningInputs:
    """One mining Sample per readable image or DICOM file under ``root``; the rest skipped.

    ``ids`` names each file (default: its relative path); with anonymized ids no path
    component reaches a sample, a skip reason or a rendered PNG's path."""
    root = Path(root)
    out_dir = Path(out_dir)
    ids = ids or FileIds(out_dir, anonymize=False)
    target = question.target()
    inputs = MiningInputs()
    for walked in walk_files(root, exclude=[out_dir]):
        found = dataclasses.replace(walked, rel=ids.id_for(walked.rel))
        inputs.n_files += 1
        if found.kind == "other":
            inputs.skipped.append(
                Skipped(found.rel, "not an image (no PNG/JPEG/TIFF/BMP suffix, no DICOM magic)")
            )
            continue
        try:
            if found.kind == "image":
                ref, meta = _image_ref(found)
            else:
                ref, meta, uids = _dicom_ref(found, out_dir, allow_burned_in)
                if include_uids:
                    inputs.uids[found.rel] = uids
        except ValueError as exc:
            inputs.skipped.append(Skipped(found.rel, _scrub(str(exc), walked, found.rel)))
            continue
        inputs.samples.append(
            Sample(
                id=found.rel,
                dataset=dataset,
                images=(ref,),
                targets={question.task_name: target},
                meta={"mining": True, "source": found.rel, **meta},
            )
        )
    return inputs


def _scrub(message: str, walked: FoundFile, ident: str) -> str:
    """A message with the file's absolute and relative paths replaced by its id."""
    return message.replace(str(walked.path), ident).replace(walked.rel, ident)


def _image_ref(found: FoundFile) -> tuple[ImageRef, dict[str, object]]:
    """A checked raster image with its size read from the header."""
    problem = image_problem(ImageRef(found.path))
    if problem is not None:
        raise ValueError(problem.replace(str(found.path), found.rel))
    from medmine.core import image_size

    try:
        size = image_size(found.path)
    except ValueError as exc:
        raise ValueError(str(exc).replace(str(found.path), found.rel)) from None
    return ImageRef(found.path, size=size), {"kind": "image"}


def _dicom_ref(
    found: FoundFile, out_dir: Path, allow_burned_in: bool
) -> tuple[ImageRef, dict[str, object], dict[str, str]]:
    """The header-free PNG of a DICOM file's first frame (rendered once, reused after)."""
    try:
        import pydicom
    except ImportError as exc:  # pragma: no cover - pydicom is a dependency of the tests
        raise ValueError("reading DICOM needs pydicom: pip install 'medmine[dicom]'") from exc
    try:
        ds = pydicom.dcmread(found.path, stop_before_pixels=True)
        rows, cols = int(ds.Rows), int(ds.Columns)
    except Exception as exc:
        raise ValueError(
            f"not a readable DICOM image ({type(exc).__name__}: {exc})".replace(
                str(found.path), found.rel
            )
        ) from None
    burned = str(getattr(ds, "BurnedInAnnotation", "") or "").strip().upper()
    if burned == "YES" and not allow_burned_in:
        raise ValueError(
            "DICOM header says BurnedInAnnotation = YES (text in the pixels may identify the "
            "patient); pass --allow-burned-in to mine it anyway"
        )
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    uids = {key: str(getattr(ds, tag, "") or "") for key, tag in UID_FIELDS}
    png = out_dir / PIXELS_DIR / f"{found.rel}.png"
    source_mtime = found.path.stat().st_mtime_ns
    if not png.is_file() or png.stat().st_mtime_ns < source_mtime:
        try:
            image = dicom_to_image(found.path, 0)
        except ValueError as exc:
            raise ValueError(str(exc).replace(str(found.path), found.rel)) from None
        png.parent.mkdir(parents=True, exist_ok=True)
        tmp = png.with_name(png.name + ".tmp")
        image.save(tmp, format="PNG")
        tmp.replace(png)
    meta: dict[str, object] = {"kind": "dicom", "frames": frames}
    if frames > 1:
        meta["note"] = f"multi-frame DICOM ({frames} frames): frame 0 mined"
    return ImageRef(png, size=(cols, rows)), meta, uids
