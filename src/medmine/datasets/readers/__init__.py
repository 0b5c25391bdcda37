"""Generic dataset format readers: each ``read_<format>(root, *, ctx, **args) -> DatasetRead``."""

from medmine.datasets.readers.base import DatasetRead, MaskRule, ReadContext

__all__ = ["DatasetRead", "MaskRule", "ReadContext"]
