"""Turn a suite's dataset entry into test samples, support samples and recorded bad samples."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from medmine.datasets.loaded import LoadedDataset
from medmine.datasets.spec import DEMO_CATEGORIES, DatasetSpec

__all__ = ["LoadedDataset", "load_for_suite"]


def _demo_loader(category: str) -> Callable[[DatasetSpec, Path | None, int], LoadedDataset]:
    """A loader of one category of the synthetic demo (each category is its own dataset)."""

    def load(spec: DatasetSpec, data_root: Path | None, seed: int) -> LoadedDataset:
        from medmine.datasets.demo import SYNTHETIC_NOTICE, DemoSpec, build_demo

        demo = DemoSpec(seed=seed)
        samples = [s for s in build_demo(demo, spec.folder) if s.category == category]
        name = f"demo-{category}"
        samples = [dataclasses.replace(s, dataset=name) for s in samples]
        return LoadedDataset(
            name,
            [s for s in samples if s.split == spec.split],
            [s for s in samples if s.split == spec.support_split],
            fingerprint=demo.fingerprint(),
            notice=SYNTHETIC_NOTICE,
        )

    return load


# Built-in generated datasets; everything else comes from the catalog of real datasets.
BUILTIN: dict[str, Callable[[DatasetSpec, Path | None, int], LoadedDataset]] = {
    f"demo-{c}": _demo_loader(c) for c in DEMO_CATEGORIES
}


def load_for_suite(
    spec: DatasetSpec, data_root: Path | None = None, seed: int = 0
) -> LoadedDataset:
    """The samples of one suite dataset entry, subset as the entry asks (seeded)."""
    loader = BUILTIN.get(spec.name)
    if loader is None:
        from medmine.datasets.catalog_loader import load_from_catalog

        loaded = load_from_catalog(spec, data_root)
    else:
        loaded = loader(spec, data_root, seed)
    from medmine.datasets.sampling import select

    loaded.test = select(loaded.test, limit=spec.limit, per_class=spec.per_class, seed=seed)
    if loaded.fetch is not None:
        _fetch_selected(loaded)
    return loaded


def _fetch_selected(loaded: LoadedDataset) -> None:
    """Fetch the images of the selected samples (a remote source), drop those that failed,
    and fold the fetched images' content into the fingerprint."""
    from medmine.core import stable_hash

    assert loaded.fetch is not None
    failed = loaded.fetch([*loaded.test, *loaded.support])
    gone = {b.id for b in failed}
    loaded.test = [s for s in loaded.test if s.id not in gone]
    loaded.support = [s for s in loaded.support if s.id not in gone]
    loaded.bad += failed
    contents = sorted(img.content_hash() for s in loaded.test for img in s.images)
    loaded.fingerprint = stable_hash([loaded.fingerprint, contents])
