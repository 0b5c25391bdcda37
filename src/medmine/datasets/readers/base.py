"""What every format reader shares: the read result, the read context, fingerprints, file scans.

A reader turns a dataset folder into cheap :class:`~medmine.core.Sample` objects without opening
the images (that is :mod:`medmine.datasets.check`'s job). It never stops at a bad row or a missing
file: it records a :class:`~medmine.core.BadSample` whose reason starts with a kind
(``missing:``, ``malformed:``, ``label:``) and goes on.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from medmine.core import BadSample, LabelTarget, MaskTarget, Sample

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".dcm")
IGNORED_NAMES: frozenset[str] = frozenset({"Thumbs.db", "desktop.ini"})

MISSING = "missing"
MALFORMED = "malformed"
LABEL = "label"


@dataclass
class DatasetRead:
    """The result of reading one dataset folder.

    ``samples`` are the usable cases; ``bad`` names every file or row that could not become a
    sample and why; ``missing`` holds samples whose annotations parsed but whose image (or mask)
    file is absent (each also has an entry in ``bad``), so annotation-only copies can still be
    inspected; ``unexpected`` lists files inside the layout that nothing uses; ``fingerprint``
    is a stable hash of relative paths, sizes and annotation-file content.
    """

    samples: list[Sample] = field(default_factory=list)
    bad: list[BadSample] = field(default_factory=list)
    unexpected: list[Path] = field(default_factory=list)
    fingerprint: str = ""
    missing: list[Sample] = field(default_factory=list)


@dataclass(frozen=True)
class MaskRule:
    """How to read one structure's mask: raw grey value → class id, or a threshold."""

    value_map: Mapping[int, int] | None = None
    threshold: int | None = None
    foreground: int = 1


@dataclass(frozen=True)
class ReadContext:
    """What a reader needs from the catalog entry: names, labels, mask rules, the split filter.

    ``names`` maps each canonical label to (display name, synonym, ...); raw labels found in
    the data are matched case-insensitively against the canonical label and all its names.
    An empty ``names`` accepts every raw label as canonical.
    """

    dataset: str = "dataset"
    category: str | None = None
    split: str | None = None
    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    masks: Mapping[str, MaskRule] = field(default_factory=dict)

    def canonical(self, raw: str) -> str | None:
        """The canonical label for a raw label, or None when the label map does not know it."""
        if not self.names:
            return raw
        key = _norm(raw)
        for canon, words in self.names.items():
            if key == _norm(canon) or any(key == _norm(w) for w in words):
                return canon
        return None

    @cached_property
    def labels(self) -> tuple[str, ...]:
        """The dataset's canonical label set, in catalog order."""
        return tuple(self.names)

    @cached_property
    def _names(self) -> dict[str, tuple[str, ...]]:
        """One copy of the label map, shared by every target made here (targets are frozen;
        a copy per sample cost a 100,000-sample dataset 23 MB)."""
        return dict(self.names)

    def label_target(self, label: str, seen: Iterable[str] = ()) -> LabelTarget:
        """A classification target for a canonical label; ``seen`` fills the set when unmapped."""
        labels = self.labels or tuple(sorted(set(seen) | {label}))
        return LabelTarget(label=label, labels=labels, names=self._names)

    def mask_target(self, path: Path, structure: str) -> MaskTarget:
        """A segmentation target for one structure, with the entry's value rule for it."""
        rule = self.masks.get(structure) or self.masks.get("*") or MaskRule()
        value_map = dict(rule.value_map) if rule.value_map is not None else None
        return MaskTarget(
            path=path,
            structure=structure,
            value_map=value_map,
            threshold=rule.threshold,
            foreground=rule.foreground,
        )

    def wants(self, split: str) -> bool:
        """Whether samples of this split should be read (no split filter means all)."""
        return self.split is None or self.split == split


def _norm(text: str) -> str:
    """Case- and separator-insensitive form of a label for matching."""
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


def bad(ctx: ReadContext, sample_id: str, path: Path | str, kind: str, message: str) -> BadSample:
    """A BadSample whose reason starts with its kind (``missing``, ``malformed``, ``label``)."""
    return BadSample(id=sample_id, dataset=ctx.dataset, path=str(path), reason=f"{kind}: {message}")


def bad_kind(item: BadSample) -> str:
    """The kind of a BadSample reason written by :func:`bad`."""
    head, sep, _ = item.reason.partition(":")
    return head if sep else MALFORMED


def rel_id(path: Path, root: Path) -> str:
    """A stable sample id: the path relative to the root, without extension, with / separators."""
    return path.relative_to(root).with_suffix("").as_posix()


def is_ignored(path: Path, patterns: Iterable[str] = ()) -> bool:
    """Hidden files, OS litter and files matching any of the glob patterns are not data."""
    if path.name.startswith(".") or path.name in IGNORED_NAMES:
        return True
    return any(fnmatch.fnmatch(path.name, p) for p in patterns)


def scan(directory: Path, recursive: bool = True, ignore: Iterable[str] = ()) -> list[Path]:
    """All data files under a directory, sorted; an absent directory has none."""
    if not directory.is_dir():
        return []
    it = directory.rglob("*") if recursive else directory.iterdir()
    patterns = tuple(ignore)
    return sorted(p for p in it if p.is_file() and not is_ignored(p, patterns))


