"""A DICOMweb archive as a suite dataset: the archive's pixels, the user's labels.

An archive holds images but no ground truth, so a suite that evaluates on it names three
things (see the README, "A hospital archive as a dataset")::

    datasets:
      - name: chestxray2017          # the catalog entry: label set, synonyms, category, tasks
        root: dicomweb+http://127.0.0.1:8042/dicom-web
        query: "Modality=CR&StudyDate=20240101-20240131"
        truth: truth.csv             # labels keyed by UID

The truth table is a CSV with a ``label`` column (a label of the entry, any synonym the
catalog knows) and one or more UID columns: ``sop_uid`` (SOP Instance UID), ``series_uid``
or ``study_uid`` (the DICOM keywords ``SOPInstanceUID``, ... are accepted too). A row labels
the most specific UID it fills: one instance, every instance of a series, or of a study. A
``split`` column is optional. The CSV that ``medmine mine --include-uids`` writes, once a
clinician has checked it, is such a table.

Only instances that the query matches AND a truth row labels become samples; the others are
counted in the run's notice, never scored. Their ids are keyed hashes of the SOP Instance UID
(the key is kept owner-only beside the fetched pixels), patients are grouped by a keyed hash
of PatientID, and no header value reaches a sample, a model or an output. Pixels are fetched
only for the samples the suite selects (after ``limit`` and ``per_class``), frame 1 each,
and kept as pixel-only DICOM files under the cache folder, so a rerun fetches nothing and
renders exactly as local DICOM does (VOI LUT, window, MONOCHROME1).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from medmine.core import BadSample, ImageRef, Sample, cache_dir, stable_hash
from medmine.core.secrets import redact, safe_url
from medmine.datasets.dicomweb_archive import (
    ArchiveInstance,
    ArchiveQuery,
    DicomWebArchive,
    MatchCounts,
    archive_url,
    frame_dataset,
)
from medmine.datasets.dicomweb_ids import anonymous_id, id_key
from medmine.datasets.readers.base import LABEL, MALFORMED, MISSING, DatasetRead, ReadContext

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
UID_COLUMNS = {
    "sop": ("sop_uid", "sopinstanceuid"),
    "series": ("series_uid", "seriesinstanceuid"),
    "study": ("study_uid", "studyinstanceuid"),
}
LEVELS = ("sop", "series", "study")


@dataclass(frozen=True)
class TruthLabel:
    """One truth row's label (canonical), split and where it came from (for messages)."""

    label: str
    split: str | None
    row: int


@dataclass
class Truth:
    """A truth table indexed by UID at each level; rows that could not be used are in ``bad``."""

    path: Path
    by_level: dict[str, dict[str, TruthLabel]] = field(default_factory=dict)
    bad: list[BadSample] = field(default_factory=list)
    used: set[tuple[str, str]] = field(default_factory=set)

    def label_for(self, inst: ArchiveInstance) -> TruthLabel | None:
        """The label of an instance: its own row, else its series', else its study's."""
        for level, uid in (
            ("sop", inst.sop_uid),
            ("series", inst.series_uid),
            ("study", inst.study_uid),
        ):
            found = self.by_level.get(level, {}).get(uid)
            if found is not None:
                self.used.add((level, uid))
                return found
        return None

    def unused(self) -> int:
        """How many truth rows matched no instance of the query."""
        return sum(
            1
            for level, rows in self.by_level.items()
            for uid in rows
            if (level, uid) not in self.used
        )


def _column(header: Sequence[str], names: Sequence[str]) -> str | None:
    """The header's column matching one of ``names`` (case, spaces and underscores ignored)."""
    wanted = {n.replace("_", "") for n in names}
    for col in header:
        if col.strip().lower().replace("_", "").replace(" ", "") in wanted:
            return col
    return None


def read_truth(path: Path, ctx: ReadContext) -> Truth:
    """Read a truth table, checking every label against the entry's label set."""
    truth = Truth(path, {level: {} for level in LEVELS})
    if not path.is_file():
        raise ValueError(f"truth table {path} does not exist (a CSV with label and UID columns)")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        label_col = _column(header, ("label",))
        split_col = _column(header, ("split",))
        uid_cols = {level: _column(header, names) for level, names in UID_COLUMNS.items()}
        if label_col is None or not any(uid_cols.values()):
            raise ValueError(
                f"{path}: a truth table needs a 'label' column and at least one of sop_uid, "
                f"series_uid, study_uid (found columns: {header})"
            )
        for row_no, row in enumerate(reader, start=2):
            where = f"{path.name} row {row_no}"
            filled = [(lv, (row.get(c) or "").strip()) for lv, c in uid_cols.items() if c]
            level, uid = next(((lv, v) for lv, v in filled if v), (None, ""))
            raw = (row.get(label_col) or "").strip()
            if level is None:
                truth.bad.append(_bad(ctx, where, path, MALFORMED, "no UID in the row"))
                continue
            label = ctx.canonical(raw) if raw else None
            if label is None:
                msg = f"label {raw!r} is not one of {ctx.dataset}'s labels {list(ctx.labels)}"
                truth.bad.append(_bad(ctx, where, path, LABEL, msg))
                continue
            split = (row.get(split_col) or "").strip() or None if split_col else None
            seen = truth.by_level[level].get(uid)
            if seen is not None and seen.label != label:
                msg = f"{level} UID labelled {seen.label!r} in row {seen.row} and {label!r} here"
                truth.bad.append(_bad(ctx, where, path, LABEL, msg))
                continue
            truth.by_level[level][uid] = TruthLabel(label, split, row_no)
    return truth


