"""A large job's image files are checked and hashed in worker processes before it is
prepared, with exactly the results checking them in the run's own process gives."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmine.core import ImageRef, LabelTarget, Request, Response, Sample
from medmine.core import samples as core_samples
from medmine.run import image_precheck, validate
from medmine.run.image_precheck import PreCheck
from medmine.run.runner import Job, Runner
from medmine.run.store import RunStore
from medmine.tasks.classification import ClassificationTask

LABELS = ("normal", "pneumonia")


class _Instant:
    name = "instant"
    cache_id = "test:instant"
    max_concurrency = 4

    def describe(self) -> dict[str, str]:
        return {"provider": "test"}

    async def generate(self, request: Request) -> Response:
        return Response(text=json.dumps({"label": "normal"}), model=self.cache_id)


def _samples(folder: Path) -> list[Sample]:
    """40 distinct PNGs, one truncated, one empty and one missing file."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(40):
        p = folder / f"img{i:02d}.png"
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    data = paths[3].read_bytes()
    paths[3].write_bytes(data[: len(data) // 3])
    paths[7].write_bytes(b"")
    paths.append(folder / "gone.png")
    return [
        Sample(f"s{i:02d}", "toy", (ImageRef(p),),
               targets={"classification": LabelTarget(LABELS[i % 2], LABELS)})
        for i, p in enumerate(paths)
    ]  # fmt: skip


def _run(run_dir: Path, samples: list[Sample]) -> tuple[dict[str, str], dict[str, str]]:
    """Run the job; (sample id -> request key of its answer, bad sample id -> reason)."""
    store = RunStore(run_dir)
    runner = Runner(store, None, progress=False)
    asyncio.run(runner.run([Job(_Instant(), ClassificationTask(), "toy", samples)]))
    keys = {r.sample_id: r.request_hash for r in store.results()}
    bad = {b.id: b.reason for b in store.bad_samples()}
    store.close()
    return keys, bad


def test_workers_check_and_hash_the_files_as_this_process_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    samples = _samples(tmp_path)
    counts: list[int] = []
    close = PreCheck.close

    def counting_close(self: PreCheck) -> None:
        counts.append(self.checked)
        close(self)

    monkeypatch.setattr(PreCheck, "close", counting_close)
    monkeypatch.setattr(image_precheck, "MIN_FILES", 8)
    monkeypatch.setattr(image_precheck, "default_workers", lambda: 2)
    monkeypatch.setattr(validate, "_CHECKED", {})
    monkeypatch.setattr(core_samples, "_HASH_CACHE", {})
    by_workers = _run(tmp_path / "workers", samples)
    assert counts == [40]  # every file that exists, each once

    monkeypatch.setattr(image_precheck, "MIN_FILES", 10**9)  # this process checks them
    monkeypatch.setattr(validate, "_CHECKED", {})
    monkeypatch.setattr(core_samples, "_HASH_CACHE", {})
    here = _run(tmp_path / "here", samples)
    assert counts == [40, 0]

    assert by_workers == here
    keys, bad = by_workers
    assert len(keys) == 38 and set(bad) == {"s03", "s07", "s40"}
    assert "corrupt or unreadable image" in bad["s03"] and "img03.png" in bad["s03"]
    assert "empty file" in bad["s07"] and "missing file" in bad["s40"]
