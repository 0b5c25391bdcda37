"""Tiny replicas of the medical VQA benchmarks' published layouts, with their exact field names,
and a fake OpenAI-compatible vision model on 127.0.0.1 that answers in real models' styles.

The replicas hold a few generated PNG images each; every record uses the field names of the
publisher's files (see the catalog notes). The fake model reads the question and options from
the prompt and answers like the models we see in practice: JSON, a bare letter, "The answer
is (B).", an option line, the option's text, yes/no with hedges, open answers with extra words,
a refusal, and a reply cut by the token limit (``finish_reason: length``). It records what it
meant to answer so tests can score it independently.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def png(seed: int, size: int = 48) -> bytes:
    """A small generated greyscale PNG (distinct per seed)."""
    rng = np.random.default_rng(seed)
    arr = (rng.random((size, size)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def build_vqa_rad(root: Path) -> Path:
    """``VQA_RAD Dataset Public.json`` + ``VQA_RAD Image Folder/`` (OSF release)."""
    folder = root / "VQA_RAD Image Folder"
    recs = []
    rows = [
        ("synpic100.jpg", "CHEST", "Is there a pneumothorax?", "no", "CLOSED", "PRES", "freeform"),
        ("synpic100.jpg", "CHEST", "Is the heart enlarged?", "yes", "CLOSED", "SIZE", "freeform"),
        ("synpic200.jpg", "HEAD", "Is this an MRI or a CT?", "CT", "CLOSED", "MODALITY", "para"),
        ("synpic200.jpg", "HEAD", "What organ is shown?", "brain", "OPEN", "ORGAN", "freeform"),
        ("synpic300.jpg", "ABD", "Is there free air?", "no", "CLOSED", "PRES", "test_freeform"),
        ("synpic300.jpg", "ABD", "Is the liver enlarged?", "yes", "CLOSED ", "SIZE", "test_para"),
        (
            "synpic400.jpg",
            "CHEST",
            "Where is the mass?",
            "right upper lobe",
            "OPEN",
            "POS",
            "test_freeform",
        ),
        (
            "synpic400.jpg",
            "CHEST",
            "What modality is used?",
            "x-ray",
            "OPEN",
            "MODALITY",
            "test_freeform",
        ),
        (
            "synpic500.jpg",
            "HEAD",
            "How many lesions are there?",
            2,
            "OPEN",
            "COUNT",
            "test_freeform",
        ),
    ]
    for i, (img, organ, q, a, at, qt, pt) in enumerate(rows):
        recs.append(
            {
                "qid": i + 1,
                "image_name": img,
                "image_organ": organ,
                "answer": a,
                "answer_type": at,
                "question_type": qt,
                "question": q,
                "phrase_type": pt,
                "evaluation": "given",
                "question_rephrase": "NULL",
                "question_relation": "NULL",
                "question_frame": "NULL",
                "qid_linked": "NULL",
            }
        )
    recs.append({"qid": 99, "image_name": "synpic100.jpg", "question": "", "answer": "yes"})
    for n, img in enumerate(sorted({r[0] for r in rows})):
        _write(folder / img, png(100 + n))
    (root / "VQA_RAD Dataset Public.json").write_text(json.dumps(recs))
    return root


def build_slake(root: Path) -> Path:
    """``Slake1.0/{train,validate,test}.json`` + ``Slake1.0/imgs/xmlabN/source.jpg``."""
    base = root / "Slake1.0"
    qid = 0

    def rec(img: int, q: str, a: str, at: str, ct: str, mod: str, lang: str = "en") -> dict:
        nonlocal qid
        qid += 1
        return {
            "img_id": img,
            "img_name": f"xmlab{img}/source.jpg",
            "question": q,
            "answer": a,
            "q_lang": lang,
            "location": "Lung",
            "modality": mod,
            "answer_type": at,
            "base_type": "vqa",
            "content_type": ct,
            "triple": ["vhead", "_", "_"],
            "qid": qid,
        }

    splits = {
        "train.json": [
            rec(1, "Is the lung healthy?", "No", "CLOSED", "Abnormality", "X-Ray"),
            rec(1, "Which organ is abnormal?", "Lung", "OPEN", "Organ", "X-Ray"),
            rec(1, "肺部健康吗?", "不健康", "CLOSED", "Abnormality", "X-Ray", "zh"),
        ],
        "validate.json": [rec(2, "Is this a CT image?", "Yes", "CLOSED", "Modality", "CT")],
        "test.json": [
            rec(3, "Does the picture contain liver?", "Yes", "CLOSED", "Organ", "CT"),
            rec(3, "What modality is used?", "CT", "OPEN", "Modality", "CT"),
            rec(4, "Is the brain healthy?", "No", "CLOSED", "Abnormality", "MRI"),
            rec(4, "这是什么成像方式?", "核磁共振", "OPEN", "Modality", "MRI", "zh"),
        ],
    }
    for name, recs in splits.items():
        _write(base / name, json.dumps(recs, ensure_ascii=False).encode())
    for img in (1, 2, 3, 4):
        _write(base / "imgs" / f"xmlab{img}" / "source.jpg", png(200 + img))
    return root


def _parquet(path: Path, rows: list[tuple[bytes, str, str]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    image = pa.array(
        [{"bytes": b, "path": None} for b, _, _ in rows],
        type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
    )
    table = pa.table(
        {"image": image, "question": [q for _, q, _ in rows], "answer": [a for _, _, a in rows]}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def build_path_vqa(root: Path) -> Path:
    """Hub parquet release: ``data/{train,validation,test}-0000N-of-0000M-*.parquet``."""
    _parquet(
        root / "data" / "train-00000-of-00001-aa.parquet",
        [(png(300), "Is there necrosis?", "yes"), (png(301), "What is shown?", "granuloma")],
    )
    _parquet(
        root / "data" / "validation-00000-of-00001-bb.parquet",
        [(png(302), "Are there mitoses?", "no")],
    )
    _parquet(
        root / "data" / "test-00000-of-00001-cc.parquet",
        [
            (png(303), "Is there fibrosis?", "yes"),
            (png(304), "Is this malignant?", "no"),
            (png(305), "What type of cells are these?", "plasma cells"),
        ],
    )
    return root


def build_vqa_rad_parquet(root: Path) -> Path:
    """Hub parquet release of VQA-RAD: ``data/{train,test}-*.parquet``."""
    _parquet(
        root / "data" / "train-00000-of-00001-dd.parquet",
        [(png(310), "is there a fracture?", "no"), (png(311), "what organ is this?", "kidney")],
    )
    _parquet(
        root / "data" / "test-00000-of-00001-ee.parquet",
        [(png(312), "is the aorta dilated?", "yes"), (png(313), "where is the lesion?", "liver")],
    )
    return root


PMC_HEADER = [
    "Figure_path",
    "Question",
    "Answer",
    "Choice A",
    "Choice B",
    "Choice C",
    "Choice D",
    "Answer_label",
]


def build_pmc_vqa(root: Path) -> Path:
    """``train.csv`` / ``test.csv`` with Figure_path, Question, Answer, Choice A..D,
    Answer_label (choices keep their "A:" prefix), images in ``images/``."""
    import csv

    rows = {
        "train.csv": [
            (
                "PMC100_F1.jpg",
                "What imaging modality is shown?",
                "MRI",
                "MRI",
                "CT",
                "PET",
                "Ultrasound",
                "A",
            ),
            (
                "PMC101_F2.jpg",
                "Which organ is affected?",
                "Liver",
                "Kidney",
                "Liver",
                "Lung",
                "Heart",
                "B",
            ),
        ],
        "test.csv": [
            (
                "PMC200_F1.jpg",
                "What is the arrow pointing at?",
                "A mass",
                "A mass",
                "A cyst",
                "Calcification",
                "Normal tissue",
                "A",
            ),
            (
                "PMC201_F3.jpg",
                "Which sequence is used?",
                "T2-weighted",
                "T1-weighted",
                "T2-weighted",
                "FLAIR",
                "DWI",
                "B",
            ),
            (
                "PMC202_F2.jpg",
                "What stain was used?",
                "H&E",
                "PAS",
                "Trichrome",
                "H&E",
                "Giemsa",
                "C",
            ),
            ("PMC203_F1.jpg", "What is shown?", "Nothing", "Cells", "Tissue", "Bone", "Fat", "Z"),
        ],
    }
    n = 0
    for name, recs in rows.items():
        with (root / name).open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(PMC_HEADER)
            for r in recs:
                fig, q, ans, a, b, c, d, lab = r
                w.writerow([fig, q, ans, f"A:{a} ", f"B:{b} ", f"C:{c} ", f"D:{d} ", lab])
                n += 1
                _write(root / "images" / fig, png(400 + n))
    return root


def build_omnimedvqa(root: Path) -> Path:
    """``QA_information/Open-access/<source>.json`` + ``Images/<source>/...``."""
    qa = root / "QA_information" / "Open-access"
    data = {
        "ACRIMA.json": [
            (
                "ACRIMA",
                "Modality Recognition",
                "Fundus Photography",
                "What imaging modality is this?",
                "Fundus photography",
                ["Fundus photography", "CT", "MRI", "Dermoscopy"],
            ),
            (
                "ACRIMA",
                "Disease Diagnosis",
                "Fundus Photography",
                "Is there glaucoma in this image?",
                "Yes, it's glaucoma.",
                ["No, it's normal.", "Yes, it's glaucoma."],
            ),
        ],
        "HAM10000.json": [
            (
                "HAM10000",
                "Disease Diagnosis",
                "Dermoscopy",
                "What lesion is shown?",
                "Melanoma",
                ["Nevus", "Melanoma", "Dermatofibroma", "Vascular lesion"],
            ),
        ],
        "Chest CT Scan.json": [
            (
                "Chest CT Scan",
                "Anatomy Identification",
                None,
                "Which organ is shown?",
                "Lung",
                ["Liver", "Lung", "Brain", "Kidney"],
            ),
        ],
    }
    n = 0
    for fname, recs in data.items():
        out = []
        for src, qtype, mod, q, gt, opts in recs:
            n += 1
            img = f"Images/{src}/img_{n}.png"
            rec: dict[str, Any] = {
                "dataset": src,
                "question_id": f"{src}_{n:03d}",
                "question_type": qtype,
                "question": q,
                "gt_answer": gt,
                "image_path": img,
            }
            rec.update({f"option_{'ABCD'[i]}": o for i, o in enumerate(opts)})
            if mod is None:
                rec["modality"] = "CT(Computed Tomography)"  # the release's one odd file
            else:
                rec["modality_type"] = mod
            out.append(rec)
            _write(root / img, png(500 + n))
        _write(qa / fname, json.dumps(out).encode())
    return root


def build_gmai(root: Path) -> Path:
    """``GMAI-MMBench_VAL.tsv`` with base64 images and the lexical-tree columns."""
    header = [
        "index",
        "question",
        "A",
        "B",
        "C",
        "D",
        "E",
        "answer",
        "image",
        "modality",
        "clinical VQA task",
        "department",
        "perceptual granularity",
        "category",
    ]
    rows = [
        [
            0,
            "What is the most likely diagnosis?",
            "Glaucoma",
            "Cataract",
            "Normal",
            "AMD",
            "",
            "A",
            "Fundus photography",
            "Disease Diagnosis",
            "Ophthalmology",
            "Image Level",
        ],
        [
            1,
            "Which organ is segmented in the box?",
            "Liver",
            "Spleen",
            "Kidney",
            "Stomach",
            "Pancreas",
            "C",
            "CT",
            "Organ Recognition",
            "Urology",
            "Box Level",
        ],
        [
            2,
            "What kind of lesion is seen?",
            "Polyp",
            "Ulcer",
            "Normal",
            "Bleeding",
            "",
            "A",
            "Endoscopy",
            "Disease Diagnosis",
            "Gastroenterology",
            "Image Level",
        ],
    ]
    lines = ["\t".join(header)]
    for r in rows:
        b64 = base64.b64encode(png(600 + int(r[0]))).decode()
        lines.append("\t".join(str(x) for x in [*r[:8], b64, *r[8:], "clinical"]))
    (root / "GMAI-MMBench_VAL.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def build_medxpertqa(root: Path) -> Path:
    """``MM/test.jsonl`` and ``MM/dev.jsonl`` + ``images/`` (some questions with 2 images)."""

    def rec(i: str, q: str, opts: dict[str, str], label: str, imgs: list[str], qt: str) -> str:
        choices = " ".join(f"({k}) {v}" for k, v in opts.items())
        return json.dumps(
            {
                "id": i,
                "question": f"{q}\nAnswer Choices: {choices}",
                "options": opts,
                "label": label,
                "images": imgs,
                "medical_task": "Diagnosis",
                "body_system": "Skeletal",
                "question_type": qt,
            }
        )

    five = {
        "A": "Osteosarcoma",
        "B": "Ewing sarcoma",
        "C": "Osteomyelitis",
        "D": "Fracture",
        "E": "Normal",
    }
    (root / "MM").mkdir(parents=True)
    (root / "MM" / "dev.jsonl").write_text(
        rec(
            "MM-dev-1",
            "A 12-year-old has leg pain. What is shown?",
            five,
            "A",
            ["MM-dev-1-a.jpeg"],
            "Reasoning",
        )
        + "\n"
    )
    (root / "MM" / "test.jsonl").write_text(
        "\n".join(
            [
                rec(
                    "MM-1",
                    "A 70-year-old fell. What do the images show?",
                    five,
                    "D",
                    ["MM-1-a.jpeg", "MM-1-b.jpeg"],
                    "Understanding",
                ),
                rec(
                    "MM-2",
                    "A child has fever and bone pain. Most likely?",
                    five,
                    "C",
                    ["MM-2-a.jpeg"],
                    "Reasoning",
                ),
                "{not json",
            ]
        )
        + "\n"
    )
    for k, name in enumerate(["MM-dev-1-a.jpeg", "MM-1-a.jpeg", "MM-1-b.jpeg", "MM-2-a.jpeg"]):
        _write(root / "images" / name, png(700 + k))
    return root


BUILDERS = {
    "vqa_rad": build_vqa_rad,
    "vqa_rad_parquet": build_vqa_rad_parquet,
    "slake": build_slake,
    "path_vqa": build_path_vqa,
    "pmc_vqa": build_pmc_vqa,
    "omnimedvqa": build_omnimedvqa,
    "gmai_mmbench": build_gmai,
    "medxpertqa_mm": build_medxpertqa,
}


# --------------------------------------------------------------------------- fake model

_OPTION = re.compile(r"^([A-Z])\. (.+)$", re.M)


def _pick(question: str, n: int) -> int:
    return int(hashlib.sha256(question.encode()).hexdigest(), 16) % n


def answer_for(prompt: str) -> tuple[str, str, Any]:
    """(reply text, finish_reason, what it means) for a prompt, in a real model's style."""
    question = prompt.split("Question:", 1)[-1].split("\n", 1)[0].strip()
    options = _OPTION.findall(prompt)
    h = _pick(question, 1000)
    if options:
        letter, text = options[h % len(options)]
        styles = [
            (json.dumps({"answer": letter}), letter),
            (letter, letter),
            (f"The answer is ({letter}).", letter),
            (f"{letter}. {text}\n\nThe image shows typical features.", letter),
            (text, letter),
            ("I'm sorry, but I can't provide a medical diagnosis from images.", None),
            ("Looking at the image carefully, the most striking feature is", None),
        ]
        reply, meant = styles[h % len(styles)]
        finish = "length" if reply.startswith("Looking") else "stop"
        return reply, finish, meant
    if '"yes"' in prompt and '"no"' in prompt:
        styles = [
            ("Yes.", "yes"),
            ("No, there is no such finding.", "no"),
            ('{"answer": "no"}', "no"),
            ("Probably yes.", "yes"),
            ("It cannot be determined from this image.", None),
        ]
        return (*styles[h % len(styles)][:1], "stop", styles[h % len(styles)][1])  # type: ignore[return-value]
    styles = [
        ("The answer is ct.", "ct"),
        ('{"answer": "right upper lobe"}', "right upper lobe"),
        ("Brain\n\nThe image is an axial slice of the head.", "Brain"),
        ("2", "2"),
    ]
    reply, meant = styles[h % len(styles)]
    return reply, "stop", meant


