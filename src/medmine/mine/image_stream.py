"""``medmine mine TREE``: an image folder or DICOM tree mined in flat memory, resumable.

Four passes, none of which holds the tree in memory:

1. **walk and check**: :func:`medmine.mine.images.walk_files` yields the files lazily (one
   folder listed at a time); files not seen before (or changed: size or mtime) are checked in
   worker processes a bounded batch at a time (:mod:`medmine.mine.image_check`: decode, DICOM
   render, SHA-256) and each batch is committed to ``<out>/mine_files.sqlite``
   (:mod:`medmine.mine.file_index`, which also says why resume trusts path + size + mtime).
2. **estimate**: the samples are rebuilt from the index a chunk at a time and the Runner
   prepares them (:func:`medmine.mine.chunked.plan_chunks`); the estimate is printed and, for
   a paid model, confirmed.
3. **ask**: the same chunks go to the Runner (:func:`medmine.mine.chunked.ask_chunks`): the
   store, cache, resume, budget and executor are ``medmine run``'s. The hashes and checks
   made by the workers are handed to the driver's memo for the chunk in flight only, so the
   driver reads no pixels and its memo stays bounded.
4. **write**: the index (in id order) is joined with the stored answers (in the same order)
   and each file's result is appended to the outputs (:class:`medmine.mine.outputs.OutputWriter`).

The outputs are the same, byte for byte, as mining the same tree with everything in memory
(``build_inputs`` + one ``Runner.run`` + ``collect_results`` + ``write_outputs``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from medmine.core import ImageRef, Sample
from medmine.core.parallel import default_workers
from medmine.core.samples import forget_file_hash, remember_file_hash
from medmine.mine.chunked import ask_chunks, chunked, make_mining_executor, plan_chunks
from medmine.mine.command import (
    Confirm,
    MineOutcome,
    Say,
    _record_manifest,
    _task_for,
    check_local_only,
    check_model_for_task,
    check_numbers,
    preflight_model,
    resolve_mining_model,
)
from medmine.mine.file_index import FileIndex, FileRow
from medmine.mine.ids import FileIds
from medmine.mine.image_check import CheckSettings, ToCheck, check_files
from medmine.mine.images import MiningQuestion, walk_files
from medmine.mine.outputs import NOT_ANSWERED, FileResult
from medmine.run.store import ResponseCache, RunStore
from medmine.run.validate import forget_checked, remember_checked

SEEN_FLUSH = 1000  # unchanged files stamped per transaction


def index_tree(
    root: Path, out_dir: Path, index: FileIndex, ids: FileIds, settings: CheckSettings,
    workers: int,
) -> None:  # fmt: skip
    """Walk the tree and record every file in the index: unchanged files are stamped without
    being opened, new or changed ones are checked in ``workers`` processes (see module doc)."""
    seen: list[str] = []

    def to_check() -> Iterator[ToCheck]:
        for found in walk_files(root, exclude=[out_dir]):
            ident = ids.id_for(found.rel)
            st = found.path.stat()
            row = index.known(ident, st.st_size, st.st_mtime_ns)
            if row is not None and _still_shown(row):
                seen.append(ident)
                if len(seen) >= SEEN_FLUSH:
                    index.seen(seen)
                    seen.clear()
                continue
            yield ToCheck(found, ident, st.st_size, st.st_mtime_ns)

    for batch in check_files(to_check(), settings, workers):
        index.put(batch)
    index.seen(seen)


def _still_shown(row: FileRow) -> bool:
    """Whether the image a model is shown is the one checked (a rendered PNG may be gone)."""
    if row.image is None:
        return True
    try:
        st = Path(row.image).stat()
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) == (row.image_size, row.image_mtime_ns)


def sample_chunks(
    index: FileIndex, question: MiningQuestion, dataset: str
) -> Iterator[list[Sample]]:
    """The mining samples, a chunk at a time in id order, with the workers' checks and hashes
    in the driver's memo while their chunk is out (forgotten once the next one is asked for)."""
    target = question.target()
    for rows in chunked(index.rows(samples_only=True)):
        for r in rows:
            remember_file_hash(r.memo_key, r.sha256)
            remember_checked(r.memo_key, None)
        try:
            yield [
                Sample(
                    id=r.id,
                    dataset=dataset,
                    images=(ImageRef(Path(str(r.image)), size=(r.width, r.height)),),
                    targets={question.task_name: target},
                    meta={"mining": True, "source": r.id, **r.meta},
                )
                for r in rows
            ]
        finally:
            for r in rows:
                forget_file_hash(r.memo_key)
                forget_checked(r.memo_key)


