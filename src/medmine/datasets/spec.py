"""How a suite names one dataset: the catalog name, where it lives and how to sample it.

It lives with the datasets (not the suites) because the dataset loaders read it, and the
suites, one layer up, embed it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ARCHIVE_PREFIX = "dicomweb+"

DEMO_CATEGORIES = ("dermatology", "radiology", "dentistry", "ophthalmology", "endoscopy", "reports")


class DatasetSpec(BaseModel):
    """One dataset of a suite: a catalog name, where it lives, and how to sample it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    # A folder, or a DICOMweb archive (``dicomweb+http://HOST:PORT/dicom-web``, kept as text).
    root: Path | str | None = None
    split: str = "test"
    support_split: str | None = "train"
    limit: int | None = Field(default=None, ge=1)
    per_class: int | None = Field(default=None, ge=1)
    # Only for an archive root: the QIDO query and the truth table keyed by UID.
    query: str | None = None
    truth: Path | None = None

    @field_validator("root", mode="before")
    @classmethod
    def _folder_or_archive(cls, value: object) -> object:
        """An archive URL stays text; anything else is a folder path."""
        if isinstance(value, str) and not value.startswith(ARCHIVE_PREFIX):
            return Path(value)
        return value

    @model_validator(mode="after")
    def _archive_options(self) -> DatasetSpec:
        """``query`` and ``truth`` belong to an archive root, and an archive needs ``truth``."""
        if self.is_archive and self.truth is None:
            raise ValueError(
                f"dataset {self.name!r}: an archive root has no ground truth; add `truth:` (a CSV "
                "with a label column and sop_uid, series_uid or study_uid columns)"
            )
        if not self.is_archive and (self.query is not None or self.truth is not None):
            raise ValueError(
                f"dataset {self.name!r}: `query` and `truth` apply only to a DICOMweb root "
                "(root: dicomweb+http://HOST:PORT/dicom-web)"
            )
        return self

    @property
    def is_archive(self) -> bool:
        """Whether the root is a DICOMweb archive rather than a folder."""
        return isinstance(self.root, str)

    @property
    def folder(self) -> Path | None:
        """The root as a folder (None for an archive root or no root)."""
        return self.root if isinstance(self.root, Path) else None
