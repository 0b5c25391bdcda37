"""The image-hash memo lets a run hash each file once, and stays bounded on any archive."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from medmine.core import samples as core_samples
from medmine.core.samples import file_sha256


def test_the_memo_forgets_its_oldest_files_past_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core_samples, "HASH_MEMO_MAX", 8)
    monkeypatch.setattr(core_samples, "_HASH_CACHE", {})
    files = []
    for i in range(30):
        f = tmp_path / f"f{i}.bin"
        f.write_bytes(bytes([i]) * (i + 1))
        files.append(f)
    for f in files:
        assert file_sha256(f) == hashlib.sha256(f.read_bytes()).hexdigest()
        assert len(core_samples._HASH_CACHE) <= 8
    kept = {k[0] for k in core_samples._HASH_CACHE}
    assert str(files[-1]) in kept and str(files[0]) not in kept  # the newest stay
    # A forgotten file is hashed again, correctly.
    assert file_sha256(files[0]) == hashlib.sha256(files[0].read_bytes()).hexdigest()
