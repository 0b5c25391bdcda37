"""Deterministic subsets of samples: limits, per-class quotas, official splits, few-shot support.

Every selection sorts by sample id first and draws with a seeded ``numpy.random.Generator``,
so the same samples, arguments and seed give the same subset on any machine, in any order the
reader happened to list them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from medmine.core import BoxesTarget, LabelTarget, LandmarkTarget, Sample


def sample_label(sample: Sample, task: str | None = None) -> str | None:
    """The label a per-class quota groups by: the classification label, or the task's label.

    For detection the first box's label, for localization the structure; None when the sample
    has no such target.
    """
    kinds = [task] if task else ["classification"]
    for kind in kinds:
        target = sample.target(kind)
        if isinstance(target, LabelTarget):
            return target.label
        if isinstance(target, BoxesTarget) and target.boxes:
            return target.boxes[0].label
        if isinstance(target, LandmarkTarget):
            return target.structure
    return None


def by_split(samples: Iterable[Sample]) -> dict[str, list[Sample]]:
    """Samples grouped by their official split, each group sorted by id."""
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(s.split, []).append(s)
    return {k: sorted(v, key=lambda s: s.id) for k, v in sorted(groups.items())}


def official_split(samples: Iterable[Sample], split: str) -> list[Sample]:
    """The samples of one official split; ValueError naming the splits present otherwise."""
    groups = by_split(samples)
    if split not in groups:
        raise ValueError(f"split {split!r} not in the data; splits present: {sorted(groups)}")
    return groups[split]


def _choose(items: Sequence[Sample], k: int, rng: np.random.Generator) -> list[Sample]:
    """k items drawn without replacement (all of them when there are no more than k)."""
    if len(items) <= k:
        return list(items)
    idx = rng.choice(len(items), size=k, replace=False)
    return [items[i] for i in sorted(idx)]


def _by_label(samples: Sequence[Sample], task: str | None) -> dict[str, list[Sample]]:
    """Samples grouped by label; ValueError naming a sample without one."""
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        label = sample_label(s, task)
        if label is None:
            raise ValueError(f"sample {s.id!r} has no {task or 'classification'} label to group by")
        groups.setdefault(label, []).append(s)
    return groups


def select(
    samples: Iterable[Sample],
    limit: int | None = None,
    per_class: int | None = None,
    seed: int = 0,
    task: str | None = None,
    split: str | None = None,
) -> list[Sample]:
    """A deterministic subset, sorted by id.

    ``split`` keeps one official split; ``task`` keeps samples that have that task's target;
    ``per_class`` draws at most that many per label (classes visited in sorted order);
    ``limit`` then draws at most that many overall.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if per_class is not None and per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    pool = sorted(samples, key=lambda s: s.id)
    if split is not None:
        pool = [s for s in pool if s.split == split]
    if task is not None:
        pool = [s for s in pool if s.target(task) is not None]
    rng = np.random.default_rng(seed)
    if per_class is not None:
        groups = _by_label(pool, task)
        pool = [s for label in sorted(groups) for s in _choose(groups[label], per_class, rng)]
        pool.sort(key=lambda s: s.id)
    if limit is not None:
        pool = _choose(pool, limit, rng)
    return pool


def patients(samples: Iterable[Sample]) -> set[str]:
    """The patient (or grouping) ids of samples that have one."""
    return {s.patient_id for s in samples if s.patient_id}


def support_set(
    train_samples: Iterable[Sample],
    k_per_class: int,
    seed: int = 0,
    exclude_patients: set[str] | frozenset[str] = frozenset(),
    task: str | None = None,
) -> list[Sample]:
    """A few-shot support set: k per class from the training samples, sorted by id.

    Samples of any patient in ``exclude_patients`` (the test patients) are dropped first so no
    patient straddles support and test. Classes with fewer than k eligible samples give all
    they have.
    """
    if k_per_class < 1:
        raise ValueError(f"k_per_class must be >= 1, got {k_per_class}")
    pool = [s for s in train_samples if not (s.patient_id and s.patient_id in exclude_patients)]
    return select(pool, per_class=k_per_class, seed=seed, task=task)
