"""Reading accuracy on realistic classification answers, each with a careful clinician's reading.

``answers_dev.jsonl`` was written while the reader was built (the rules were tuned on it).
``answers_heldout1.jsonl`` was written after the reader was finished; its first measurement
was 95.0% (115/121) with 3 silent wrong labels (2.5%), which exposed three general gaps ("X:
absent" cut by the colon, "I'm an AI and cannot make a diagnosis", "X or <other>"); those
were fixed, so it is no longer unseen. ``answers_heldout2.jsonl`` was written after that fix
and had not been tuned on until reader version 3. ``unseen3_classification_dev.jsonl`` is the
development half of a corpus written by an independent colleague (the other half is held out
and measured at merge); its first measurement was 87/95 (91.6%) with 1 silent wrong label, and
reader version 3 was built on its causes (and those of the held-out half, as reported). Reader
version 3 also reads "possible X" as doubt, not an answer, as that corpus does; three older
expectations that read it as X (dev-042, dev-157, heldout2-015) were changed to unparseable. Each
line: ``dataset`` (a catalog label set) or ``labels``, ``answer`` (a model's answer as models
write them), ``expect_status`` (answered, refused, unparseable) and ``expect_label``. A
reading is right when the label and the kind of outcome agree; a *silent wrong label* is a
wrong label given status ok or repaired (the worst error: scored as if the model had said it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medmine.core import LabelTarget, ParseStatus
from medmine.datasets.catalog import get_entry
from medmine.tasks.label_reader import parse_label

DATA = Path(__file__).parent / "data"


def _target(row: dict[str, object]) -> LabelTarget:
    if "labels" in row:
        names = tuple(str(x) for x in row["labels"])  # type: ignore[attr-defined]
        return LabelTarget(names[0], names, {})
    entry = get_entry(str(row["dataset"]))
    labels = tuple(entry.labels)
    return LabelTarget(labels[0], labels, entry.names())


def _outcome(status: ParseStatus) -> str:
    return "answered" if status in (ParseStatus.OK, ParseStatus.REPAIRED) else status.value


def score_corpus(path: Path) -> tuple[int, int, int, list[str]]:
    """(n, correct, silent wrong labels, a description of each miss) over one corpus file."""
    n = correct = silent = 0
    misses: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        label, status, detail, _ = parse_label(row["answer"], _target(row))
        n += 1
        got = _outcome(status)
        if got == row["expect_status"] and label == row["expect_label"]:
            correct += 1
            continue
        if got == "answered" and label != row["expect_label"]:
            silent += 1
        misses.append(
            f"{row['id']} [{row.get('dataset', row.get('labels'))}] {row['answer']!r}: expected "
            f"{row['expect_status']}/{row['expect_label']}, read {status.value}/{label} ({detail})"
        )
    return n, correct, silent, misses


@pytest.mark.parametrize(
    "part", ["answers_dev", "answers_heldout1", "answers_heldout2", "unseen3_classification_dev"]
)
def test_reads_answers_like_a_careful_clinician(part: str) -> None:
    path = DATA / f"{part}.jsonl"
    n, correct, silent, misses = score_corpus(path)
    print(
        f"\n{part}: {n} answers, reading accuracy {correct / n:.1%} ({correct}/{n}), "
        f"silent wrong labels {silent} ({silent / n:.1%})"
    )
    for miss in misses:
        print("  miss:", miss)
    assert correct / n >= 0.97, "\n".join(misses)
    assert silent / n <= 0.01, "\n".join(misses)


def test_corpus_is_large_and_covers_the_catalogued_label_sets() -> None:
    rows = [
        json.loads(line)
        for part in ("dev", "heldout1", "heldout2")
        for line in (DATA / f"answers_{part}.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(rows) >= 300
    datasets = {r["dataset"] for r in rows}
    assert {"chestxray2017", "ham10000", "refuge", "aptos2019", "kvasir_v2"} <= datasets
    assert {r["expect_status"] for r in rows} == {"answered", "refused", "unparseable"}
