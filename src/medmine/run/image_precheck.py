"""Check and hash a job's image files in worker processes before the job is prepared.

Preparing a job decodes every image it will send (a truncated file shows only when its
bitstream is read) and hashes it (the hash is part of every request key): CPU work that
dominates preparing a large image dataset. For a chunk with many files not checked yet, the
files are checked in a ``ProcessPoolExecutor`` (processes: the GIL would serialise threads),
and the results seed the memos :func:`~medmine.run.validate.image_problem` and
:func:`~medmine.core.samples.file_sha256` read, so the preparing loop then finds every
answer memoised. The results are the same as checking in this process; only the time differs.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from medmine.core import ImageRef
from medmine.core.parallel import default_workers, process_pool
from medmine.core.samples import file_sha256, remember_file_hash
from medmine.run.validate import image_problem, is_checked, remember_checked

BATCH = 64  # files per task sent to a worker
MIN_FILES = 256  # fewer unchecked files than this are checked faster here than by workers

Key = tuple[str, int, int]  # (path, size, mtime_ns): the memos' key


def check_batch(paths: list[str]) -> list[tuple[Key, str | None, str | None]]:
    """Check and hash a batch of files (in a worker): (memo key, problem, SHA-256) each. A
    file that cannot be stat'ed is left out: the preparing loop reports it by name."""
    out: list[tuple[Key, str | None, str | None]] = []
    for name in paths:
        path = Path(name)
        try:
            st = path.stat()
        except OSError:
            continue
        key = (name, st.st_size, st.st_mtime_ns)
        problem = image_problem(ImageRef(path))
        digest: str | None = None
        if problem is None:
            try:
                digest = file_sha256(path)
            except OSError:
                digest = None
        out.append((key, problem, digest))
    return out


class PreCheck:
    """Checks the unchecked image files of each chunk in worker processes (started on first
    need, stopped by :meth:`close`)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else default_workers()
        self._pool: ProcessPoolExecutor | None = None
        self.checked = 0  # files checked by the workers

    def check(self, refs: Iterable[ImageRef]) -> None:
        """Check these images' files (once each) in the workers when there are enough
        unchecked ones to be worth it; otherwise leave them to the preparing loop."""
        if self.workers <= 1:
            return
        todo: list[str] = []
        seen: set[str] = set()
        for ref in refs:
            name = str(ref.path)
            if name in seen:
                continue
            seen.add(name)
            try:
                st = ref.path.stat()
            except OSError:
                continue  # reported by the preparing loop, by name
            if not is_checked((name, st.st_size, st.st_mtime_ns)):
                todo.append(name)
        if len(todo) < MIN_FILES:
            return
        batches = [todo[i : i + BATCH] for i in range(0, len(todo), BATCH)]
        for results in self._workers().map(check_batch, batches):
            for key, problem, digest in results:
                remember_checked(key, problem)
                if digest is not None:
                    remember_file_hash(key, digest)
                self.checked += 1

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = process_pool(self.workers)
        return self._pool

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
