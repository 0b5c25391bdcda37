"""Reading a report source: which layout a path holds and its records (whole-file readers).

Used by the report miner (:mod:`medmine.mine.reports`) and its streamed model path
(:mod:`medmine.mine.report_stream`, which reads CSV and JSON Lines lazily itself).
"""

from __future__ import annotations

from pathlib import Path

from medmine.datasets import report_text as rt
from medmine.datasets.report_text import ReportRecord

REPORT_SUFFIXES = frozenset({".csv", ".json", ".jsonl", ".txt", ".xml"})
_SOURCE_HELP = (
    "a CSV (headerless CheXpert layout, or --column), JSON/JSONL (--text-field), a .txt file "
    "or folder of .txt files, Open-i XML, or a MIMIC-CXR files/ tree"
)


# ------------------------------------------------------------------------------ reading
def _is_mimic_tree(path: Path) -> bool:
    base = path / "files" if (path / "files").is_dir() else path
    return next(base.glob("p*/p*/s*.txt"), None) is not None


def is_report_source(path: Path) -> bool:
    """True when ``path`` looks like report text (by suffix, or a folder's contents)."""
    path = Path(path)
    if path.is_dir():
        return (
            (path / "ecgen-radiology").is_dir()
            or _is_mimic_tree(path)
            or next(path.glob("*.xml"), None) is not None
            or next(path.glob("*.txt"), None) is not None
        )
    return path.suffix.lower() in REPORT_SUFFIXES


def read_report_source(
    source: Path,
    column: str | None = None,
    text_field: str = "text",
    id_field: str = "id",
    id_column: str | None = None,
    encoding: str | None = None,
) -> tuple[list[ReportRecord], str]:
    """The records of a report source and its kind (``chexpert_csv`` for headerless CSVs).

    Raises ValueError naming the path when it is missing or not a known report layout, and
    naming the column when ``column`` is not in the CSV header.
    """
    source = Path(source)
    if not source.exists():
        raise ValueError(f"{source}: not found; expected {_SOURCE_HELP}")
    if source.is_dir():
        if _is_mimic_tree(source):
            return rt.read_mimic_cxr(source), "mimic_cxr"
        if (source / "ecgen-radiology").is_dir() or next(source.glob("*.xml"), None):
            return rt.read_openi_xml(source), "openi_xml"
        if next(source.glob("*.txt"), None) is not None:
            return rt.read_text_folder(source), "text_folder"
        if next(source.rglob("*.txt"), None) is not None:
            return rt.read_text_folder(source, recursive=True), "text_folder"
        raise ValueError(f"{source}: folder holds no report files; expected {_SOURCE_HELP}")
    suffix = source.suffix.lower()
    if suffix == ".csv":
        if column is None:
            return rt.read_chexpert_csv(source), "chexpert_csv"
        from medmine.mine.csv_reports import read_csv_reports

        return read_csv_reports(source, column, id_column, encoding), "csv"
    if suffix == ".jsonl":
        return rt.read_json_reports(source, text_field=text_field, id_field=id_field), "json"
    if suffix == ".json":
        if _json_top_is_dict(source):
            return rt.read_r2gen_annotation(source), "r2gen"
        return rt.read_json_reports(source, text_field=text_field, id_field=id_field), "json"
    if suffix == ".xml":
        return rt.read_openi_xml(source), "openi_xml"
    if suffix == ".txt":
        records = rt.read_text_folder(source.parent, pattern=_glob_escape(source.name))
        return records, "text_file"
    raise ValueError(f"{source}: unknown report file type {suffix!r}; expected {_SOURCE_HELP}")


def _json_top_is_dict(path: Path) -> bool:
    """Whether a JSON file's top level is an object (R2Gen) rather than a list of reports."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc})") from exc
    return head.startswith(b"{")


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)
