"""Radiology report text: readers for the common report layouts (sections: ``report_sections``).

Every reader returns a list of :class:`ReportRecord`. Problems with one report
(non-UTF-8 bytes, an empty report, a missing section, an unreadable item) are recorded
in that record's ``warnings`` and the read goes on; a missing path or a file in the
wrong layout raises ValueError naming the path and the layout expected.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medmine.datasets.report_sections import join_sections, split_sections

_REPLACEMENT = "\ufffd"
NON_UTF8_WARNING = "non-UTF-8 bytes replaced with U+FFFD"
EMPTY_WARNING = "empty report"


@dataclass
class ReportRecord:
    """One report as read from disk: its id, full text, sections and where it came from."""

    id: str
    text: str
    sections: dict[str, str]
    source: Path
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _decode(raw: bytes) -> tuple[str, bool]:
    """Decode UTF-8 (with or without BOM); on bad bytes replace them and report it."""
    try:
        return raw.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8-sig", errors="replace"), True


def _read_text(path: Path) -> tuple[str, bool]:
    """Read a file as text, returning (text, had_bad_bytes)."""
    return _decode(path.read_bytes())


def _record(
    report_id: str,
    text: str,
    source: Path,
    *,
    sections: dict[str, str] | None = None,
    metadata: dict[str, Any] | None = None,
    bad_bytes: bool = False,
    expected: Iterable[str] = (),
    warnings: Iterable[str] = (),
) -> ReportRecord:
    """Build a record, adding the per-report warnings every reader shares."""
    notes = list(warnings)
    if bad_bytes and _REPLACEMENT in text:
        notes.append(NON_UTF8_WARNING)
    if not text.strip():
        notes.append(EMPTY_WARNING)
    parsed = split_sections(text) if sections is None else sections
    notes.extend(f"missing section {name}" for name in expected if not parsed.get(name))
    return ReportRecord(report_id, text, parsed, source, metadata or {}, notes)


def _require(path: Path, what: str) -> Path:
    """Return the path if it exists, else raise naming it and the layout expected."""
    if not path.exists():
        raise ValueError(f"{path}: not found; expected {what}")
    return path


# --------------------------------------------------------------------------------------
# Readers.
# --------------------------------------------------------------------------------------

_MIMIC_LAYOUT = "a MIMIC-CXR report tree files/pNN/pSUBJECT/sSTUDY.txt"
_MIMIC_STUDY = re.compile(r"^s(\d+)$")
_MIMIC_SUBJECT = re.compile(r"^p(\d+)$")


def read_mimic_cxr(root: str | Path) -> list[ReportRecord]:
    """Read MIMIC-CXR free-text reports (``files/p10/p10000032/s50414267.txt``).

    ``root`` may be the folder holding ``files/`` or ``files/`` itself. The record id is
    the study id (``"50414267"``); metadata holds ``subject_id`` and ``study_id``.
    Records are sorted by path.
    """
    base = _require(Path(root), _MIMIC_LAYOUT)
    files_dir = base / "files" if (base / "files").is_dir() else base
    paths = sorted(
        p
        for p in files_dir.glob("p*/p*/s*.txt")
        if _MIMIC_STUDY.match(p.stem) and _MIMIC_SUBJECT.match(p.parent.name)
    )
    if not paths:
        raise ValueError(f"{base}: no report found; expected {_MIMIC_LAYOUT}")
    records = []
    for path in paths:
        text, bad = _read_text(path)
        study = _MIMIC_STUDY.match(path.stem).group(1)  # type: ignore[union-attr]
        subject = _MIMIC_SUBJECT.match(path.parent.name).group(1)  # type: ignore[union-attr]
        meta = {"subject_id": subject, "study_id": study}
        records.append(
            _record(study, text, path, metadata=meta, bad_bytes=bad, expected=("IMPRESSION",))
        )
    return records


_OPENI_LAYOUT = "Open-i ecgen-radiology/*.xml reports (<eCitation> with <AbstractText Label=...>)"
_OPENI_LABELS = {"INDICATION", "COMPARISON", "FINDINGS", "IMPRESSION"}


def _openi_record(path: Path) -> ReportRecord:
    """Parse one Open-i XML report; a broken file becomes a record with a warning."""
    text, bad = _read_text(path)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        return ReportRecord(path.stem, "", {}, path, {}, [f"XML parse error: {error}"])
    uid = root.find("uId")
    report_id = (uid.get("id") if uid is not None else None) or path.stem
    sections: dict[str, str] = {}
    for node in root.iter("AbstractText"):
        label = (node.get("Label") or "").strip().upper()
        if label in _OPENI_LABELS:
            sections[label] = " ".join("".join(node.itertext()).split())
    meta: dict[str, Any] = {
        "image_ids": [n.get("id") for n in root.iter("parentImage") if n.get("id")],
        "mesh_major": [(n.text or "").strip() for n in root.iter("major")],
        "mesh_minor": [(n.text or "").strip() for n in root.iter("automatic")]
        + [(n.text or "").strip() for n in root.iter("minor")],
    }
    return _record(
        report_id,
        join_sections(sections),
        path,
        sections=sections,
        metadata=meta,
        bad_bytes=bad,
        expected=("FINDINGS", "IMPRESSION"),
    )


def read_openi_xml(root: str | Path) -> list[ReportRecord]:
    """Read Open-i / IU X-ray XML reports from ``ecgen-radiology/`` (or a folder, or one file).

    The id is ``<uId id="CXR1">`` (else the file stem); sections come from
    ``<AbstractText Label="INDICATION|COMPARISON|FINDINGS|IMPRESSION">``; metadata holds
    the ``parentImage`` ids and the MeSH terms. Records are sorted by file name.
    """
    base = _require(Path(root), _OPENI_LAYOUT)
    if base.is_file():
        paths = [base]
    else:
        folder = base / "ecgen-radiology" if (base / "ecgen-radiology").is_dir() else base
        paths = sorted(folder.glob("*.xml"))
    if not paths:
        raise ValueError(f"{base}: no .xml file found; expected {_OPENI_LAYOUT}")
    return [_openi_record(path) for path in paths]


_IU_COLUMNS = ("uid", "MeSH", "Problems", "image", "indication", "comparison", "findings",
               "impression")  # fmt: skip
_IU_LAYOUT = "the Kaggle IU X-ray indiana_reports.csv with columns " + ",".join(_IU_COLUMNS)


def read_iu_xray_csv(path: str | Path) -> list[ReportRecord]:
    """Read the Kaggle IU X-ray ``indiana_reports.csv`` (one report a row, sections as columns)."""
    csv_path = _require(Path(path), _IU_LAYOUT)
    text, bad = _read_text(csv_path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in _IU_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"{csv_path}: columns {missing} missing; expected {_IU_LAYOUT}")
    records = []
    for row in reader:
        sections = {
            name.upper(): (row.get(name) or "").strip()
            for name in ("indication", "comparison", "findings", "impression")
        }
        meta = {"mesh": row["MeSH"], "problems": row["Problems"], "image": row["image"]}
        records.append(
            _record(
                row["uid"],
                join_sections(sections),
                csv_path,
                sections={k: v for k, v in sections.items() if v},
                metadata=meta,
                bad_bytes=bad,
                expected=("FINDINGS", "IMPRESSION"),
            )
        )
    return records


_R2GEN_LAYOUT = (
    'R2Gen annotation.json {"train": [{"id", "report", "image_path", "split"}], "val": [...], '
    '"test": [...]}'
)


def read_r2gen_annotation(
    path: str | Path, splits: Iterable[str] = ("train", "val", "test")
) -> list[ReportRecord]:
    """Read an R2Gen ``annotation.json`` (IU X-ray / MIMIC-CXR) for the given splits.

    ``path`` is the file or the folder holding it. Metadata holds ``split`` and
    ``image_path``. Report text carries no headers, so sections hold it under ``TEXT``.
    """
    file_path = _require(Path(path), _R2GEN_LAYOUT)
    if file_path.is_dir():
        file_path = _require(file_path / "annotation.json", _R2GEN_LAYOUT)
    text, bad = _read_text(file_path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{file_path}: invalid JSON ({error}); expected {_R2GEN_LAYOUT}") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ValueError(f"{file_path}: top level is not a dict of lists; expected {_R2GEN_LAYOUT}")
    unknown = [s for s in splits if s not in ("train", "val", "test")]
    if unknown:
        raise ValueError(f"unknown split(s) {unknown}; expected train, val or test")
    records = []
    for split in splits:
        for index, item in enumerate(data.get(split, [])):
            if not isinstance(item, dict) or "id" not in item:
                raise ValueError(
                    f"{file_path}: {split}[{index}] has no 'id'; expected {_R2GEN_LAYOUT}"
                )
            report = item.get("report")
            notes = [] if isinstance(report, str) else ["no 'report' text"]
            meta = {"split": item.get("split", split), "image_path": item.get("image_path", [])}
            records.append(
                _record(
                    str(item["id"]),
                    report if isinstance(report, str) else "",
                    file_path,
                    metadata=meta,
                    bad_bytes=bad,
                    warnings=notes,
                )
            )
    return records


_CHEXPERT_LAYOUT = (
    "a CheXpert labeler CSV: one headerless column of reports (quoted when they hold a comma "
    "or a newline), or pass column= for a CSV with a header"
)


def read_chexpert_csv(path: str | Path, column: str | None = None) -> list[ReportRecord]:
    """Read reports from a CheXpert-labeler style CSV.

    With ``column=None`` the file is headerless with one report a row (the labeler's input
    format) and ids are row numbers from ``"0"``. With a column name the first row is a
    header; other columns go to metadata (e.g. the 14 labels of ``labeled_reports.csv``).
    """
    csv_path = _require(Path(path), _CHEXPERT_LAYOUT)
    text, bad = _read_text(csv_path)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    records = []
    if column is None:
        for index, row in enumerate(rows):
            if len(row) > 1:
                columns = f"row {index + 1} has {len(row)} columns"
                raise ValueError(f"{csv_path}: {columns}; expected {_CHEXPERT_LAYOUT}")
            records.append(_record(str(index), row[0] if row else "", csv_path, bad_bytes=bad))
        return records
    if not rows or column not in rows[0]:
        raise ValueError(
            f"{csv_path}: no column {column!r} in the header; expected {_CHEXPERT_LAYOUT}"
        )
    header = rows[0]
    position = header.index(column)
    for index, row in enumerate(rows[1:]):
        values = dict(zip(header, row, strict=False))
        meta = {k: v for k, v in values.items() if k != column}
        notes = [] if len(row) == len(header) else [f"row has {len(row)} of {len(header)} columns"]
        report = row[position] if position < len(row) else ""
        records.append(
            _record(str(index), report, csv_path, metadata=meta, bad_bytes=bad, warnings=notes)
        )
    return records


_TXT_LAYOUT = "a folder of .txt report files"


def read_text_folder(
    root: str | Path, pattern: str = "*.txt", recursive: bool = False
) -> list[ReportRecord]:
    """Read one report per text file; the id is the path relative to ``root`` without suffix."""
    base = _require(Path(root), _TXT_LAYOUT)
    if not base.is_dir():
        raise ValueError(f"{base}: not a folder; expected {_TXT_LAYOUT}")
    paths = sorted(base.rglob(pattern) if recursive else base.glob(pattern))
    paths = [p for p in paths if p.is_file()]
    if not paths:
        raise ValueError(f"{base}: no file matches {pattern!r}; expected {_TXT_LAYOUT}")
    records = []
    for path in paths:
        text, bad = _read_text(path)
        report_id = path.relative_to(base).with_suffix("").as_posix()
        records.append(_record(report_id, text, path, bad_bytes=bad))
    return records


_JSON_LAYOUT = "a JSON list of objects or JSON Lines, each object with an id and a text field"


def _json_item(
    item: object, index: int, source: Path, text_field: str, id_field: str, bad: bool
) -> ReportRecord:
    """Turn one JSON object into a record; a wrong item is recorded, not raised."""
    if not isinstance(item, dict):
        return ReportRecord(str(index), "", {}, source, {}, [f"item {index} is not an object"])
    report = item.get(text_field)
    notes = [] if isinstance(report, str) else [f"no text in field {text_field!r}"]
    report_id = str(item.get(id_field, index))
    meta = {k: v for k, v in item.items() if k not in (text_field, id_field)}
    text = report if isinstance(report, str) else ""
    return _record(report_id, text, source, metadata=meta, bad_bytes=bad, warnings=notes)


_SCAN = 1 << 20  # bytes read at a time when checking the encoding


def decodes_strictly(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes strictly, checked in 1 MB steps (bounded memory)."""
    dec = codecs.getincrementaldecoder(encoding)(errors="strict")
    with path.open("rb") as fh:
        try:
            while block := fh.read(_SCAN):
                dec.decode(block)
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def jsonl_records(
    path: Path, text_field: str = "text", id_field: str = "id"
) -> Iterator[ReportRecord]:
    """The records of a JSON Lines file, read line by line (bounded memory): a line that is
    not valid JSON becomes a record with a warning, blank lines are skipped, and every record
    carries the non-UTF-8 note when the file had bad bytes."""
    path = _require(Path(path), _JSON_LAYOUT)
    bad = not decodes_strictly(path, "utf-8-sig")
    number = 0
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        for physical in fh:  # split at "\n"; str.splitlines splits the rest as the whole read
            for line in physical.splitlines():
                number += 1
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as error:
                    note = f"line {number}: invalid JSON ({error.msg})"
                    yield ReportRecord(str(number - 1), "", {}, path, {}, [note])
                    continue
                yield _json_item(item, number - 1, path, text_field, id_field, bad)


