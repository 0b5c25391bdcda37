"""Credentialed data goes to remote providers only with an acknowledgement."""

from __future__ import annotations

import pytest

from medmine.datasets.catalog import get_entry
from medmine.datasets.datause import (
    DataUseError,
    check_data_use,
    is_local_provider,
    parse_acknowledgements,
)


def test_open_dataset_always_allowed() -> None:
    """Open dataset always allowed."""
    check_data_use(get_entry("ham10000"), provider_is_local=False, acknowledged=set())


def test_credentialed_dataset_needs_acknowledgement_for_remote() -> None:
    """Credentialed dataset needs acknowledgement for remote."""
    entry = get_entry("mimic_cxr")
    with pytest.raises(DataUseError) as err:
        check_data_use(entry, provider_is_local=False, acknowledged=set(), provider="openai")
    msg = str(err.value)
    assert "PhysioNet" in msg and "--ack-data-use mimic_cxr=openai" in msg
    check_data_use(entry, False, {"mimic_cxr=openai"}, provider="openai")
    with pytest.raises(DataUseError):
        check_data_use(entry, False, {"mimic_cxr=anthropic"}, provider="openai")
    check_data_use(entry, provider_is_local=True, acknowledged=set())


def test_local_providers() -> None:
    """Local providers."""
    assert is_local_provider("hf_local") and is_local_provider("baseline")
    assert is_local_provider("openai_compatible", "http://127.0.0.1:8000/v1")
    assert is_local_provider("openai_compatible", "http://localhost:11434/v1")
    assert is_local_provider("openai_compatible", "http://[::1]:8000")
    assert not is_local_provider("openai_compatible", "https://api.example.com/v1")
    assert not is_local_provider("openai_compatible", None)
    assert not is_local_provider("openai", "http://127.0.0.1:8000")


def test_parse_acknowledgements() -> None:
    """Parse acknowledgements."""
    assert parse_acknowledgements(["mimic_cxr=openai", " a = b "]) == {"mimic_cxr=openai", "a=b"}
    with pytest.raises(ValueError, match="NAME=PROVIDER"):
        parse_acknowledgements(["mimic_cxr"])