def iter_results(
    store: RunStore, index: FileIndex, model: str, task: str, dataset: str
) -> Iterator[FileResult]:
    """One result per file of this run in id order: the index merged with the stored answers
    (both read in id order, so nothing is held but the current row of each)."""
    bad = {b.id: b.reason for b in store.bad_samples() if b.dataset == dataset}
    answers = (r for r in store.results(model, task, dataset) if r.repeat == 0)
    answer = next(answers, None)
    for row in index.rows():
        while answer is not None and answer.sample_id < row.id:
            answer = next(answers, None)
        if row.image is None:
            yield FileResult(row.id, "skipped", row.reason)
            continue
        size, note = (row.width, row.height), row.meta.get("note")
        if answer is None or answer.sample_id != row.id:
            reason = bad.get(row.id)
            status = "skipped" if reason is not None else "not_answered"
            yield FileResult(
                row.id, status, reason or NOT_ANSWERED, image_size=size, note=note, uids=row.uids
            )
            continue
        r, p = answer.response, answer.prediction
        yield FileResult(
            file=row.id, status=p.status.value, detail=p.detail,
            raw_answer=r.text if r.error is None else None, parsed=p.value,
            usage={"input_tokens": r.usage.input_tokens, "output_tokens": r.usage.output_tokens,
                   "estimated": r.usage.estimated},
            cost_usd=r.cost_usd, latency_s=r.latency_s, cached=answer.cached, image_size=size,
            uids=row.uids, note=note,
        )  # fmt: skip


def write_streamed(
    store: RunStore, index: FileIndex, model: str, task: str, dataset: str,
    question: MiningQuestion, out_dir: Path,
) -> tuple[list[Path], Counter[str]]:  # fmt: skip
    """Write every output from the index and the store, a file at a time; the statuses."""
    from medmine.mine.outputs import _OUTPUT_SUFFIXES, OutputWriter

    probs = task == "classification" and any(
        isinstance(r.parsed, dict) and r.parsed.get("probabilities")
        for r in iter_results(store, index, model, task, dataset)
    )
    with_uids = any(r.uids for r in index.rows())
    writer = OutputWriter(
        task, out_dir, labels=question.labels, structure=question.structure, with_probs=probs,
        with_uids=with_uids, clashes=frozenset(index.clashing_names(_OUTPUT_SUFFIXES)),
    )  # fmt: skip
    statuses: Counter[str] = Counter()
    try:
        for result in iter_results(store, index, model, task, dataset):
            statuses[result.status] += 1
            writer.add(result)
    finally:
        written = writer.close()
    return written, statuses


