"""Data-use rules: credentialed datasets go to a remote model only with an acknowledgement.

Datasets under a credentialed data-use agreement (MIMIC-CXR: PhysioNet Credentialed Health
Data License) must not be sent to a third-party API unless the user states that their
agreement allows it for that provider: ``--ack-data-use mimic_cxr=openai``. Local backends
(``hf_local``, ``baseline``, ``openai_compatible`` on a loopback address) are always allowed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlparse

from medmine.datasets.catalog import DatasetEntry

LOCAL_PROVIDERS = frozenset({"hf_local", "baseline"})


class DataUseError(ValueError):
    """Sending this dataset to this provider needs an acknowledgement the user did not give."""


def is_loopback_url(url: str | None) -> bool:
    """Whether a base URL points at this machine (localhost, 127.0.0.0/8, ::1)."""
    if not url:
        return False
    host = urlparse(url if "//" in url else f"//{url}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local_provider(provider: str, base_url: str | None = None) -> bool:
    """Whether a provider runs on this machine: hf_local, baseline, or a loopback server."""
    if provider in LOCAL_PROVIDERS:
        return True
    return provider == "openai_compatible" and is_loopback_url(base_url)


def parse_acknowledgements(values: Iterable[str]) -> set[str]:
    """Validate ``NAME=PROVIDER`` acknowledgements; ValueError naming a malformed one."""
    result = set()
    for value in values:
        name, sep, provider = value.partition("=")
        if not sep or not name.strip() or not provider.strip():
            raise ValueError(f"data-use acknowledgement {value!r} must look like NAME=PROVIDER")
        result.add(f"{name.strip()}={provider.strip()}")
    return result


def check_data_use(
    entry: DatasetEntry,
    provider_is_local: bool,
    acknowledged: set[str],
    provider: str | None = None,
) -> None:
    """Raise DataUseError when a credentialed dataset would go to a remote provider unacknowledged.

    With ``provider`` the acknowledgement must name it (``mimic_cxr=openai``); without it any
    acknowledgement for the dataset counts. Open and registration datasets always pass.
    """
    if entry.access != "credentialed" or provider_is_local:
        return
    names = {entry.name, *entry.aliases}
    for ack in acknowledged:
        name, _, prov = ack.partition("=")
        if name in names and (provider is None or prov == provider):
            return
    who = provider or "PROVIDER"
    raise DataUseError(
        f"dataset {entry.name!r} is credentialed data ({entry.licence}). Sending it to a remote "
        f"model provider may breach its data-use agreement (for MIMIC-CXR, the PhysioNet "
        f"credentialed DUA forbids sharing with third parties that have not agreed to it). "
        f"Use a local backend (hf_local, baseline, or openai_compatible on 127.0.0.1), or, if "
        f"your agreement allows this provider, acknowledge it with "
        f"--ack-data-use {entry.name}={who}."
    )
