"""A job's pending questions held compactly until they are asked.

Preparing a job checks every image and hashes every request up front (so nothing slow
happens while requests are in flight and latencies stay honest), but it keeps only the
sample's position, the repeat and the 32-byte request key of each pending question: about
40 bytes each instead of a whole request. The units are built again, a window at a time, when
the model's workers reach them, so the memory a run holds does not grow with its questions.
"""

from __future__ import annotations

import dataclasses
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from medmine.core import BadSample, Model, Request, Sample
from medmine.core.secrets import redact
from medmine.run.units import Job, Unit, sample_paths

# (model, task, dataset, sample id, repeat, request key): a pending question without its request
Ident = tuple[str, str, str, str, int, str]


@dataclass
class Pending:
    """The pending questions of one prepared job: ``model`` is the model as it answers
    (fitted, wrapped by an executor); ``samples`` are the job's applicable samples."""

    job: Job
    model: Model
    samples: Sequence[Sample]
    _index: array[int] = field(default_factory=lambda: array("I"))
    _repeat: array[int] = field(default_factory=lambda: array("H"))
    _keys: bytearray = field(default_factory=bytearray)

    def add(self, position: int, repeat: int, key: str) -> None:
        """Note one pending question: the sample at ``position``, its repeat and request key."""
        self._index.append(position)
        self._repeat.append(repeat)
        self._keys += bytes.fromhex(key)

    def __len__(self) -> int:
        return len(self._index)

    def _key(self, i: int) -> str:
        return self._keys[32 * i : 32 * i + 32].hex()

    def idents(self) -> Iterator[Ident]:
        """Every pending question's identity and key, without building its request."""
        name, task, ds = self.job.model.name, self.job.task.name, self.job.dataset
        for i, pos in enumerate(self._index):
            yield name, task, ds, self.samples[pos].id, self._repeat[i], self._key(i)

    def units(self, on_bad: Callable[[BadSample], None]) -> Iterator[Unit]:
        """The pending units in order, each request built again from its sample (the task's
        requests are deterministic: the same sample gives the same request and key). A
        sample whose request can no longer be built (its file went away since it was
        checked) is passed to ``on_bad`` and skipped."""
        job, name = self.job, self.job.model.name
        base: Request | None = None
        last = -1
        for i, pos in enumerate(self._index):
            sample = self.samples[pos]
            if pos != last:  # repeats of a sample are consecutive: build its request once
                last = pos
                try:
                    base = job.task.request(sample)
                except (OSError, ValueError) as exc:
                    base = None
                    why = redact(f"{type(exc).__name__}: {exc}")
                    on_bad(BadSample(sample.id, job.dataset, sample_paths(sample), why))
            if base is None:
                continue
            rep = self._repeat[i]
            request = dataclasses.replace(base, repeat=rep) if rep else base
            yield Unit(self.model, name, job.task, job.dataset, sample, rep, request, self._key(i))