def mine_images(
    root: Path,
    question: MiningQuestion,
    model_name: str,
    out_dir: Path,
    *,
    say: Say = print,
    confirm: Confirm | None = None,
    max_cost: float | None = None,
    local_only: bool = False,
    allow_burned_in: bool = False,
    include_uids: bool = False,
    concurrency: int | None = None,
    use_cache: bool = True,
    progress: bool = True,
    presets: Sequence[Path] = (),
    anonymize_ids: bool | None = None,
    workers: int | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    ray_workers: int | None = None,
) -> MineOutcome:
    """Mine every image / DICOM file under ``root`` into ``out_dir`` (see the module doc and
    :mod:`medmine.mine.command`). ``workers`` processes check the files (default: the cores,
    at most 8); ``executor="ray"`` has the model answer on Ray actors.

    ``anonymize_ids`` (default: on when the tree holds DICOM) replaces path-derived ids with
    keyed hashes; the id <-> path map goes to a separate local file (see mine/ids.py)."""
    from medmine.core import cache_dir
    from medmine.run.recipe import environment

    root, out_dir = Path(root), Path(out_dir)
    check_numbers(max_cost, concurrency)
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    if not root.exists():
        raise ValueError(f"{root}: not found (expected a folder of images or a DICOM tree)")
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir}: is a file; expected a folder")
    model = resolve_mining_model(model_name, presets)
    if local_only:
        check_local_only(model)
    preflight_model(model)
    check_model_for_task(model, question.task_name)
    task = _task_for(question, model)
    out_dir.mkdir(parents=True, exist_ok=True)
    if anonymize_ids is None:
        say(f"reading {root}…")
        anonymize_ids = any(f.kind == "dicom" for f in walk_files(root, exclude=[out_dir]))
    ids = FileIds(out_dir, anonymize=anonymize_ids, remember=False)  # the index keeps the map
    dataset = "mine:anonymized" if anonymize_ids else f"mine:{root.name}"
    checks = CheckSettings(out_dir, allow_burned_in, include_uids)
    identity = {"root": str(root.resolve()), "anonymize": anonymize_ids}
    index = FileIndex(out_dir, {**identity, **vars(checks), "out_dir": None}, anonymize_ids)
    store: RunStore | None = None
    cache: ResponseCache | None = None
    try:
        say(f"checking the files under {root} (DICOM rendered once to PNG)…")
        index_tree(root, out_dir, index, ids, checks, workers or default_workers())
        id_map = ids.write_map(index.id_map())
        if id_map is not None:
            say(f"file ids are anonymized; the id <-> path map (keep it private) is in {id_map}")
        n_files, n_samples = index.counts()
        if not n_files:
            raise ValueError(f"{root}: holds no file to mine")
        say(
            f"{n_files} file(s) under {root}: {n_samples} to mine, "
            f"{n_files - n_samples} skipped (see skipped.csv)"
        )
        store = RunStore(out_dir)
        cache = ResponseCache(cache_dir()) if use_cache else None
        shown_root = Path("<anonymized>") if anonymize_ids else root
        _record_manifest(store, shown_root, question, model, task, allow_burned_in, include_uids)
        store.set_manifest({"environment": environment()})
        estimate = plan_chunks(
            store, cache, model, task, dataset, sample_chunks(index, question, dataset),
            say, confirm,
        )  # fmt: skip
        store.event("mine", f"started: {estimate.n_items} pending, {estimate.n_done} done")
        runner_executor = make_mining_executor(executor, ray_address, ray_workers)
        try:
            runner = ask_chunks(
                store, cache, model, task, dataset, sample_chunks(index, question, dataset),
                max_cost=max_cost, concurrency=concurrency, progress=progress,
                executor=runner_executor,
            )  # fmt: skip
        finally:
            if runner_executor is not None:
                store.set_manifest({"executor": runner_executor.summary()})  # type: ignore[attr-defined]
                runner_executor.close()  # type: ignore[attr-defined]
        spent = store.spent()
        store.set_manifest({"finished": time.time(), "spent_usd": spent})
        written, statuses = write_streamed(
            store, index, model.name, task.name, dataset, question, out_dir
        )
    finally:
        index.close()
        if store is not None:
            store.close()
        if cache is not None:
            cache.close()
    return MineOutcome(
        out_dir=out_dir,
        estimate=estimate,
        summary=runner.summary,
        spent_usd=spent,
        statuses=statuses,
        written=written,
        stopped=dict(runner.summary.stopped_models),
    )
