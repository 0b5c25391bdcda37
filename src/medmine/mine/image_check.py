"""Check the files of an image tree in worker processes, a bounded batch at a time.

Checking a file is CPU work: decoding the image (truncation shows only when the bitstream is
read), reading a DICOM header and rendering its first frame to PNG, and hashing the bytes a
model will be shown (the hash goes into every request key). It runs in a
``ProcessPoolExecutor`` (processes: the GIL would serialise threads), fed batches of
:data:`BATCH` files with at most ``2 × workers`` batches in flight, so the walk never runs
ahead of the checking by more than that, whatever the size of the tree. Results come back in
walk order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from medmine.core import file_sha256
from medmine.core.parallel import process_pool
from medmine.mine.file_index import FileRow
from medmine.mine.images import FoundFile, _dicom_ref, _image_ref, _scrub

BATCH = 64  # files per task sent to a worker
NOT_AN_IMAGE = "not an image (no PNG/JPEG/TIFF/BMP suffix, no DICOM magic)"


@dataclass(frozen=True)
class ToCheck:
    """One file to check: where it is, its id, and its size and mtime when walked."""

    found: FoundFile
    ident: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class CheckSettings:
    """What the check depends on (the same in every worker)."""

    out_dir: Path
    allow_burned_in: bool
    include_uids: bool


def check_one(item: ToCheck, settings: CheckSettings) -> FileRow:
    """Check one file: a sample row (shown image, size, SHA-256, metadata) or a skip row."""
    found = FoundFile(item.found.path, item.ident, item.found.kind)
    rel = item.found.rel if item.found.rel != item.ident else None
    base = {"id": item.ident, "size": item.size, "mtime_ns": item.mtime_ns, "rel": rel}
    if found.kind == "other":
        return FileRow(**base, reason=NOT_AN_IMAGE)
    uids: dict[str, str] | None = None
    try:
        if found.kind == "image":
            ref, meta = _image_ref(found)
        else:
            ref, meta, all_uids = _dicom_ref(found, settings.out_dir, settings.allow_burned_in)
            uids = all_uids if settings.include_uids else None
        st = ref.path.stat()
        digest = file_sha256(ref.path)
    except (ValueError, OSError) as exc:
        return FileRow(**base, reason=_scrub(str(exc), item.found, item.ident))
    width, height = ref.size or (0, 0)
    return FileRow(
        **base, image=str(ref.path), image_size=st.st_size, image_mtime_ns=st.st_mtime_ns,
        width=width, height=height, sha256=digest, meta=meta, uids=uids,
    )  # fmt: skip


def check_batch(items: list[ToCheck], settings: CheckSettings) -> list[FileRow]:
    """Check a batch of files (the unit of work a worker process receives)."""
    return [check_one(item, settings) for item in items]


def check_files(
    items: Iterable[ToCheck], settings: CheckSettings, workers: int
) -> Iterator[list[FileRow]]:
    """Checked batches in input order; ``workers`` > 1 checks in that many processes, with
    at most ``2 × workers`` batches in flight (the input is consumed only as fast as that)."""
    batches = _batches(items, BATCH)
    if workers <= 1:
        yield from (check_batch(b, settings) for b in batches)
        return
    with process_pool(workers) as pool:
        flying: deque[Future[list[FileRow]]] = deque()
        for batch in batches:
            flying.append(pool.submit(check_batch, batch, settings))
            if len(flying) >= 2 * workers:
                yield flying.popleft().result()
        while flying:
            yield flying.popleft().result()


def _batches(items: Iterable[ToCheck], size: int) -> Iterator[list[ToCheck]]:
    batch: list[ToCheck] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