def _bad(ctx: ReadContext, where: str, path: Path | str, kind: str, message: str) -> BadSample:
    return BadSample(id=where, dataset=ctx.dataset, path=str(path), reason=f"{kind}: {message}")


@dataclass
class ArchiveFetch:
    """Fetches the pixels of selected samples into pixel-only DICOM files (once each)."""

    archive: DicomWebArchive
    pending: dict[str, ArchiveInstance]
    dataset: str

    def __call__(self, samples: Sequence[Sample]) -> list[BadSample]:
        """Fetch what is not on disk yet; the samples that could not be fetched, as bad."""
        failed = []
        for sample in samples:
            inst = self.pending.get(sample.id)
            path = sample.images[0].path
            if inst is None or path.is_file():
                continue
            try:
                write_pixels(self.archive, inst, path, sample.id)
            except (ValueError, ImportError, OSError) as exc:
                reason = f"{MISSING}: pixels of instance {sample.id} not fetched ({exc})"
                failed.append(
                    BadSample(
                        sample.id, self.dataset, str(safe_url(self.archive.url)), redact(reason)
                    )
                )
        return failed


def write_pixels(archive: DicomWebArchive, inst: ArchiveInstance, path: Path, sid: str) -> None:
    """Fetch frame 1 of an instance and store it as a pixel-only DICOM file at ``path``."""
    from pydicom.uid import generate_uid

    ds = frame_dataset(inst, archive.fetch_frame(inst), archive.fetch_luts(inst))
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = generate_uid(prefix=None, entropy_srcs=[sid])  # new: not the archive's
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    ds.save_as(tmp, enforce_file_format=True)
    tmp.replace(path)


def archive_folder(source: str) -> Path:
    """Where an archive's fetched pixels and id key live: one folder per archive URL."""
    return cache_dir() / "dicomweb" / stable_hash(safe_url(archive_url(source)))[:16]


def read_archive(
    source: str,
    query_text: str | None,
    truth_path: Path | None,
    ctx: ReadContext,
    default_split: str,
) -> tuple[DatasetRead, ArchiveFetch, str]:
    """The samples an archive query and a truth table give, the fetcher of their pixels, and
    a notice counting what matched, what was labelled and what was left out."""
    if truth_path is None:
        raise ValueError(
            f"{ctx.dataset}: an archive root ({source}) has no ground truth; give `truth:` "
            "(a CSV with a label column and sop_uid / series_uid / study_uid columns)"
        )
    truth = read_truth(truth_path, ctx)
    query = ArchiveQuery.parse(query_text or "")
    archive = DicomWebArchive(source)
    folder = archive_folder(source)
    key = id_key(folder)
    counts = MatchCounts()
    out = DatasetRead(bad=list(truth.bad))
    pending: dict[str, ArchiveInstance] = {}
    unlabelled = 0
    labels = ctx.labels or tuple(
        sorted({t.label for rows in truth.by_level.values() for t in rows.values()})
    )
    keys: list[tuple[str, str, str]] = []
    for inst in archive.instances(query, counts):
        found = truth.label_for(inst)
        if found is None:
            unlabelled += 1
            continue
        sid = anonymous_id(key, inst.sop_uid)
        if inst.burned_in:
            reason = f"{MALFORMED}: BurnedInAnnotation = YES (text in the pixels); not evaluated"
            out.bad.append(BadSample(sid, ctx.dataset, str(safe_url(archive.url)), reason))
            continue
        pending[sid] = inst
        split = found.split or default_split
        keys.append((sid, split, found.label))
        out.samples.append(
            Sample(
                id=sid,
                dataset=ctx.dataset,
                images=(ImageRef(folder / f"{sid}.dcm", size=(inst.cols, inst.rows)),),
                targets={"classification": ctx.label_target(found.label, labels)},
                split=split,
                patient_id=anonymous_id(key, inst.patient, "pt-") if inst.patient else None,
                category=ctx.category,
                meta={"source": "dicomweb", "frames": inst.frames},
            )
        )
    out.fingerprint = stable_hash(sorted(keys))
    notice = (
        f"{ctx.dataset}: archive {safe_url(archive.url)}: {counts.instances} instance(s) of "
        f"{counts.studies} stud(ies) matched the query; {len(out.samples)} labelled by "
        f"{truth_path.name}; {unlabelled} without a truth row (not scored); "
        f"{truth.unused()} truth row(s) matched no instance"
    )
    return out, ArchiveFetch(archive, pending, ctx.dataset), notice
