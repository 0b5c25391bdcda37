"""Apply the catalog's data-use rules before anything is sent to a model."""

from __future__ import annotations

from collections.abc import Sequence

from medmine.core import Model
from medmine.datasets.sources import LoadedDataset


def enforce_data_use(
    datasets: Sequence[LoadedDataset], models: Sequence[Model], acknowledged: Sequence[str]
) -> None:
    """Raise before the first request when a credentialed dataset would reach a cloud model
    without the user's acknowledgement (see ``medmine.datasets.datause``)."""
    from medmine.datasets.catalog import get_entry
    from medmine.datasets.datause import check_data_use, is_local_model

    for ds in datasets:
        try:
            entry = get_entry(ds.name)
        except (KeyError, ValueError):
            continue  # built-in generated data (the demo) has no restrictions
        for model in models:
            check_data_use(entry, is_local_model(model), set(acknowledged), model_name=model.name)
