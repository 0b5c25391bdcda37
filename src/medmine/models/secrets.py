"""Key redaction, re-exported where the backends have always imported it from.

The code lives in :mod:`medmine.core.secrets` (layer 1) so that every layer, the dataset
readers of a DICOMweb archive included, can redact what it stores or prints.
"""

from medmine.core.secrets import (
    MASK,
    redact,
    redact_value,
    register_key_env,
    safe_url,
    scrub,
    secret_values,
)

__all__ = [
    "MASK",
    "redact",
    "redact_value",
    "register_key_env",
    "safe_url",
    "scrub",
    "secret_values",
]
