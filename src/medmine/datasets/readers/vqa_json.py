"""Readers of the JSON-released medical VQA benchmarks: VQA-RAD, SLAKE, OmniMedVQA, MedXpertQA.

Each reads the publisher's own files with their exact field names (see the catalog notes for
how each was confirmed) and never stops at a bad row: it is recorded with the file, the row and
the reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from medmine.core import BadSample
from medmine.datasets.readers.base import (
    MALFORMED,
    MISSING,
    DatasetRead,
    ReadContext,
    bad,
    fingerprint,
)
from medmine.datasets.readers.vqa_common import (
    CHOICE,
    VqaTarget,
    category_for,
    closed_or_open,
    letters_options,
    vqa_sample,
)


def _load_json(path: Path) -> Any:
    """A JSON file's content; ValueError names the file and the problem."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc


def _records(path: Path, ctx: ReadContext, out: DatasetRead) -> list[dict[str, Any]]:
    """The list of records of a JSON file, or none (recorded as bad) when it is not a list."""
    try:
        data = _load_json(path)
    except FileNotFoundError:
        out.bad.append(bad(ctx, path.name, path, MISSING, "file not found"))
        return []
    except ValueError as exc:
        out.bad.append(bad(ctx, path.name, path, MALFORMED, str(exc)))
        return []
    if not isinstance(data, list):
        out.bad.append(bad(ctx, path.name, path, MALFORMED, "expected a JSON list of questions"))
        return []
    return [r for r in data if isinstance(r, dict)]


