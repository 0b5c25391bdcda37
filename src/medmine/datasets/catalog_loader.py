"""Load a catalogued (real) dataset for a suite: locate it, read it, choose test and support."""

from __future__ import annotations

from pathlib import Path

from medmine.core import Sample
from medmine.datasets.catalog import find_dataset, get_entry, load_dataset
from medmine.datasets.sources import LoadedDataset
from medmine.datasets.spec import DatasetSpec


class DatasetNotFound(FileNotFoundError):
    """A suite names a dataset that is not where it was looked for."""


def locate(spec: DatasetSpec, data_root: Path | None) -> Path:
    """The dataset's folder: the spec's ``root``, else found under ``data_root`` by its layout."""
    entry = get_entry(spec.name)
    if spec.root is not None:
        return spec.root
    if data_root is None:
        raise DatasetNotFound(
            f"dataset {entry.name!r}: give --data-root DIR (or `root:` in the suite) pointing at "
            f"its download; expected layout:\n{entry.layout}"
        )
    found = find_dataset(entry.name, data_root)
    if found is None:
        raise DatasetNotFound(
            f"dataset {entry.name!r} not found under {data_root}; expected layout:\n{entry.layout}"
        )
    return found


def load_from_catalog(spec: DatasetSpec, data_root: Path | None) -> LoadedDataset:
    """Read a catalogued dataset and split it into test samples and a support set.

    The test samples are the entry's ``split``. A download that has only one official split
    (many sample copies and some datasets do) is evaluated on that split, and the run records
    a notice saying so; the support set is then empty, so few-shot baselines report that they
    cannot fit instead of learning from the test images. The support set never contains a
    patient of the test samples.
    """
    entry = get_entry(spec.name)
    root = locate(spec, data_root)
    read = load_dataset(entry.name, root)
    splits = sorted({s.split for s in read.samples})
    notices = []
    test_split = spec.split
    if test_split not in splits and len(splits) == 1:
        notices.append(
            f"{entry.name}: no {spec.split!r} split in {root}; evaluated on its only split "
            f"{splits[0]!r}, without a support set"
        )
        test_split = splits[0]
    test = [s for s in read.samples if s.split == test_split]
    support: list[Sample] = []
    if spec.support_split and spec.support_split != test_split:
        pool = [s for s in read.samples if s.split == spec.support_split]
        test_patients = frozenset(s.patient_id for s in test if s.patient_id)
        support = [s for s in pool if not (s.patient_id and s.patient_id in test_patients)]
    if not test:
        notices.append(
            f"{entry.name}: no usable {test_split!r} samples in {root} "
            f"({len(read.bad)} unreadable, splits present: {splits or 'none'})"
        )
    return LoadedDataset(
        entry.name,
        test,
        support,
        bad=list(read.bad),
        fingerprint=read.fingerprint,
        notice="; ".join(notices) or None,
    )