class FakeVisionModel:
    """An OpenAI-compatible ``/v1/chat/completions`` server answering visual questions.

    Enforces the documented request shape (model, messages with text and image_url parts whose
    url is a base64 data URI); answers 400 otherwise. Records (prompt question, images, reply,
    meant) for every request.
    """

    def __init__(self) -> None:
        self.log: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, payload = fake.answer(body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        messages = body.get("messages")
        if not body.get("model") or not isinstance(messages, list) or not messages:
            return 400, {"error": {"message": "model and messages are required"}}
        images = 0
        texts = []
        for m in messages:
            content = m.get("content")
            parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
            for p in parts:
                if p.get("type") == "image_url":
                    url = p.get("image_url", {}).get("url", "")
                    if not url.startswith("data:image/"):
                        return 400, {"error": {"message": "image_url must be a data URI"}}
                    images += 1
                elif p.get("type") == "text":
                    texts.append(p.get("text") or "")
        prompt = texts[-1] if texts else ""
        reply, finish, meant = answer_for(prompt)
        if "Final answer:" in prompt and finish == "stop":  # asked to reason first (CoT)
            reply = f"The image shows the relevant structures clearly.\nFinal answer: {reply}"
        self.log.append(
            {
                "prompt": prompt,
                "images": images,
                "reply": reply,
                "meant": meant,
                "n_messages": len(messages),
            }
        )
        return 200, {
            "id": "chatcmpl-vqa",
            "object": "chat.completion",
            "created": 1,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply},
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": 300 * max(images, 1),
                "completion_tokens": 12,
                "total_tokens": 300 * max(images, 1) + 12,
            },
        }

    def __enter__(self) -> FakeVisionModel:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
