"""A run of many samples against a fast model that logs every answer it gives, for kill tests.

    python fast_run.py OUT N LOG [DELAY_S]

The model answers like a real vision model (a short JSON object, sometimes prose around it)
after ``DELAY_S`` seconds, logging the sample id *after* the answer exists (so the log is
the set of answers the run had in hand), written at once (line-buffered), so a SIGKILL loses
none of it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from medmine.core import ImageRef, LabelTarget, Request, Response, Sample
from medmine.run.runner import Job, Runner
from medmine.run.store import RunStore
from medmine.tasks.classification import ClassificationTask

LABELS = ("normal", "pneumonia")
CONCURRENCY = 8


def samples(folder: Path, n: int) -> list[Sample]:
    """n samples over 8 small images (written once)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(8):
        p = folder / f"img{i}.png"
        if not p.exists():
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return [
        Sample(
            f"s{i:05d}",
            "kill",
            (ImageRef(paths[i % 8], (16, 16)),),
            targets={"classification": LabelTarget(LABELS[i % 2], LABELS)},
        )
        for i in range(n)
    ]


class LoggingModel:
    """Answers after a short delay and appends each answered sample id to a log."""

    name = "fast"
    cache_id = "test:fast"
    max_concurrency = CONCURRENCY

    def __init__(self, log: Path, delay: float) -> None:
        self.log = open(log, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (process-long)
        self.delay = delay

    def describe(self) -> dict[str, str]:
        return {"provider": "test"}

    async def generate(self, request: Request) -> Response:
        await asyncio.sleep(self.delay)
        sid = request.intent.sample_id
        label = LABELS[int(sid[1:]) % 3 == 0]
        text = (
            json.dumps({"label": label})
            if int(sid[1:]) % 5
            else f'The chest film suggests {label}.\n```json\n{{"label": "{label}"}}\n```'
        )
        self.log.write(sid + "\n")
        return Response(text=text, model=self.cache_id, latency_s=self.delay)


def main() -> None:
    out, n, log = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.001
    store = RunStore(out)
    runner = Runner(store, None, progress=False)  # no cache: 8 images make 8 distinct requests
    job = Job(
        LoggingModel(log, delay), ClassificationTask(), "kill", samples(out.parent / "img", n)
    )
    try:
        ready = asyncio.run(runner.run([job]))
        if not runner.summary.interrupted:
            runner.score(ready)
    finally:
        store.close()
    print(json.dumps({"resent": runner.summary.resent, "interrupted": runner.summary.interrupted}))


if __name__ == "__main__":
    main()
