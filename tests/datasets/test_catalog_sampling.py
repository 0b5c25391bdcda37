"""Deterministic subsets and few-shot support sets that keep patients apart."""

from __future__ import annotations

import random

import pytest

from medmine.core import LabelTarget, Sample
from medmine.datasets.sampling import (
    by_split,
    official_split,
    patients,
    select,
    support_set,
)

LABELS = ("a", "b", "c")


def make(i: int, label: str, split: str = "train", patient: str | None = None) -> Sample:
    """A sample with a classification target."""
    return Sample(
        id=f"s{i:03d}",
        dataset="toy",
        targets={"classification": LabelTarget(label=label, labels=LABELS)},
        split=split,
        patient_id=patient,
    )


SAMPLES = [make(i, LABELS[i % 3], "train" if i < 60 else "test", f"p{i // 2}") for i in range(90)]


def test_select_is_deterministic_and_order_free() -> None:
    """Select is deterministic and order free."""
    shuffled = SAMPLES[:]
    random.Random(4).shuffle(shuffled)
    a = select(SAMPLES, limit=10, seed=3)
    b = select(shuffled, limit=10, seed=3)
    assert [s.id for s in a] == [s.id for s in b]
    assert [s.id for s in a] == sorted(s.id for s in a)
    assert len(a) == 10
    assert [s.id for s in select(SAMPLES, limit=10, seed=4)] != [s.id for s in a]


def test_per_class_quota_and_split() -> None:
    """Per class quota and split."""
    got = select(SAMPLES, per_class=4, seed=1, split="train")
    labels = [s.target("classification").label for s in got]  # type: ignore[union-attr]
    assert sorted(labels) == ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    assert all(s.split == "train" for s in got)
    assert len(select(SAMPLES, per_class=100)) == 90
    assert len(select(SAMPLES, per_class=2, limit=5)) == 5


def test_select_rejects_bad_arguments_and_unlabelled_samples() -> None:
    """Select rejects bad arguments and unlabelled samples."""
    with pytest.raises(ValueError, match="per_class"):
        select(SAMPLES, per_class=0)
    with pytest.raises(ValueError, match="limit"):
        select(SAMPLES, limit=-1)
    with pytest.raises(ValueError, match="no classification label"):
        select([Sample(id="x", dataset="toy")], per_class=1)


def test_official_split_handling() -> None:
    """Official split handling."""
    groups = by_split(SAMPLES)
    assert sorted(groups) == ["test", "train"] and len(groups["test"]) == 30
    assert official_split(SAMPLES, "test") == groups["test"]
    with pytest.raises(ValueError, match="splits present"):
        official_split(SAMPLES, "val")


def test_support_set_excludes_test_patients() -> None:
    """Support set excludes test patients."""
    train = [make(i, LABELS[i % 3], "train", f"p{i % 10}") for i in range(60)]
    test = [make(100 + i, LABELS[i % 3], "test", f"p{i}") for i in range(5)]
    support = support_set(train, k_per_class=3, seed=0, exclude_patients=patients(test))
    assert len(support) == 9
    assert not patients(support) & patients(test)
    again = support_set(train, k_per_class=3, seed=0, exclude_patients=patients(test))
    assert [s.id for s in support] == [s.id for s in again]
    with pytest.raises(ValueError, match="k_per_class"):
        support_set(train, k_per_class=0)
