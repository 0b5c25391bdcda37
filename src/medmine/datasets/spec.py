"""How a suite names one dataset: the catalog name, where it lives and how to sample it.

It lives with the datasets (not the suites) because the dataset loaders read it, and the
suites, one layer up, embed it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEMO_CATEGORIES = ("dermatology", "radiology", "dentistry", "ophthalmology", "endoscopy", "reports")


class DatasetSpec(BaseModel):
    """One dataset of a suite: a catalog name, where it lives, and how to sample it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    root: Path | None = None
    split: str = "test"
    support_split: str | None = "train"
    limit: int | None = Field(default=None, ge=1)
    per_class: int | None = Field(default=None, ge=1)
