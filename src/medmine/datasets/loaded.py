"""The result of loading one suite dataset entry, shared by the catalog and demo loaders.

It lives apart from `sources` (which picks the loader) so the catalog loader can build one
without importing the module that imports it back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from medmine.core import BadSample, Sample


@dataclass
class LoadedDataset:
    """A dataset ready to run: its test samples, the support (training) samples, what failed.

    ``fetch`` is set by a remote source (a DICOMweb archive): it brings the images of the
    samples the suite selected to disk and returns those it could not fetch.
    """

    name: str
    test: list[Sample]
    support: list[Sample]
    bad: list[BadSample] = field(default_factory=list)
    fingerprint: str = ""
    notice: str | None = None
    fetch: Callable[[Sequence[Sample]], list[BadSample]] | None = None
