"""``medmine mine dicomweb+http://...``: mine a DICOMweb archive in bounded chunks.

The archive is streamed (see :mod:`medmine.datasets.dicomweb_archive`): instances are
selected, fetched, rendered to header-free PNGs under ``<out>/pixels/``, asked and written
``chunk_size`` at a time, so memory does not grow with the archive. Resuming is by
construction: a PNG already rendered is not fetched again, and an answered instance is not
asked again (the run store).

Identities: each instance's id is ``dw-`` plus a keyed hash (HMAC-SHA-256) of its SOP Instance
UID under a random key kept in ``<out>/id.key`` (owner-only). The same key gives the same ids
on a rerun, and whoever holds the key (and the archive) can join ids back to instances; the
UIDs themselves are written (``study_uid``, ``series_uid``, ``sop_uid`` columns in the task's
table and ``results.jsonl``, and a ``uids`` object in each sidecar) only with
``--include-uids``. Outputs: the task's table as for local images, ``results.jsonl``,
``skipped.csv``, and one sidecar JSON per instance under ``<out>/sidecars/``. Nothing is
written to the archive.
"""

from __future__ import annotations

import asyncio
import csv
import json
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from medmine.core import ImageRef, Model, Sample
from medmine.core.secrets import redact
from medmine.datasets.dicomweb_archive import (
    ArchiveInstance,
    ArchiveQuery,
    DicomWebArchive,
    MatchCounts,
)
from medmine.datasets.dicomweb_ids import anonymous_id, id_key
from medmine.mine.command import (
    Confirm,
    MineOutcome,
    MiningCancelled,
    Say,
    _task_for,
    check_local_only,
    check_model_for_task,
    resolve_mining_model,
)
from medmine.mine.estimate import CostEstimate, estimate_cost, model_provider
from medmine.mine.images import PIXELS_DIR, MiningInputs, MiningQuestion, Skipped
from medmine.mine.outputs import FileResult, collect_results, write_outputs
from medmine.run.runner import Job, Runner, RunSummary
from medmine.run.store import ResponseCache, RunStore

CHUNK_SIZE = 64
DATASET = "mine:dicomweb"
SIDECARS = "sidecars"
PARTS = "parts"


@dataclass
class DicomWebOptions:
    """How to mine an archive (the command line's options)."""

    query: ArchiveQuery
    dry_run: bool = False
    allow_burned_in: bool = False
    include_uids: bool = False
    chunk_size: int = CHUNK_SIZE


# ------------------------------------------------------------------------------ samples
def _sample(
    archive: DicomWebArchive,
    inst: ArchiveInstance,
    sample_id: str,
    question: MiningQuestion,
    out_dir: Path,
) -> Sample:
    """The mining Sample of one instance, fetching and rendering frame 1 unless on disk."""
    from medmine.datasets.dicomweb_archive import frame_dataset
    from medmine.models.images import render_dicom

    png = out_dir / PIXELS_DIR / f"{sample_id}.png"
    if not png.is_file():
        frame = archive.fetch_frame(inst)
        ds = frame_dataset(inst, frame, archive.fetch_luts(inst))
        image = render_dicom(ds, 0, name=f"instance {sample_id}")
        png.parent.mkdir(parents=True, exist_ok=True)
        tmp = png.with_name(png.name + ".tmp")
        image.save(tmp, format="PNG")
        tmp.replace(png)
    meta: dict[str, object] = {"mining": True, "kind": "dicomweb", "frames": inst.frames}
    if inst.frames > 1:
        meta["note"] = f"multi-frame instance ({inst.frames} frames): frame 1 mined"
    return Sample(
        id=sample_id,
        dataset=DATASET,
        images=(ImageRef(png, size=(inst.cols, inst.rows)),),
        targets={question.task_name: question.target()},
        meta=meta,
    )


def _chunk_inputs(
    archive: DicomWebArchive,
    chunk: Sequence[ArchiveInstance],
    key: bytes,
    question: MiningQuestion,
    out_dir: Path,
    opts: DicomWebOptions,
) -> MiningInputs:
    """Samples of one chunk; burned-in, unfetchable or unrenderable instances skipped."""
    inputs = MiningInputs(n_files=len(chunk))
    for inst in chunk:
        sample_id = anonymous_id(key, inst.sop_uid)
        if opts.include_uids:
            inputs.uids[sample_id] = inst.uids
        if inst.burned_in and not opts.allow_burned_in:
            inputs.skipped.append(
                Skipped(
                    sample_id,
                    "BurnedInAnnotation = YES (text in the pixels may identify the patient); "
                    "pass --allow-burned-in to mine it anyway",
                )
            )
            continue
        try:
            inputs.samples.append(_sample(archive, inst, sample_id, question, out_dir))
        except (ValueError, ImportError) as exc:
            inputs.skipped.append(Skipped(sample_id, redact(str(exc))))
    return inputs