def fingerprint(root: Path, files: Iterable[Path], contents: Iterable[Path] = ()) -> str:
    """Stable hash of (relative path, size) of the layout's files plus annotation-file bytes.

    Cheap by design: images are identified by path and size only; label tables and annotation
    files (``contents``) are hashed in full because a changed label must change the fingerprint.
    """
    h = hashlib.sha256()
    for path in sorted({Path(p) for p in files}, key=lambda p: p.as_posix()):
        try:
            size = path.stat().st_size
        except OSError:
            continue
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()
        h.update(f"{rel}\0{size}\n".encode())
    for path in sorted({Path(p) for p in contents}, key=lambda p: p.as_posix()):
        if path.is_file():
            h.update(b"content\0")
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def read_table(path: Path, sheet: str | int | None = None) -> list[dict[str, str]]:
    """Rows of a CSV or XLSX label table as dicts of stripped strings (header = first row).

    CSV also covers a file without extension and Dataverse ``.tab`` (tab-separated).

    XLSX needs the optional ``openpyxl`` package; the error says so when it is absent.
    """
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, sheet)
    if suffix not in (".csv", ".tsv", ".txt", ".tab", ""):
        raise ValueError(f"{path}: unsupported label table format {suffix!r} (csv, tsv or xlsx)")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        first = fh.readline()
        fh.seek(0)
        # .tsv / .tab, or a table without extension whose header has tabs and no comma.
        tabs = suffix in (".tsv", ".tab") or ("\t" in first and "," not in first)
        delimiter = "\t" if tabs else ","
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"{path}: empty label table (no header row)") from None
        rows = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            row = {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(header)}
            row["__line__"] = str(reader.line_num)
            rows.append(row)
        return rows


def _read_xlsx(path: Path, sheet: str | int | None) -> list[dict[str, str]]:
    """Rows of an XLSX sheet (first sheet unless named) through openpyxl."""
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ValueError(
            f"{path}: reading .xlsx label tables needs openpyxl (pip install openpyxl)"
        ) from exc
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb[sheet] if isinstance(sheet, str) else wb.worksheets[sheet or 0]
        rows_iter = ws.iter_rows(values_only=True)
        header_row = next(rows_iter, None)
        if header_row is None:
            raise ValueError(f"{path}: empty label table (no header row)")
        header = ["" if h is None else str(h).strip() for h in header_row]
        rows = []
        for n, values in enumerate(rows_iter, start=2):
            if values is None or all(v is None or str(v).strip() == "" for v in values):
                continue
            row = {
                h: ("" if i >= len(values) or values[i] is None else _cell(values[i]))
                for i, h in enumerate(header)
            }
            row["__line__"] = str(n)
            rows.append(row)
        return rows
    finally:
        wb.close()


def _cell(value: Any) -> str:
    """An XLSX cell as text; integral floats lose their '.0' so ids match file names."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def require_columns(path: Path, rows: list[dict[str, str]], columns: Iterable[str]) -> None:
    """Raise ValueError naming the table and the absent columns when a column is missing."""
    if not rows:
        return
    missing = [c for c in columns if c and c not in rows[0]]
    if missing:
        have = [k for k in rows[0] if k != "__line__"]
        raise ValueError(f"{path}: missing column(s) {missing}; the table has {have}")


def first_group(pattern: re.Pattern[str] | None, text: str) -> str | None:
    """The first non-empty group of a regex search (alternatives may use different groups)."""
    if pattern is None:
        return None
    m = pattern.search(text)
    if not m:
        return None
    groups = [g for g in m.groups() if g]
    return groups[0] if groups else m.group(0)


def named_groups(pattern: re.Pattern[str] | None, text: str) -> dict[str, str]:
    """The named groups a regex finds in a text (used for metadata from file names)."""
    if pattern is None:
        return {}
    m = pattern.search(text)
    return {k: v for k, v in m.groupdict().items() if v} if m else {}


def compile_optional(pattern: str | None, what: str) -> re.Pattern[str] | None:
    """Compile a reader-argument regex, naming the argument when it is invalid."""
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"reader argument {what}: invalid regular expression ({exc})") from exc


def structure_key(kind: str, index: int, structure: str) -> str:
    """Target key of a structure: the first one under the task kind, the others as kind/name.

    ``Sample.targets`` holds one target per key; datasets with several structures (left and
    right lung, optic disc and cup) keep the first under ``"segmentation"`` and the rest under
    ``"segmentation/<structure>"`` so a task can ask for a named structure.
    """
    return kind if index == 0 else f"{kind}/{structure}"


def mask_structures(ctx: ReadContext, given: Iterable[str] = ()) -> list[str]:
    """Structures to emit: the reader's own list, else the entry's mask rules (minus '*')."""
    names = list(given)
    if names:
        return names
    names = [s for s in ctx.masks if s != "*"]
    return names or ["lesion"]


def alternatives(value: str | list[str] | None) -> list[str]:
    """One path or a list of alternative paths (releases that spell a folder differently),
    as a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]
