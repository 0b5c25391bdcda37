"""Load a catalogued (real) dataset for a suite: locate it, read it, choose test and support."""

from __future__ import annotations

from pathlib import Path

from medmine.core import Sample, stable_hash
from medmine.core.secrets import safe_url
from medmine.datasets.catalog import find_dataset, get_entry, load_dataset
from medmine.datasets.check import missing_targets
from medmine.datasets.loaded import LoadedDataset
from medmine.datasets.spec import DatasetSpec


class DatasetNotFound(FileNotFoundError):
    """A suite names a dataset that is not where it was looked for."""


def locate(spec: DatasetSpec, data_root: Path | None) -> Path:
    """The dataset's folder: the spec's ``root``, else found under ``data_root`` by its layout."""
    entry = get_entry(spec.name)
    if spec.folder is not None:
        return spec.folder
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


SUPPORT_SHARE = 0.2


def hold_out_support(samples: list[Sample]) -> tuple[list[Sample], list[Sample]]:
    """Split one split into (test, support) by patient: a stable ~20% of patients support.

    Patients (``patient_id``, else the sample id) are ranked by a hash of their id, so the
    choice is the same on every run and machine and never puts a patient on both sides.
    """
    groups = sorted({s.patient_id or s.id for s in samples}, key=lambda g: stable_hash(g))
    chosen = frozenset(groups[: max(1, round(len(groups) * SUPPORT_SHARE))])
    if len(groups) < 2:
        return samples, []
    test = [s for s in samples if (s.patient_id or s.id) not in chosen]
    support = [s for s in samples if (s.patient_id or s.id) in chosen]
    return test, support


def load_from_catalog(spec: DatasetSpec, data_root: Path | None) -> LoadedDataset:
    """Read a catalogued dataset and split it into test samples and a support set.

    The test samples are the entry's ``split``. A download that has only one official split
    (many sample copies and some datasets do) is evaluated on that split, and the run records
    a notice saying so. When the support split is the test split (asked for, or because it
    is the only one), a stable fifth of its patients is held out as the support set
    (:func:`hold_out_support`) and a notice says so; when there is no support split at all,
    the notice says that methods that learn cannot fit. The support set never contains a
    patient of the test samples.
    """
    entry = get_entry(spec.name)
    fetch = None
    notices = []
    if spec.is_archive:
        from medmine.datasets.dicomweb_source import read_archive

        assert isinstance(spec.root, str) and spec.truth is not None
        read, fetch, archive_notice = read_archive(
            spec.root, spec.query, spec.truth, entry.context(), spec.split
        )
        notices.append(archive_notice)
        root: Path | str = str(safe_url(fetch.archive.url))
    else:
        root = locate(spec, data_root)
        read = load_dataset(entry.name, root)
    splits = sorted({s.split for s in read.samples})
    test_split = spec.split
    if test_split not in splits and len(splits) == 1:
        notices.append(
            f"{entry.name}: no {spec.split!r} split in {root}; evaluated on its only split "
            f"{splits[0]!r}"
        )
        test_split = splits[0]
    test = [s for s in read.samples if s.split == test_split]
    support: list[Sample] = []
    if spec.support_split and spec.support_split == test_split and test:
        test, support = hold_out_support(test)
        notices.append(
            f"{entry.name}: support split = test split {test_split!r}: "
            f"{len(support)} sample(s) of {SUPPORT_SHARE:.0%} of its patients held out as the "
            f"support set, {len(test)} tested (no patient in both)"
        )
    elif spec.support_split:
        pool = [s for s in read.samples if s.split == spec.support_split]
        test_patients = frozenset(s.patient_id for s in test if s.patient_id)
        support = [s for s in pool if not (s.patient_id and s.patient_id in test_patients)]

    notices += missing_targets(entry.name, entry.tasks, test)
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
        fetch=fetch,
    )