# ------------------------------------------------------------------------------ estimate
def _placeholder(inst: ArchiveInstance, question: MiningQuestion) -> Sample:
    """A sample standing for an instance not fetched yet (its size is known from the search)."""
    return Sample(
        id=inst.sop_uid,
        dataset=DATASET,
        images=(ImageRef(Path("(not fetched)"), size=(inst.cols, inst.rows)),),
        targets={question.task_name: question.target()},
        meta={"mining": True},
    )


def plan(
    archive: DicomWebArchive,
    question: MiningQuestion,
    model: Model,
    task: Any,
    opts: DicomWebOptions,
    done: set[str],
    key: bytes | None,
) -> tuple[MatchCounts, CostEstimate]:
    """Count what the query selects and estimate the cost of asking the pending instances.

    Only searches run here (nothing is fetched or sent). Requests are estimated one size at a
    time, so memory stays flat however many instances match.
    """
    counts = MatchCounts()
    per_size: Counter[tuple[int, int]] = Counter()
    n_done = 0
    for inst in archive.instances(opts.query, counts):
        if inst.burned_in and not opts.allow_burned_in:
            continue
        if key is not None and anonymous_id(key, inst.sop_uid) in done:
            n_done += 1
            continue
        per_size[(inst.cols, inst.rows)] += 1
    requests = []
    for (cols, rows), n in per_size.items():
        inst = ArchiveInstance("", "", "size", rows, cols, 1, False, {})
        requests.extend([task.request(_placeholder(inst, question))] * n)
    return counts, estimate_cost(model, requests, task.name, n_done=n_done)


def _count_lines(counts: MatchCounts, archive: DicomWebArchive) -> list[str]:
    lines = [
        f"{archive.url}: {counts.studies} studies, {counts.series} series, "
        f"{counts.instances} instances selected"
    ]
    if counts.burned_in:
        lines.append(
            f"{counts.burned_in} instance(s) have burned-in annotation and will be skipped "
            "(--allow-burned-in to mine them)"
        )
    return lines


# ------------------------------------------------------------------------------ the run
def _batched(items: Iterator[ArchiveInstance], n: int) -> Iterator[list[ArchiveInstance]]:
    while chunk := list(islice(items, n)):
        yield chunk


def _add(total: RunSummary, part: RunSummary) -> None:
    total.asked += part.asked
    total.from_cache += part.from_cache
    total.resumed += part.resumed
    total.errors += part.errors
    total.bad_samples += part.bad_samples
    total.stopped_models.update(part.stopped_models)


def mine_dicomweb(
    source: str,
    question: MiningQuestion,
    model_name: str,
    out_dir: Path,
    opts: DicomWebOptions,
    *,
    say: Say = print,
    confirm: Confirm | None = None,
    max_cost: float | None = None,
    local_only: bool = False,
    concurrency: int | None = None,
    use_cache: bool = True,
    progress: bool = True,
    presets: Sequence[Path] = (),
) -> MineOutcome | None:
    """Mine the instances of a DICOMweb archive that the query selects (None for a dry run)."""
    from medmine.core import cache_dir
    from medmine.run.recipe import environment

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir}: is a file; expected a folder")
    archive = DicomWebArchive(source)
    model = resolve_mining_model(model_name, presets)
    if local_only:
        check_local_only(model)
    check_model_for_task(model, question.task_name)
    task = _task_for(question, model)
    if opts.dry_run:
        counts, estimate = plan(archive, question, model, task, opts, set(), None)
        for line in [*_count_lines(counts, archive), *estimate.lines()]:
            say(line)
        say("dry run: nothing was fetched or sent")
        return None
    key = id_key(out_dir)
    store = RunStore(out_dir)
    cache = ResponseCache(cache_dir()) if use_cache else None
    summary = RunSummary()
    statuses: Counter[str] = Counter()
    parts = out_dir / PARTS
    shutil.rmtree(parts, ignore_errors=True)
    try:
        done = {r.sample_id for r in store.results(model.name, task.name, DATASET) if r.repeat == 0}
        counts, estimate = plan(archive, question, model, task, opts, done, key)
        for line in [*_count_lines(counts, archive), *estimate.lines()]:
            say(line)
        provider, _ = model_provider(model)
        pending = estimate.n_items > 0
        if pending and provider != "baseline" and confirm is not None and not confirm(estimate):
            raise MiningCancelled("cancelled: nothing was fetched or sent")
        store.set_manifest(
            {
                "command": "mine",
                "source": archive.url,
                "selection": opts.query.describe(),
                "question": {
                    "task": question.task,
                    "labels": list(question.labels),
                    "structure": question.structure,
                },
                "model": model.describe(),
                "task": {"name": task.name, "version": task.version},
                "allow_burned_in": opts.allow_burned_in,
                "include_uids": opts.include_uids,
                "ids": "dw- + HMAC-SHA-256 of the SOP Instance UID under <out>/id.key",
                "environment": environment(),
            }
        )
        asyncio.run(
            _mine_chunks(archive, question, model, task, out_dir, opts, store, cache, summary,
                         statuses, say, concurrency=concurrency, progress=progress,
                         max_cost=max_cost)
        )  # fmt: skip
        spent = store.spent()
        store.set_manifest({"finished": time.time(), "spent_usd": spent})
    finally:
        store.close()
        if cache is not None:
            cache.close()
    written = _merge_parts(parts, out_dir)
    say(f"fetched {archive.fetched} instance(s) from the archive in this run")
    return MineOutcome(
        out_dir=out_dir,
        estimate=estimate,
        summary=summary,
        spent_usd=spent,
        statuses=statuses,
        written=written,
        stopped=dict(summary.stopped_models),
    )