def _need(rec: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    return [k for k in keys if rec.get(k) is None or str(rec.get(k)).strip() == ""]


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def read_vqa_rad(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    annotations: str = "VQA_RAD Dataset Public.json",
    image_dir: str = "VQA_RAD Image Folder",
) -> DatasetRead:
    """VQA-RAD (Lau et al. 2018, OSF release): one JSON list, images in one folder.

    Fields used: ``qid``, ``image_name``, ``question``, ``answer``, ``answer_type``
    (CLOSED/OPEN), ``question_type`` (PRES, ABN, MODALITY, ...), ``image_organ`` and
    ``phrase_type``: rows whose phrase type starts with ``test`` form the test split (the
    release's 451 test questions), the others the train split.
    """
    ctx = ctx or ReadContext(dataset="vqa_rad")
    out = DatasetRead()
    path = root / annotations
    images = root / image_dir
    for i, rec in enumerate(_records(path, ctx, out)):
        sid = f"q{_text(rec.get('qid')) or i}"
        missing = _need(rec, ("image_name", "question", "answer"))
        if missing:
            out.bad.append(bad(ctx, sid, path, MALFORMED, f"row {i}: no {', '.join(missing)}"))
            continue
        split = "test" if _text(rec.get("phrase_type")).lower().startswith("test") else "train"
        if not ctx.wants(split):
            continue
        answer = _text(rec["answer"])
        target = VqaTarget(
            question=_text(rec["question"]),
            answer=answer,
            answer_type=closed_or_open(_text(rec.get("answer_type")), answer),
            question_type=_text(rec.get("question_type")),
            modality=_text(rec.get("image_organ")),
        )
        img = images / _text(rec["image_name"])
        sample = vqa_sample(
            sid=sid,
            dataset=ctx.dataset,
            images=[img],
            target=target,
            split=split,
            category=ctx.category or "radiology",
            patient_id=_text(rec["image_name"]),
            meta={"organ": _text(rec.get("image_organ"))},
        )
        _add(out, ctx, sample, img, path)
    out.fingerprint = fingerprint(root, [path], [path])
    return out


def read_slake(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    base: str = "Slake1.0",
    language: str = "en",
) -> DatasetRead:
    """SLAKE 1.0 (Liu et al. 2021): ``train.json``, ``validate.json``, ``test.json`` and
    ``imgs/<img_name>``. English questions by default; ``language: zh`` reads the Chinese ones.

    Fields used: ``qid``, ``img_name``, ``question``, ``answer``, ``q_lang``, ``answer_type``
    (CLOSED/OPEN), ``content_type`` (question type), ``modality``, ``location``, ``img_id``.
    """
    ctx = ctx or ReadContext(dataset="slake")
    out = DatasetRead()
    folder = root / base
    files = []
    splits = (("train.json", "train"), ("validate.json", "validation"), ("test.json", "test"))
    for name, split in splits:
        path = folder / name
        files.append(path)
        if not ctx.wants(split) or not path.exists():
            continue
        for i, rec in enumerate(_records(path, ctx, out)):
            if _text(rec.get("q_lang")).lower() != language:
                continue
            sid = f"{split}/q{_text(rec.get('qid')) or i}"
            missing = _need(rec, ("img_name", "question", "answer"))
            if missing:
                out.bad.append(bad(ctx, sid, path, MALFORMED, f"row {i}: no {', '.join(missing)}"))
                continue
            answer = _text(rec["answer"])
            modality = _text(rec.get("modality"))
            target = VqaTarget(
                question=_text(rec["question"]),
                answer=answer,
                answer_type=closed_or_open(_text(rec.get("answer_type")), answer),
                question_type=_text(rec.get("content_type")),
                modality=modality,
                language=language,
            )
            img = folder / "imgs" / _text(rec["img_name"])
            sample = vqa_sample(
                sid=sid,
                dataset=ctx.dataset,
                images=[img],
                target=target,
                split=split,
                category=category_for(modality, ctx.category or "radiology"),
                patient_id=_text(rec.get("img_id")) or _text(rec["img_name"]),
                meta={"location": _text(rec.get("location")), "base_type": rec.get("base_type")},
            )
            _add(out, ctx, sample, img, path)
    if not any(p.exists() for p in files):
        out.bad.append(bad(ctx, base, folder, MISSING, "no train/validate/test.json"))
    out.fingerprint = fingerprint(root, files, files)
    return out


def read_omnimedvqa(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    qa_dirs: tuple[str, ...] = ("QA_information/Open-access", "QA_information/Restricted-access"),
) -> DatasetRead:
    """OmniMedVQA (Hu et al. 2024): one JSON list per source dataset under
    ``QA_information/Open-access/`` (and Restricted-access when present), images under
    ``Images/``. All questions are test questions (a benchmark without a train split).

    Fields used: ``question_id``, ``dataset``, ``question_type``, ``modality_type``,
    ``question``, ``gt_answer``, ``image_path`` and ``option_A`` … ``option_D``; one file of
    the release writes ``modality`` instead of ``modality_type`` and both are read.
    """
    ctx = ctx or ReadContext(dataset="omnimedvqa")
    out = DatasetRead()
    files = sorted(p for d in qa_dirs for p in (root / d).glob("*.json"))
    for path in files:
        access = path.parent.name
        for i, rec in enumerate(_records(path, ctx, out)):
            sid = f"{access}/{path.stem}/{_text(rec.get('question_id')) or i}"
            missing = _need(rec, ("question", "gt_answer", "image_path"))
            if missing:
                out.bad.append(bad(ctx, sid, path, MALFORMED, f"row {i}: no {', '.join(missing)}"))
                continue
            options = letters_options(
                {k[-1]: _text(v) for k, v in rec.items() if re.fullmatch(r"option_[A-Z]", k)}
            )
            gt = _text(rec["gt_answer"])
            letter = next((lt for lt, t in options if t.strip() == gt), None)
            if letter is None:
                out.bad.append(
                    bad(ctx, sid, path, MALFORMED, f"row {i}: gt_answer {gt!r} is not an option")
                )
                continue
            modality = _text(rec.get("modality_type") or rec.get("modality"))
            target = VqaTarget(
                question=_text(rec["question"]),
                answer=gt,
                answer_type=CHOICE,
                options=options,
                letter=letter,
                question_type=_text(rec.get("question_type")),
                modality=modality,
            )
            img = root / _text(rec["image_path"])
            sample = vqa_sample(
                sid=sid,
                dataset=ctx.dataset,
                images=[img],
                target=target,
                split="test",
                category=category_for(modality, ctx.category or "mixed"),
                patient_id=_text(rec["image_path"]),
                meta={"source": _text(rec.get("dataset")), "access": access},
            )
            _add(out, ctx, sample, img, path)
    if not files:
        out.bad.append(bad(ctx, "QA_information", root, MISSING, "no QA_information/*/*.json"))
    out.fingerprint = fingerprint(root, files, files)
    return out


_CHOICES_TAIL = re.compile(r"\s*Answer Choices:.*\Z", re.S)


def read_medxpertqa_mm(
    root: Path,
    *,
    ctx: ReadContext | None = None,
    folder: str = "MM",
    image_dir: str = "images",
) -> DatasetRead:
    """MedXpertQA, multimodal subset (Zuo et al. 2025): ``MM/test.jsonl`` (and ``MM/dev.jsonl``,
    read as the train split for few-shot examples), images in ``images/``.

    Fields used: ``id``, ``question`` (its trailing "Answer Choices: (A) …" block is dropped
    because the options are listed from ``options``), ``options`` (letter → text), ``label``
    (the correct letter), ``images`` (file names), ``medical_task``, ``body_system`` and
    ``question_type`` (Reasoning / Understanding).
    """
    ctx = ctx or ReadContext(dataset="medxpertqa_mm")
    out = DatasetRead()
    files = []
    for name, split in (("dev.jsonl", "train"), ("test.jsonl", "test")):
        path = root / folder / name
        files.append(path)
        if not path.exists() or not ctx.wants(split):
            continue
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    out.bad.append(bad(ctx, f"{name}:{n}", path, MALFORMED, f"line {n}: {exc}"))
                    continue
                _medxpert_row(rec, n, split, path, root / image_dir, ctx, out)
    if not any(p.exists() for p in files):
        out.bad.append(bad(ctx, folder, root / folder, MISSING, "no test.jsonl or dev.jsonl"))
    out.fingerprint = fingerprint(root, files, files)
    return out


def _medxpert_row(
    rec: dict[str, Any],
    n: int,
    split: str,
    path: Path,
    images: Path,
    ctx: ReadContext,
    out: DatasetRead,
) -> None:
    sid = _text(rec.get("id")) or f"{split}-{n}"
    missing = _need(rec, ("question", "options", "label", "images"))
    if missing:
        out.bad.append(bad(ctx, sid, path, MALFORMED, f"line {n}: no {', '.join(missing)}"))
        return
    opts = rec["options"]
    if not isinstance(opts, dict) or not isinstance(rec["images"], list):
        out.bad.append(bad(ctx, sid, path, MALFORMED, f"line {n}: options/images malformed"))
        return
    options = letters_options({str(k): _text(v) for k, v in opts.items()})
    letter = _text(rec["label"]).upper()
    answer = dict(options).get(letter)
    if answer is None:
        out.bad.append(bad(ctx, sid, path, MALFORMED, f"line {n}: label {letter!r} not an option"))
        return
    target = VqaTarget(
        question=_CHOICES_TAIL.sub("", _text(rec["question"])),
        answer=answer,
        answer_type=CHOICE,
        options=options,
        letter=letter,
        question_type=_text(rec.get("question_type")),
        modality=_text(rec.get("body_system")),
    )
    paths = [images / _text(p) for p in rec["images"]]
    sample = vqa_sample(
        sid=sid,
        dataset=ctx.dataset,
        images=paths,
        target=target,
        split=split,
        category=ctx.category or "mixed",
        meta={"medical_task": _text(rec.get("medical_task"))},
    )
    _add(out, ctx, sample, paths, path)


def _add(
    out: DatasetRead, ctx: ReadContext, sample: Any, images: Path | list[Path], source: Path
) -> None:
    """Keep a sample whose image files exist; record the others as missing."""
    paths = images if isinstance(images, list) else [images]
    absent = [p for p in paths if not p.is_file()]
    if absent:
        out.bad.append(_missing(ctx, sample.id, absent[0], source))
        out.missing.append(sample)
        return
    out.samples.append(sample)


def _missing(ctx: ReadContext, sid: str, image: Path, source: Path) -> BadSample:
    return bad(ctx, sid, image, MISSING, f"image file not found (named in {source.name})")
