"""What the VQA readers share: the VQA target, answer-type rules, modality → category, images.

A VQA sample is one question about one or several images. Its :class:`VqaTarget` keeps the
question, the reference answer, the options of a multiple-choice question and the dataset's
own annotations (answer type, question type, modality) that the scorer breaks results down by.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from medmine.core import ImageRef, Sample, TaskKind

#: How a question is scored (see :mod:`medmine.tasks.vqa_score`).
CLOSED = "closed"  # a closed question (yes/no, or a choice named in the question)
CHOICE = "choice"  # multiple choice with lettered options
OPEN = "open"  # free answer
ANSWER_TYPES = (CLOSED, CHOICE, OPEN)

YES_NO = frozenset({"yes", "no"})


@dataclass(frozen=True, slots=True)
class VqaTarget:
    """Ground truth of one visual question.

    ``answer`` is the reference answer text (for a multiple-choice question, the text of the
    correct option); ``letter`` is the correct option's letter; ``options`` are
    (letter, text) pairs in the order shown to the model. ``question_type`` and ``modality``
    are the dataset's own annotations, kept verbatim for the breakdowns.
    """

    question: str
    answer: str
    answer_type: str
    options: tuple[tuple[str, str], ...] = ()
    letter: str | None = None
    question_type: str = ""
    modality: str = ""
    language: str = "en"

    @property
    def is_yes_no(self) -> bool:
        """True for a closed question whose reference answer is yes or no."""
        return self.answer_type == CLOSED and self.answer.strip().lower().rstrip(".") in YES_NO

    @property
    def rule(self) -> str:
        """The scoring rule: yes_no, closed (named alternative), choice or open."""
        if self.answer_type == CHOICE:
            return CHOICE
        if self.is_yes_no:
            return "yes_no"
        return self.answer_type


# Modality words (lower case, as the datasets write them) → the study's categories.
_CATEGORY_WORDS: tuple[tuple[str, str], ...] = (
    ("fundus", "ophthalmology"),
    ("oct", "ophthalmology"),
    ("optical coherence", "ophthalmology"),
    ("retina", "ophthalmology"),
    ("ophthalm", "ophthalmology"),
    ("dermoscop", "dermatology"),
    ("dermatolog", "dermatology"),
    ("skin", "dermatology"),
    ("endoscop", "endoscopy"),
    ("colonoscop", "endoscopy"),
    ("dental", "dentistry"),
    ("panoramic", "dentistry"),
    ("dentist", "dentistry"),
    ("microscop", "pathology"),
    ("patholog", "pathology"),
    ("histolog", "pathology"),
    ("histopatholog", "pathology"),
    ("cytolog", "pathology"),
    ("x-ray", "radiology"),
    ("x_ray", "radiology"),
    ("xray", "radiology"),
    ("radiograph", "radiology"),
    ("ct", "radiology"),
    ("computed tomography", "radiology"),
    ("mr", "radiology"),
    ("mri", "radiology"),
    ("magnetic resonance", "radiology"),
    ("ultrasound", "radiology"),
    ("pet", "radiology"),
    ("mammograph", "radiology"),
)


def category_for(modality: str, default: str) -> str:
    """The study category a modality annotation belongs to, else ``default`` (e.g. mixed)."""
    text = modality.strip().lower()
    if not text:
        return default
    words = set(re.findall(r"[a-z]+", text))
    for key, category in _CATEGORY_WORDS:
        if (" " in key or "-" in key or "_" in key) and key in text:
            return category
        if len(key) <= 3 and key in words:
            return category
        if len(key) > 3 and key in text:
            return category
    return default


def closed_or_open(raw: str, answer: str) -> str:
    """The answer type from a dataset's CLOSED/OPEN field (empty: yes/no answers are closed)."""
    value = raw.strip().upper()
    if value == "CLOSED":
        return CLOSED
    if value == "OPEN":
        return OPEN
    return CLOSED if answer.strip().lower().rstrip(".") in YES_NO else OPEN


def letters_options(options: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """(letter, text) pairs for the non-empty options, in letter order."""
    out = []
    for letter in sorted(options):
        text = str(options[letter] if options[letter] is not None else "").strip()
        if text and text.lower() != "nan":
            out.append((letter.strip().upper(), text))
    return tuple(out)


def strip_letter_prefix(text: str, letter: str) -> str:
    """Option text without a leading ``A:`` / ``A.`` / ``(A)`` that some releases keep."""
    return re.sub(rf"^\s*\(?{re.escape(letter)}\s*[:.)]\s*", "", text.strip(), flags=re.I)


def vqa_sample(
    *,
    sid: str,
    dataset: str,
    images: Iterable[Path],
    target: VqaTarget,
    split: str,
    category: str,
    patient_id: str | None = None,
    meta: Mapping[str, object] | None = None,
) -> Sample:
    """A VQA sample with its images, target and metadata."""
    return Sample(
        id=sid,
        dataset=dataset,
        images=tuple(ImageRef(p) for p in images),
        targets={TaskKind.VQA: target},
        split=split,
        patient_id=patient_id,
        category=category,
        meta=dict(meta or {}),
    )


def decoded_image_dir(dataset: str) -> Path:
    """Where images that a release embeds (base64 in a TSV, bytes in parquet) are written as
    files: ``$MEDMINE_CACHE_DIR/decoded/<dataset>`` (else the XDG cache), once per content."""
    env = os.environ.get("MEDMINE_CACHE_DIR")
    if env:
        base = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "medmine"
    return base / "decoded" / dataset


def write_embedded_image(data: bytes, dataset: str) -> Path:
    """Write embedded image bytes to the decoded-image cache (named by content hash)."""
    if not data:
        raise ValueError("empty image bytes")
    digest = hashlib.sha256(data).hexdigest()[:24]
    ext = ".png" if data[:8] == b"\x89PNG\r\n\x1a\n" else ".jpg"
    folder = decoded_image_dir(dataset)
    path = folder / f"{digest}{ext}"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def decode_base64_image(text: str, dataset: str) -> Path:
    """Decode a base64 image cell (VLMEvalKit TSV convention) to a cached file."""
    try:
        data = base64.b64decode(text.strip(), validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"image cell is not base64 ({exc})") from exc
    return write_embedded_image(data, dataset)