async def _mine_chunks(
    archive: DicomWebArchive,
    question: MiningQuestion,
    model: Model,
    task: Any,
    out_dir: Path,
    opts: DicomWebOptions,
    store: RunStore,
    cache: ResponseCache | None,
    summary: RunSummary,
    statuses: Counter[str],
    say: Say,
    **runner_options: Any,
) -> None:
    """Fetch, ask and write one chunk at a time, in one event loop (one HTTP client)."""
    key = id_key(out_dir)
    parts = out_dir / PARTS
    instances = archive.instances(opts.query)
    try:
        for n, chunk in enumerate(_batched(instances, opts.chunk_size)):
            inputs = await asyncio.to_thread(
                _chunk_inputs, archive, chunk, key, question, out_dir, opts
            )
            runner = Runner(store, cache, **runner_options)
            if inputs.samples:
                await runner.run([Job(model, task, DATASET, inputs.samples)])
            _add(summary, runner.summary)
            results = collect_results(store, model.name, task.name, DATASET, inputs)
            statuses.update(r.status for r in results)
            write_outputs(
                results,
                task.name,
                parts / f"{n:06d}",
                labels=question.labels,
                structure=question.structure,
            )
            _write_sidecars(results, out_dir / SIDECARS)
            say(f"chunk {n + 1}: {len(chunk)} instance(s) done")
    finally:
        closer = getattr(model, "aclose", None)
        if closer is not None:
            await closer()


# ------------------------------------------------------------------------------ outputs
def _write_sidecars(results: Sequence[FileResult], folder: Path) -> None:
    """One ``<id>.json`` per instance: status, answer, parsed value (+ UIDs when kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    for r in results:
        obj: dict[str, Any] = {
            "id": r.file,
            "status": r.status,
            "detail": r.detail,
            "parsed": r.parsed,
            "raw_answer": r.raw_answer,
            "image_size": list(r.image_size) if r.image_size else None,
            "note": r.note,
        }
        if r.uids:
            obj["uids"] = r.uids
        (folder / f"{r.file}.json").write_text(json.dumps(obj, ensure_ascii=False, indent=1))


def _merge_parts(parts: Path, out_dir: Path) -> list[Path]:
    """Concatenate each chunk's tables into the output folder (streamed, headers once)."""
    written: list[Path] = []
    chunks = sorted(p for p in parts.iterdir() if p.is_dir()) if parts.is_dir() else []
    names = sorted({f.name for c in chunks for f in c.iterdir()})
    for name in names:
        target = out_dir / name
        sources = [c / name for c in chunks if (c / name).exists()]
        if sources[0].is_dir():
            for src in sources:
                shutil.copytree(src, target, dirs_exist_ok=True)
        elif name.endswith(".csv"):
            _concat_csv(sources, target)
        elif name.endswith(".jsonl"):
            with target.open("w", encoding="utf-8") as out:
                for src in sources:
                    with src.open(encoding="utf-8") as fh:
                        shutil.copyfileobj(fh, out)
        elif name.endswith(".json"):
            _merge_coco(sources, target)
        written.append(target)
    shutil.rmtree(parts, ignore_errors=True)
    return written


def _concat_csv(sources: Sequence[Path], target: Path) -> None:
    """One CSV from several with the same columns; the widest header wins (UIDs, probs)."""
    headers = []
    for src in sources:
        with src.open(encoding="utf-8", newline="") as fh:
            headers.append(next(csv.reader(fh), []))
    columns = max(headers, key=len)
    with target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, columns, lineterminator="\n")
        writer.writeheader()
        for src in sources:
            with src.open(encoding="utf-8", newline="") as fh:
                for row in csv.DictReader(fh):
                    writer.writerow({c: row.get(c, "") for c in columns})


def _merge_coco(sources: Sequence[Path], target: Path) -> None:
    """One COCO file from the chunks' files, image and annotation ids renumbered."""
    merged: dict[str, Any] = {"images": [], "annotations": [], "categories": []}
    for src in sources:
        data = json.loads(src.read_text())
        offset_img = len(merged["images"])
        offset_ann = len(merged["annotations"])
        remap = {}
        for i, image in enumerate(data.get("images", [])):
            remap[image["id"]] = offset_img + i + 1
            merged["images"].append({**image, "id": offset_img + i + 1})
        for j, ann in enumerate(data.get("annotations", [])):
            merged["annotations"].append(
                {**ann, "id": offset_ann + j + 1, "image_id": remap[ann["image_id"]]}
            )
        merged["categories"] = data.get("categories", merged["categories"])
    target.write_text(json.dumps(merged))
