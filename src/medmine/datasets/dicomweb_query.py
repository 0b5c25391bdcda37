"""Naming a DICOMweb archive and what to mine from it: the ``dicomweb+`` source and the query.

Query keys (``--query "Modality=CR&StudyDate=20240101-20240131"``):

=================== ======= ===============================================================
key                 level   meaning
=================== ======= ===============================================================
Modality            series  the series' modality (also ``ModalitiesInStudy`` for studies)
StudyDate           study   a date or ``YYYYMMDD-YYYYMMDD`` range
BodyPartExamined    series  e.g. CHEST
StudyDescription    study   words the description contains (matched by medmine)
SeriesDescription   series  words the description contains (matched by medmine)
=================== ======= ===============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

SCHEME_PREFIX = "dicomweb+"


TOKEN_ENV = "MEDMINE_DICOMWEB_TOKEN"


USER_ENV = "MEDMINE_DICOMWEB_USER"


PASSWORD_ENV = "MEDMINE_DICOMWEB_PASSWORD"


STUDY_KEYS = {"StudyDate": "StudyDate", "Modality": "ModalitiesInStudy"}


SERIES_KEYS = {"Modality": "Modality", "BodyPartExamined": "BodyPartExamined"}


CONTAINS_KEYS = {"StudyDescription": "study", "SeriesDescription": "series"}


QUERY_KEYS = tuple(sorted({*STUDY_KEYS, *SERIES_KEYS, *CONTAINS_KEYS}))


def is_dicomweb(source: str) -> bool:
    """True when a mining source names a DICOMweb archive (``dicomweb+http(s)://...``)."""
    return str(source).startswith(SCHEME_PREFIX)


def archive_url(source: str) -> str:
    """The archive's HTTP(S) DICOMweb root from a ``dicomweb+`` source, checked."""
    url = str(source)[len(SCHEME_PREFIX) :] if is_dicomweb(source) else str(source)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{source}: expected dicomweb+http://HOST:PORT/PATH or dicomweb+https://..., "
            "e.g. dicomweb+http://127.0.0.1:8042/dicom-web"
        )
    if parts.username or parts.password:
        raise ValueError(
            f"{parts.scheme}://{parts.hostname}: credentials do not belong in the URL; set "
            f"{USER_ENV} and {PASSWORD_ENV}, or {TOKEN_ENV}"
        )
    return url.rstrip("/")


@dataclass(frozen=True)
class ArchiveQuery:
    """Which studies, series and instances to mine, and how many."""

    study_filters: Mapping[str, str] = field(default_factory=dict)
    series_filters: Mapping[str, str] = field(default_factory=dict)
    contains: Mapping[str, str] = field(default_factory=dict)  # keyword -> lower-case words
    max_studies: int | None = None
    max_per_study: int | None = None
    sample: int | None = None
    seed: int = 0

    @classmethod
    def parse(
        cls,
        query: str | None,
        *,
        max_studies: int | None = None,
        max_per_study: int | None = None,
        sample: int | None = None,
        seed: int = 0,
    ) -> ArchiveQuery:
        """Read ``--query "Key=value&Key=value"``; unknown keys and empty values are errors."""
        study: dict[str, str] = {}
        series: dict[str, str] = {}
        contains: dict[str, str] = {}
        for key, value in parse_qsl(query or "", keep_blank_values=True, strict_parsing=False):
            if key not in QUERY_KEYS:
                raise ValueError(
                    f"--query: unknown key {key!r}; known keys: {', '.join(QUERY_KEYS)}"
                )
            if not value.strip():
                raise ValueError(f"--query: {key} has no value")
            if key in CONTAINS_KEYS:
                contains[key] = value.strip().strip("*").lower()
            if key in STUDY_KEYS:
                study[STUDY_KEYS[key]] = value.strip()
            if key in SERIES_KEYS:
                series[SERIES_KEYS[key]] = value.strip()
        for name, number in (
            ("--max-studies", max_studies),
            ("--max-per-study", max_per_study),
            ("--sample", sample),
        ):
            if number is not None and number < 1:
                raise ValueError(f"{name} must be >= 1, got {number}")
        return cls(study, series, contains, max_studies, max_per_study, sample, seed)

    def describe(self) -> dict[str, Any]:
        """The selection as recorded in the manifest (filters are the user's own words)."""
        return {
            "study_filters": dict(self.study_filters),
            "series_filters": dict(self.series_filters),
            "contains": dict(self.contains),
            "max_studies": self.max_studies,
            "max_per_study": self.max_per_study,
            "sample": self.sample,
            "seed": self.seed,
        }
