"""Apply the catalog's data-use rules before anything is sent to a model."""

from __future__ import annotations

from collections.abc import Sequence

from medmine.core import Model
from medmine.datasets.sources import LoadedDataset


def enforce_data_use(
    datasets: Sequence[LoadedDataset], models: Sequence[Model], acknowledged: Sequence[str]
) -> None:
    """Raise DataUseError before the first request when a credentialed dataset would reach a
    remote model without the user's acknowledgement (rules in ``medmine.datasets.datause``)."""
    from medmine.datasets.catalog import get_entry
    from medmine.datasets.datause import check_data_use, is_local_provider, parse_acknowledgements

    acks = parse_acknowledgements(acknowledged)
    for ds in datasets:
        try:
            entry = get_entry(ds.name)
        except (KeyError, ValueError):
            continue  # built-in generated data (the demo) has no restrictions
        for model in models:
            info = model.describe()
            provider = str(info.get("provider", "unknown"))
            local = is_local_provider(provider, info.get("base_url"))
            check_data_use(entry, local, acks, provider=provider)
