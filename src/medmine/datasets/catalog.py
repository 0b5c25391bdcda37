"""The dataset catalog: one declarative entry per named dataset, and the registry that loads them.

An entry says which generic reader reads the dataset's official layout and with which
arguments, its label map (canonical label → display name and synonyms), mask value rules,
licence and access level, expected counts and the layout tree shown when a folder is wrong.
Adding a dataset in a known format is one YAML entry (``catalog.yaml`` or a user file given to
:func:`add_catalog_file`); dispatch goes through :data:`READERS`, never over dataset names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from medmine.core import TaskKind
from medmine.datasets.readers.base import DatasetRead, MaskRule, ReadContext
from medmine.datasets.readers.coco import read_coco
from medmine.datasets.readers.dicom import read_dicom
from medmine.datasets.readers.folder_classes import read_folder_classes
from medmine.datasets.readers.kvasir import read_kvasir
from medmine.datasets.readers.label_table import read_label_table
from medmine.datasets.readers.labelme import read_labelme
from medmine.datasets.readers.mask_pairs import read_mask_pairs
from medmine.datasets.readers.nih_bbox import read_nih_bbox
from medmine.datasets.readers.parts import read_parts
from medmine.datasets.readers.reports import read_reports
from medmine.datasets.readers.voc import read_voc
from medmine.datasets.readers.vqa_tables import VQA_READERS
from medmine.datasets.readers.yolo import read_yolo

Reader = Callable[..., DatasetRead]

READERS: dict[str, Reader] = {
    "folder_classes": read_folder_classes,
    "label_table": read_label_table,
    "mask_pairs": read_mask_pairs,
    "coco": read_coco,
    "labelme": read_labelme,
    "yolo": read_yolo,
    "voc": read_voc,
    "kvasir": read_kvasir,
    "nih_bbox": read_nih_bbox,
    "dicom": read_dicom,
    "reports": read_reports,
    **VQA_READERS,  # medical VQA benchmarks (readers/vqa_*.py)
}
# A release in several formats (DENTEX: COCO train/val, LabelMe test): one reader per part.
READERS["parts"] = partial(read_parts, registry=READERS)

CATALOG_FILE = Path(__file__).with_name("catalog.yaml")

Category = Literal[
    "dermatology",
    "radiology",
    "dentistry",
    "ophthalmology",
    "endoscopy",
    "reports",
    "pathology",  # VQA benchmarks outside the study's five imaging categories
    "mixed",  # benchmarks mixing sources; their samples carry per-modality categories
]
Access = Literal["open", "registration", "credentialed"]


class LabelSpec(BaseModel):
    """One canonical label: the name shown to people and models, and the words that mean it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    synonyms: list[str] = Field(default_factory=list)


class MaskSpec(BaseModel):
    """How to read one structure's mask: a raw value → class id map, or a threshold."""

    model_config = ConfigDict(extra="forbid")

    value_map: dict[int, int] | None = None
    threshold: int | None = Field(default=None, ge=1, le=65535)
    foreground: int = 1

    def rule(self) -> MaskRule:
        """The reader-side rule for this spec."""
        return MaskRule(
            value_map=self.value_map, threshold=self.threshold, foreground=self.foreground
        )


class DatasetEntry(BaseModel):
    """One catalog entry: everything medmine knows about a named dataset."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    title: str
    category: Category
    tasks: list[TaskKind]
    reader: str
    reader_args: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, LabelSpec] = Field(default_factory=dict)
    masks: dict[str, MaskSpec] = Field(default_factory=dict)
    structures: list[str] = Field(default_factory=list)
    licence: str
    access: Access
    homepage: str = ""
    citation: str = ""
    expected_counts: dict[str, int] = Field(default_factory=dict)
    patient_field: str | None = None
    top_level: list[str] = Field(min_length=1)
    layout: str
    aliases: list[str] = Field(default_factory=list)
    notes: str = ""

    @field_validator("reader")
    @classmethod
    def _known_reader(cls, value: str) -> str:
        """The reader must be a known format name."""
        if value not in READERS:
            raise ValueError(f"unknown reader {value!r}; known formats: {sorted(READERS)}")
        return value

    @field_validator("labels")
    @classmethod
    def _unique_words(cls, value: dict[str, LabelSpec]) -> dict[str, LabelSpec]:
        """No word may name two labels (a synonym must map to one canonical label)."""
        owner: dict[str, str] = {}
        for canon, spec in value.items():
            for word in {canon, spec.name, *spec.synonyms}:
                key = word.strip().lower()
                if owner.setdefault(key, canon) != canon:
                    raise ValueError(f"word {word!r} names both {owner[key]!r} and {canon!r}")
        return value

    def names(self) -> dict[str, tuple[str, ...]]:
        """Canonical label → (display name, synonyms...), the LabelTarget ``names`` mapping."""
        return {c: (s.name, *s.synonyms) for c, s in self.labels.items()}

    def context(self, split: str | None = None) -> ReadContext:
        """The read context a reader gets for this entry."""
        return ReadContext(
            dataset=self.name,
            category=self.category,
            split=split,
            names=self.names(),
            masks={k: v.rule() for k, v in self.masks.items()},
        )


class Catalog:
    """A registry of entries loaded from YAML files; later files may add or replace entries."""

    def __init__(self) -> None:
        """An empty catalog."""
        self._entries: dict[str, DatasetEntry] = {}
        self._aliases: dict[str, str] = {}

    def load_file(self, path: Path) -> list[str]:
        """Add the entries of a YAML file (a list of entries, or {datasets: [...]})."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"{path}: cannot read catalog YAML ({exc})") from exc
        items = data.get("datasets") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ValueError(f"{path}: expected a list of dataset entries (or 'datasets: [...]')")
        names = []
        for i, item in enumerate(items):
            try:
                entry = DatasetEntry.model_validate(item)
            except ValidationError as exc:
                name = item.get("name", f"#{i}") if isinstance(item, dict) else f"#{i}"
                raise ValueError(f"{path}: entry {name!r} is invalid:\n{exc}") from exc
            self.add(entry)
            names.append(entry.name)
        return names

    def add(self, entry: DatasetEntry) -> None:
        """Register (or replace) one entry and its aliases."""
        self._entries[entry.name] = entry
        for alias in entry.aliases:
            self._aliases[alias] = entry.name

    def get(self, name: str) -> DatasetEntry:
        """The entry of a name or alias; ValueError listing the known names otherwise."""
        key = self._aliases.get(name, name)
        if key not in self._entries:
            raise ValueError(f"unknown dataset {name!r}; known: {', '.join(sorted(self._entries))}")
        return self._entries[key]

    def entries(self, category: str | None = None) -> list[DatasetEntry]:
        """All entries (optionally of one category), sorted by category then name."""
        items = [e for e in self._entries.values() if category in (None, e.category)]
        return sorted(items, key=lambda e: (e.category, e.name))


