"""A hospital archive over DICOMweb as a mining source: query, select, fetch pixels only.

``dicomweb+http://HOST:PORT/dicom-web`` (or ``dicomweb+https://...``) names the archive's
DICOMweb root. Nothing is ever written to the archive. The steps:

1. **Search (QIDO-RS)**, paging ``--page-size`` results at a time so an archive of any size is
   streamed, never listed in memory: studies matching the study-level filters, then each
   study's series matching the series-level filters, then each series' instances with the
   attributes needed to decide (size, frames, ``BurnedInAnnotation``, the pixel module).
2. **Select**: ``--max-studies``, ``--max-per-study`` (instances), ``--sample N`` (a seeded
   random sample of N studies, drawn by reservoir sampling over the stream), and
   ``description contains`` filters, which are matched here, case-insensitively, because
   archives differ in how they treat wildcards (Orthanc ignores a percent-encoded ``*``).
3. **Fetch (WADO-RS)** only what is asked: frame 1 of each instance, as uncompressed pixel
   data (``application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1``: the archive
   decodes its compressed syntaxes), rendered by medmine to a header-free PNG with the same
   rules as a local DICOM file. The header never leaves the search results held in memory:
   no header value reaches a model or an output.

Query keys (``--query``) and the source URL are read by :mod:`medmine.datasets.dicomweb_query`.

Credentials come from the environment only: ``MEDMINE_DICOMWEB_TOKEN`` (a bearer token) or
``MEDMINE_DICOMWEB_USER`` and ``MEDMINE_DICOMWEB_PASSWORD`` (basic auth). Their values are
redacted from every message medmine prints or stores.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from medmine.core.secrets import redact
from medmine.datasets.dicomweb_query import (
    PASSWORD_ENV,
    TOKEN_ENV,
    USER_ENV,
    ArchiveQuery,
    archive_url,
    is_dicomweb,
)

PAGE_SIZE = 100
UNCOMPRESSED = "1.2.840.10008.1.2.1"

__all__ = [
    "INSTANCE_FIELDS",
    "PAGE_SIZE",
    "PIXEL_KEYWORDS",
    "UNCOMPRESSED",
    "ArchiveInstance",
    "ArchiveQuery",
    "DicomWebArchive",
    "MatchCounts",
    "archive_url",
    "frame_dataset",
    "is_dicomweb",
]


# Attributes of an instance medmine reads from the search results (never a patient's).
PIXEL_KEYWORDS = (
    "Rows",
    "Columns",
    "NumberOfFrames",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "PlanarConfiguration",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "RescaleSlope",
    "RescaleIntercept",
    "RescaleType",
    "WindowCenter",
    "WindowWidth",
    "VOILUTFunction",
)
INSTANCE_FIELDS = ("BurnedInAnnotation", "SOPClassUID", *PIXEL_KEYWORDS)
# Lookup tables a search does not return (Orthanc's QIDO omits sequences): read from the
# instance's metadata (WADO-RS), their LUT Data through its bulk data URI.
LUT_SEQUENCES = ("ModalityLUTSequence", "VOILUTSequence")


# ------------------------------------------------------------------------------ instances
@dataclass(frozen=True)
class ArchiveInstance:
    """One instance selected for mining: its UIDs and what its pixels look like.

    ``pixel_module`` holds only the image pixel attributes (no patient or study values).
    """

    study_uid: str
    series_uid: str
    sop_uid: str
    rows: int
    cols: int
    frames: int
    burned_in: bool
    pixel_module: Mapping[str, Any]
    # The study's PatientID: held in memory to group samples by patient, never output or shown.
    patient: str = field(default="", repr=False)

    @property
    def uids(self) -> dict[str, str]:
        """The UIDs under the output column names used for local DICOM."""
        return {"study_uid": self.study_uid, "series_uid": self.series_uid, "sop_uid": self.sop_uid}


@dataclass
class MatchCounts:
    """What a query matches: studies, series and instances (the dry run prints these)."""

    studies: int = 0
    series: int = 0
    instances: int = 0
    burned_in: int = 0


def _value(item: Mapping[str, Any], keyword: str) -> Any:
    """The first value of an attribute in a DICOM JSON object, by keyword (None if absent)."""
    from pydicom.datadict import tag_for_keyword

    tag = tag_for_keyword(keyword)
    if tag is None:  # pragma: no cover - keywords here are all in the dictionary
        return None
    element = item.get(f"{tag:08X}")
    if not element:
        return None
    values = element.get("Value")
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def _contains(item: Mapping[str, Any], keyword: str, words: str) -> bool:
    text = _value(item, keyword)
    return words in str(text or "").lower()


class DicomWebArchive:
    """A read-only DICOMweb client over one archive (dicomweb-client underneath)."""

    def __init__(self, source: str, *, page_size: int = PAGE_SIZE, timeout_s: float = 60.0):
        """Connect lazily to the archive named by ``source``, credentials from the env."""
        self.url = archive_url(source)
        self.page_size = page_size
        self.timeout_s = timeout_s
        self.fetched = 0  # instances fetched in this process (the resume test counts them)
        self._client: Any = None

    # ------------------------------------------------------------------ plumbing
    @property
    def client(self) -> Any:
        """The dicomweb-client instance, built on first use."""
        if self._client is None:
            try:
                import requests
                from dicomweb_client.api import DICOMwebClient
            except ImportError as exc:
                raise ImportError(
                    "mining a DICOMweb archive needs dicomweb-client: "
                    "pip install 'medmine[dicomweb]'"
                ) from exc
            session = requests.Session()
            token = os.environ.get(TOKEN_ENV)
            user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
            if token:
                session.headers["Authorization"] = f"Bearer {token}"
            elif user and password:
                session.auth = (user, password)
            elif user or password:
                raise ValueError(f"set both {USER_ENV} and {PASSWORD_ENV} (or {TOKEN_ENV})")
            self._client = DICOMwebClient(self.url, session=session)
        return self._client

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the client; turn HTTP and connection errors into clear ValueErrors."""
        import requests

        try:
            return fn(*args, **kwargs)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            hint = ""
            if status in (401, 403):
                hint = f" (check {USER_ENV}/{PASSWORD_ENV} or {TOKEN_ENV})"
            raise ValueError(redact(f"{self.url}: {what} failed: HTTP {status}{hint}")) from None
        except requests.RequestException as exc:
            raise ValueError(
                redact(f"{self.url}: {what} failed: {type(exc).__name__}: {exc}")
            ) from None

    def _paged(self, what: str, search: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every result of a QIDO search, ``page_size`` at a time."""
        offset = 0
        while True:
            page = self._call(what, search, limit=self.page_size, offset=offset, **kwargs)
            yield from page
            if len(page) < self.page_size:
                return
            offset += len(page)

    # ------------------------------------------------------------------ search
    def studies(self, query: ArchiveQuery) -> Iterator[dict[str, Any]]:
        """Matching studies, in archive order, sampled and capped as the query says."""
        words = query.contains.get("StudyDescription")
        stream = (
            s
            for s in self._paged(
                "study search",
                self.client.search_for_studies,
                search_filters=dict(query.study_filters),
                fields=["StudyDescription", "PatientID"],
            )
            if words is None or _contains(s, "StudyDescription", words)
        )
        if query.sample is not None:
            yield from _reservoir(stream, query.sample, query.seed)
            return
        for n, study in enumerate(stream):
            if query.max_studies is not None and n >= query.max_studies:
                return
            yield study

    def series(self, study_uid: str, query: ArchiveQuery) -> Iterator[dict[str, Any]]:
        """A study's series matching the series-level filters."""
        words = query.contains.get("SeriesDescription")
        for s in self._paged(
            "series search",
            self.client.search_for_series,
            study_instance_uid=study_uid,
            search_filters=dict(query.series_filters),
            fields=["SeriesDescription", "Modality", "BodyPartExamined"],
        ):
            if words is None or _contains(s, "SeriesDescription", words):
                yield s

    def instances(
        self, query: ArchiveQuery, counts: MatchCounts | None = None
    ) -> Iterator[ArchiveInstance]:
        """Every selected instance (streamed), counting what matched into ``counts``."""
        counts = counts if counts is not None else MatchCounts()
        for study in self.studies(query):
            study_uid = str(_value(study, "StudyInstanceUID"))
            patient = str(_value(study, "PatientID") or "")
            counts.studies += 1
            taken = 0
            for series in self.series(study_uid, query):
                series_uid = str(_value(series, "SeriesInstanceUID"))
                counts.series += 1
                for item in self._paged(
                    "instance search",
                    self.client.search_for_instances,
                    study_instance_uid=study_uid,
                    series_instance_uid=series_uid,
                    fields=list(INSTANCE_FIELDS),
                ):
                    if query.max_per_study is not None and taken >= query.max_per_study:
                        break
                    inst = _instance(study_uid, series_uid, item, patient)
                    counts.instances += 1
                    counts.burned_in += inst.burned_in
                    taken += 1
                    yield inst

    # ------------------------------------------------------------------ fetch
    def fetch_frame(self, inst: ArchiveInstance) -> bytes:
        """Frame 1 of an instance as uncompressed little-endian pixel data (WADO-RS)."""
        frames = self._call(
            f"fetching frame 1 of instance {_short(inst.sop_uid)}",
            self.client.retrieve_instance_frames,
            inst.study_uid,
            inst.series_uid,
            inst.sop_uid,
            frame_numbers=[1],
            media_types=(("application/octet-stream", UNCOMPRESSED),),
        )
        self.fetched += 1
        if len(frames) != 1:
            raise ValueError(f"the archive sent {len(frames)} frames for frame 1")
        return bytes(frames[0])

    def fetch_luts(self, inst: ArchiveInstance) -> dict[str, Any]:
        """The instance's modality and VOI LUT sequences (pydicom Sequences), by keyword.

        Read from the instance's metadata, which also holds header values: only the two
        sequences are kept, the rest is dropped here.
        """
        from pydicom.datadict import tag_for_keyword
        from pydicom.dataset import Dataset

        what = f"reading the lookup tables of instance {_short(inst.sop_uid)}"
        found = self._call(
            what,
            self.client.retrieve_instance_metadata,
            inst.study_uid,
            inst.series_uid,
            inst.sop_uid,
        )
        luts: dict[str, Any] = {}
        for keyword in LUT_SEQUENCES:
            tag = f"{tag_for_keyword(keyword):08X}"
            if tag in found:
                item = Dataset.from_json({tag: found[tag]}, bulk_data_uri_handler=self._bulk)
                luts[keyword] = item[keyword].value
        return luts

    def _bulk(self, tag: str, vr: str, uri: str) -> bytes:
        """The bytes behind a bulk data URI of the metadata (a LUT's data).

        Archives often build these URIs from their own idea of their address (Orthanc drops
        the port; behind a proxy it is an internal host), so the URI's resource path is
        rebased on the archive URL medmine was given.
        """
        path = urlsplit(uri).path
        at = path.find("/studies/")
        if at >= 0:
            uri = self.url.rstrip("/") + path[at:]
        parts = self._call(
            "reading bulk data",
            self.client.retrieve_bulkdata,
            uri,
            media_types=("application/octet-stream",),  # Orthanc refuses the client's default
        )
        return b"".join(bytes(p) for p in parts)


def _short(uid: str) -> str:
    """The last characters of a UID: enough to tell instances apart in a message."""
    return f"...{uid[-8:]}"


def _reservoir(stream: Iterator[dict[str, Any]], k: int, seed: int) -> Iterator[dict[str, Any]]:
    """A seeded uniform sample of ``k`` items of a stream (Algorithm R), in stream order."""
    rng = random.Random(seed)
    kept: list[tuple[int, dict[str, Any]]] = []
    for i, item in enumerate(stream):
        if i < k:
            kept.append((i, item))
        else:
            j = rng.randint(0, i)
            if j < k:
                kept[j] = (i, item)
    yield from (item for _, item in sorted(kept, key=lambda pair: pair[0]))


def _instance(
    study_uid: str, series_uid: str, item: Mapping[str, Any], patient: str = ""
) -> ArchiveInstance:
    """An :class:`ArchiveInstance` from one instance search result."""
    pixel = {kw: v for kw in PIXEL_KEYWORDS if (v := _value(item, kw)) is not None}
    burned = str(_value(item, "BurnedInAnnotation") or "").strip().upper() == "YES"
    return ArchiveInstance(
        study_uid=study_uid,
        series_uid=series_uid,
        sop_uid=str(_value(item, "SOPInstanceUID")),
        rows=int(pixel.get("Rows") or 0),
        cols=int(pixel.get("Columns") or 0),
        frames=int(pixel.get("NumberOfFrames") or 1),
        burned_in=burned,
        pixel_module=pixel,
        patient=patient,
    )


def frame_dataset(
    inst: ArchiveInstance, frame: bytes, luts: Mapping[str, Any] | None = None
) -> Any:
    """A pixels-only pydicom Dataset holding one uncompressed frame (no header values), with
    the instance's lookup tables when given (:meth:`DicomWebArchive.fetch_luts`)."""
    from pydicom.dataset import Dataset, FileMetaDataset

    ds = Dataset()
    for keyword, sequence in (luts or {}).items():
        setattr(ds, keyword, sequence)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UNCOMPRESSED
    for keyword, value in inst.pixel_module.items():
        if keyword != "NumberOfFrames":
            setattr(ds, keyword, value)
    ds.SamplesPerPixel = int(inst.pixel_module.get("SamplesPerPixel") or 1)
    ds.PhotometricInterpretation = str(
        inst.pixel_module.get("PhotometricInterpretation") or "MONOCHROME2"
    )
    bits = int(inst.pixel_module.get("BitsAllocated") or 16)
    expected = inst.rows * inst.cols * ds.SamplesPerPixel * (bits // 8 if bits >= 8 else 1)
    if bits >= 8 and len(frame) < expected:
        raise ValueError(
            f"frame 1 has {len(frame)} bytes; {inst.rows}x{inst.cols} at {bits} bits needs "
            f"{expected}"
        )
    ds.PixelData = frame[:expected] if bits >= 8 else frame
    return ds
