"""Classification baselines: the majority class and a k-shot nearest-centroid classifier."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from medmine.baselines.base import Baseline
from medmine.baselines.features import image_features
from medmine.baselines.registry import register_baseline
from medmine.core import LabelTarget, Request, Sample, Task, stable_hash


def _labels_of(support: Sequence[Sample], task: Task) -> list[tuple[Sample, str]]:
    out = []
    for s in support:
        t = s.target(task.kind)
        if isinstance(t, LabelTarget):
            out.append((s, t.label))
    if not out:
        raise ValueError(
            "needs labelled training samples: the support set is empty (the download has no "
            "support split; `support_split:` equal to the suite's `split:` holds out a fifth "
            "of its patients)"
        )
    return out


class MajorityClass(Baseline):
    """Always answers the most frequent training label (ties: alphabetical)."""

    name = "majority"
    tasks = frozenset({"classification"})

    def fit(self, support: Sequence[Sample], task: Task) -> MajorityClass:
        """A copy that answers the training split's most common label."""
        counts = Counter(label for _, label in _labels_of(support, task))
        fitted = copy.copy(self)
        fitted.label = min(counts, key=lambda k: (-counts[k], k))
        fitted.state_id = stable_hash(sorted(counts.items()))
        return fitted

    def answer(self, request: Request) -> dict[str, Any]:
        """The majority label, with probability 1."""
        label = getattr(self, "label", None)
        if label is None:
            raise ValueError("majority baseline used before fit()")
        return {
            "label": label,
            "probabilities": {lab: float(lab == label) for lab in request.intent.labels},
        }


class NearestCentroid(Baseline):
    """k-shot nearest centroid on colour/intensity/edge features, with softmax probabilities."""

    name = "nearest-centroid"
    tasks = frozenset({"classification"})

    def __init__(self, name: str | None = None, k: int = 5, seed: int = 0) -> None:
        super().__init__(name, k=k, seed=seed)
        self.k = k
        self.seed = seed

    def fit(self, support: Sequence[Sample], task: Task) -> NearestCentroid:
        """A copy holding one centroid per class from k seeded training images per class."""
        by_class: dict[str, list[Sample]] = {}
        for s, label in _labels_of(support, task):
            by_class.setdefault(label, []).append(s)
        rng = np.random.default_rng(self.seed)
        chosen: dict[str, list[Sample]] = {}
        for label in sorted(by_class):
            pool = sorted(by_class[label], key=lambda s: s.id)
            idx = rng.permutation(len(pool))[: self.k]
            chosen[label] = [pool[i] for i in sorted(idx)]
        feats = {
            lab: np.stack([image_features(s.images[0]) for s in ss]) for lab, ss in chosen.items()
        }
        allf = np.concatenate(list(feats.values()))
        fitted = copy.copy(self)
        fitted.mu, fitted.sd = allf.mean(0), allf.std(0) + 1e-6
        fitted.centroids = {lab: ((f - fitted.mu) / fitted.sd).mean(0) for lab, f in feats.items()}
        fitted.state_id = stable_hash({lab: [s.id for s in ss] for lab, ss in chosen.items()})
        return fitted

    def answer(self, request: Request) -> dict[str, Any]:
        """The nearest class centroid, and softmax(-distance) as probabilities."""
        centroids = getattr(self, "centroids", None)
        if centroids is None:
            raise ValueError("nearest-centroid baseline used before fit()")
        x = (image_features(request.intent.images[0]) - self.mu) / self.sd
        labels = sorted(centroids)
        d = np.array([np.linalg.norm(x - centroids[lab]) for lab in labels])
        z = np.exp(-(d - d.min()))
        p = z / z.sum()
        best = labels[int(np.argmin(d))]
        return {
            "label": best,
            "probabilities": {lab: round(float(v), 6) for lab, v in zip(labels, p, strict=True)},
        }


register_baseline("majority", lambda: MajorityClass(), default=True)
register_baseline("nearest-centroid", lambda: NearestCentroid(k=5, seed=0), default=True)