_CATALOG: Catalog | None = None
_EXTRA_FILES: list[Path] = []


def catalog() -> Catalog:
    """The process-wide catalog: the bundled ``catalog.yaml`` plus added user files."""
    global _CATALOG
    if _CATALOG is None:
        cat = Catalog()
        cat.load_file(CATALOG_FILE)
        for path in _EXTRA_FILES:
            cat.load_file(path)
        _CATALOG = cat
    return _CATALOG


def add_catalog_file(path: Path) -> list[str]:
    """Add a user YAML file of entries to the catalog; returns the names it defined."""
    names = catalog().load_file(Path(path))
    _EXTRA_FILES.append(Path(path))
    return names


def reset_catalog() -> None:
    """Forget user files and reload the bundled catalog on next use (for tests)."""
    global _CATALOG
    _CATALOG = None
    _EXTRA_FILES.clear()


def get_entry(name: str) -> DatasetEntry:
    """The catalog entry of a dataset name (or alias)."""
    return catalog().get(name)


def list_entries(category: str | None = None) -> list[DatasetEntry]:
    """All catalog entries, optionally of one category."""
    return catalog().entries(category)


def load_dataset(name: str, root: Path, split: str | None = None) -> DatasetRead:
    """Read a dataset folder through its entry's reader (``split`` filters official splits)."""
    entry = get_entry(name)
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: dataset folder for {entry.name!r} does not exist")
    reader = READERS[entry.reader]
    try:
        return reader(root, ctx=entry.context(split), **entry.reader_args)
    except TypeError as exc:
        raise ValueError(f"catalog entry {entry.name!r}: bad reader_args ({exc})") from exc


def layout_matches(entry: DatasetEntry, folder: Path) -> bool:
    """Whether a folder holds every top-level name (or glob pattern) the entry's layout expects."""
    return not missing_top_level(entry, folder)


def missing_top_level(entry: DatasetEntry, folder: Path) -> list[str]:
    """The entry's top-level names (or glob patterns) that the folder lacks."""
    missing = []
    for name in entry.top_level:
        found = (
            any(folder.glob(name)) if any(c in name for c in "*?[") else (folder / name).exists()
        )
        if not found:
            missing.append(name)
    return missing


def find_dataset(name: str, data_root: Path) -> Path | None:
    """Locate an entry's folder under a data root by its expected top-level names.

    Looks at the root itself, its parent when the root is the layout's own top folder
    (``Kvasir-SEG/``), ``<root>/<name>`` (and aliases), then every sub-folder up to two levels
    down, in sorted order; returns the first folder whose layout matches, else None.
    """
    entry = get_entry(name)
    data_root = Path(data_root)
    candidates: list[Path] = [data_root]
    # The folder a user unzipped may be the layout's own top folder (Kvasir-SEG/, chest_xray/):
    # then the dataset root is the folder holding it.
    if any(data_root.match(pattern) for pattern in entry.top_level if "/" not in pattern):
        candidates.append(data_root.parent)
    candidates += [data_root / n for n in (entry.name, *entry.aliases)]
    if data_root.is_dir():
        level1 = sorted(p for p in data_root.iterdir() if p.is_dir())
        candidates += level1
        for d in level1:
            candidates += sorted(p for p in d.iterdir() if p.is_dir())
    for folder in _unique(candidates):
        if folder.is_dir() and layout_matches(entry, folder):
            return folder
    return None


def _unique(paths: Iterable[Path]) -> list[Path]:
    """Paths in first-seen order without repeats."""
    return list(dict.fromkeys(paths))