def read_json_reports(
    path: str | Path, text_field: str = "text", id_field: str = "id"
) -> list[ReportRecord]:
    """Read reports from a JSON list of objects or from JSON Lines (``.jsonl``).

    An item without ``id_field`` gets its position as id. In JSON Lines a line that is
    not valid JSON becomes a record with a warning; blank lines are skipped.
    """
    file_path = _require(Path(path), _JSON_LAYOUT)
    if file_path.suffix.lower() == ".jsonl":
        return list(jsonl_records(file_path, text_field, id_field))
    text, bad = _read_text(file_path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{file_path}: invalid JSON ({error}); expected {_JSON_LAYOUT}") from None
    if not isinstance(data, list):
        raise ValueError(
            f"{file_path}: top level is {type(data).__name__}; expected {_JSON_LAYOUT}"
        )
    return [
        _json_item(item, index, file_path, text_field, id_field, bad)
        for index, item in enumerate(data)
    ]


#: Readers by layout name, for catalog entries and the CLI.
READERS: dict[str, Callable[..., list[ReportRecord]]] = {
    "mimic_cxr": read_mimic_cxr,
    "openi_xml": read_openi_xml,
    "iu_xray_csv": read_iu_xray_csv,
    "r2gen": read_r2gen_annotation,
    "chexpert_csv": read_chexpert_csv,
    "text_folder": read_text_folder,
    "json": read_json_reports,
}
