"""Readers of the table-released medical VQA benchmarks: PMC-VQA (CSV), GMAI-MMBench (TSV with
base64 images) and the parquet releases on the Hugging Face hub (VQA-RAD, PathVQA).

Images embedded in a table are written once, by content hash, to the decoded-image cache
(:func:`~medmine.datasets.readers.vqa_common.decoded_image_dir`) so every backend sees files.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path
from typing import Any

from medmine.datasets.readers.base import (
    MALFORMED,
    MISSING,
    DatasetRead,
    ReadContext,
    bad,
    fingerprint,
    read_table,
)
from medmine.datasets.readers.vqa_common import (
    CHOICE,
    VqaTarget,
    category_for,
    closed_or_open,
    decode_base64_image,
    letters_options,
    strip_letter_prefix,
    vqa_sample,
    write_embedded_image,
)
from medmine.datasets.readers.vqa_json import (
    _add,
    read_medxpertqa_mm,
    read_omnimedvqa,
    read_slake,
    read_vqa_rad,
)

_LETTER = re.compile(r"^\(?([A-Z])\)?[.:]?$")


def read_pmc_vqa(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    splits: dict[str, str] | None = None,
    image_dir: str = "images",
) -> DatasetRead:
    """PMC-VQA (Zhang et al. 2023): ``train.csv`` / ``test.csv`` (or the v2 ``*_2.csv``) with
    ``Figure_path``, ``Question``, ``Answer``, ``Choice A`` … ``Choice D`` and (v2)
    ``Answer_label``; images in ``images/``. Choice cells keep an ``A:`` prefix that is
    dropped. The correct letter is ``Answer_label``, else ``Answer`` when it is a letter, else
    the option whose text equals ``Answer``.
    """
    ctx = ctx or ReadContext(dataset="pmc_vqa")
    out = DatasetRead()
    splits = splits or {"train": "train.csv", "test": "test.csv"}
    files = []
    for split, name in splits.items():
        path = root / name
        files.append(path)
        if not path.exists() or not ctx.wants(split):
            continue
        try:
            rows = read_table(path)
        except ValueError as exc:
            out.bad.append(bad(ctx, name, path, MALFORMED, str(exc)))
            continue
        for i, row in enumerate(rows):
            _pmc_row(row, i, split, path, root / image_dir, ctx, out)
    if not any(p.exists() for p in files):
        out.bad.append(bad(ctx, "csv", root, MISSING, f"none of {sorted(splits.values())}"))
    out.fingerprint = fingerprint(root, files, files)
    return out


def _pmc_row(
    row: dict[str, str],
    i: int,
    split: str,
    path: Path,
    images: Path,
    ctx: ReadContext,
    out: DatasetRead,
) -> None:
    line = row.get("__line__", str(i + 2))
    sid = f"{split}/{line}"
    figure, question = row.get("Figure_path", ""), row.get("Question", "")
    if not figure or not question:
        out.bad.append(bad(ctx, sid, path, MALFORMED, f"line {line}: no Figure_path/Question"))
        return
    options = letters_options(
        {lt: strip_letter_prefix(row.get(f"Choice {lt}", ""), lt) for lt in "ABCD"}
    )
    texts = dict(options)
    answer = row.get("Answer", "").strip()
    letter = row.get("Answer_label", "").strip().upper() or None
    if letter is None and (m := _LETTER.match(answer)):
        letter = m.group(1)
    if letter is None:
        plain = strip_letter_prefix(answer, answer[:1]) if answer[1:2] == ":" else answer
        letter = next((lt for lt, t in options if t.lower() == plain.lower()), None)
    if letter not in texts:
        out.bad.append(
            bad(ctx, sid, path, MALFORMED, f"line {line}: answer {answer!r} matches no choice")
        )
        return
    target = VqaTarget(
        question=question,
        answer=texts[letter],
        answer_type=CHOICE,
        options=options,
        letter=letter,
    )
    img = images / figure
    sample = vqa_sample(
        sid=sid,
        dataset=ctx.dataset,
        images=[img],
        target=target,
        split=split,
        category=ctx.category or "mixed",
        patient_id=figure,
    )
    _add(out, ctx, sample, img, path)


def read_gmai_mmbench(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    pattern: str = "GMAI*MMBench*_VAL*.tsv",
) -> DatasetRead:
    """GMAI-MMBench (Chen et al. 2024) as distributed for VLMEvalKit: a TSV with ``index``,
    ``question``, option columns ``A`` … ``E``, ``answer`` (the letter), ``image`` (base64)
    and the lexical-tree columns (``modality``, ``clinical VQA task``, ``department``,
    ``perceptual granularity``; matched case-insensitively). The TEST parts withhold the
    answer column: their rows are recorded as unusable, not guessed.
    """
    ctx = ctx or ReadContext(dataset="gmai_mmbench")
    out = DatasetRead()
    files = sorted(root.glob(pattern))
    csv.field_size_limit(sys.maxsize)
    for path in files:
        try:
            rows = read_table(path)
        except ValueError as exc:
            out.bad.append(bad(ctx, path.name, path, MALFORMED, str(exc)))
            continue
        for i, row in enumerate(rows):
            _gmai_row({k.lower(): v for k, v in row.items()}, i, path, ctx, out)
    if not files:
        out.bad.append(bad(ctx, pattern, root, MISSING, f"no file matching {pattern}"))
    out.fingerprint = fingerprint(root, files, files)
    return out


def _gmai_row(row: dict[str, str], i: int, path: Path, ctx: ReadContext, out: DatasetRead) -> None:
    sid = f"{path.stem}/{row.get('index') or i}"
    answer = row.get("answer", "").strip().upper()
    if not answer:
        out.bad.append(bad(ctx, sid, path, MALFORMED, "no answer in this row (a TEST part?)"))
        return
    options = letters_options({lt: row.get(lt.lower(), "") for lt in "ABCDEFGHIJ"})
    texts = dict(options)
    if answer not in texts or not row.get("question") or not row.get("image"):
        out.bad.append(bad(ctx, sid, path, MALFORMED, f"answer {answer!r} / question / image"))
        return
    try:
        img = decode_base64_image(row["image"], ctx.dataset)
    except (ValueError, OSError) as exc:
        out.bad.append(bad(ctx, sid, path, MALFORMED, f"image: {exc}"))
        return
    modality = row.get("modality", "")
    target = VqaTarget(
        question=row["question"],
        answer=texts[answer],
        answer_type=CHOICE,
        options=options,
        letter=answer,
        question_type=row.get("clinical vqa task", "") or row.get("category", ""),
        modality=modality,
    )
    sample = vqa_sample(
        sid=sid,
        dataset=ctx.dataset,
        images=[img],
        target=target,
        split="test",
        category=category_for(modality, ctx.category or "mixed"),
        meta={
            "department": row.get("department", ""),
            "granularity": row.get("perceptual granularity", ""),
        },
    )
    _add(out, ctx, sample, img, path)


def read_vqa_parquet(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    folder: str = "data",
    splits: dict[str, str] | None = None,
    forbid: list[str] | None = None,
) -> DatasetRead:
    """Hugging Face parquet releases (``flaviagiammarino/vqa-rad``, ``flaviagiammarino/
    path-vqa``): ``data/<split>-*.parquet`` with columns ``image`` (``{bytes, path}``),
    ``question`` and ``answer``. Yes/no answers are closed questions, the others open.
    Needs pyarrow (``pip install 'medmine[vqa]'``). ``forbid`` lists globs that mark another
    release with the same layout (VQA-RAD's has no validation split, PathVQA's has): a folder
    holding one is refused with the reason instead of being read as the wrong benchmark.
    """
    ctx = ctx or ReadContext(dataset="vqa_parquet")
    out = DatasetRead()
    other = [g for g in forbid or [] if any(root.glob(g))]
    if other:
        why = f"{other[0]} found: this folder holds another benchmark's release"
        out.bad.append(bad(ctx, folder, root, MALFORMED, why))
        return out
    splits = splits or {"train": "train", "validation": "validation", "test": "test"}
    try:
        import pyarrow.parquet as pq
    except ImportError:
        out.bad.append(
            bad(
                ctx,
                folder,
                root,
                MISSING,
                "reading parquet needs pyarrow: pip install 'medmine[vqa]'",
            )
        )
        return out
    files: list[Path] = []
    for split, stem in splits.items():
        for path in sorted((root / folder).glob(f"{stem}-*.parquet")):
            files.append(path)
            if not ctx.wants(split):
                continue
            try:
                table = pq.read_table(path, columns=["image", "question", "answer"])
            except Exception as exc:  # pyarrow raises many types for a bad file
                out.bad.append(bad(ctx, path.name, path, MALFORMED, f"{type(exc).__name__}: {exc}"))
                continue
            for i, rec in enumerate(table.to_pylist()):
                _parquet_row(rec, i, split, path, ctx, out)
    if not files:
        out.bad.append(bad(ctx, folder, root / folder, MISSING, "no <split>-*.parquet files"))
    out.fingerprint = fingerprint(root, files, files)
    return out


def _parquet_row(
    rec: dict[str, Any], i: int, split: str, path: Path, ctx: ReadContext, out: DatasetRead
) -> None:
    sid = f"{path.stem}/{i}"
    image = rec.get("image") or {}
    data = image.get("bytes") if isinstance(image, dict) else None
    question, answer = str(rec.get("question") or ""), str(rec.get("answer") or "")
    if not data or not question or not answer:
        out.bad.append(bad(ctx, sid, path, MALFORMED, f"row {i}: no image bytes/question/answer"))
        return
    img = write_embedded_image(data, ctx.dataset)
    target = VqaTarget(question=question, answer=answer, answer_type=closed_or_open("", answer))
    sample = vqa_sample(
        sid=sid,
        dataset=ctx.dataset,
        images=[img],
        target=target,
        split=split,
        category=category_for("", ctx.category or "mixed"),
        patient_id=img.name,
    )
    _add(out, ctx, sample, img, path)


VQA_READERS = {
    "vqa_rad": read_vqa_rad,
    "vqa_slake": read_slake,
    "vqa_omnimed": read_omnimedvqa,
    "vqa_medxpert": read_medxpertqa_mm,
    "vqa_pmc": read_pmc_vqa,
    "vqa_gmai": read_gmai_mmbench,
    "vqa_parquet": read_vqa_parquet,
}
