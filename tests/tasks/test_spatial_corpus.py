"""The spatial answer corpus: how many realistic answers are read the way a careful reader would.

A case is read right when the status matches, every expected box/point/vertex is within 2 px
(same count), the ambiguity flag matches and, for detection, the labels match. A *silent wrong
reading* is an answer read as ok/repaired with wrong geometry and no ambiguity flag: the
failure the reader must avoid. Run this file directly to print the figures for both corpora,
or to write a corpus as ``medmine parse`` input lines::

    PYTHONPATH=src python tests/tasks/test_spatial_corpus.py
    PYTHONPATH=src python tests/tasks/test_spatial_corpus.py --jsonl dev4 > answers.jsonl
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from spatial_answer_corpus import CASES, Case
from spatial_answer_corpus_dev4 import DEV4
from spatial_answer_corpus_dev5 import DEV5
from spatial_answer_corpus_final import FINAL
from spatial_answer_corpus_fresh import FRESH
from spatial_answer_corpus_heldout import HELDOUT

from medmine.core import Prediction
from medmine.tasks.spatial_common import answer_row, read_spatial_answer

TOL_PX = 2.0


@dataclass
class Outcome:
    """How one case was read, and what was wrong with it."""

    case: Case
    row: dict[str, object]
    problems: list[str] = field(default_factory=list)

    @property
    def right(self) -> bool:
        """True when nothing was wrong."""
        return not self.problems

    @property
    def silent_wrong(self) -> bool:
        """Usable, wrong geometry, not flagged ambiguous."""
        return (
            self.row["status"] in ("ok", "repaired")
            and any(p.startswith("geometry") for p in self.problems)
            and not self.row["ambiguous"]
        )


def _close(got: Sequence[Sequence[float]], want: Sequence[Sequence[float]]) -> bool:
    """Same number of items, every coordinate within TOL_PX."""
    if len(got) != len(want):
        return False
    return all(
        len(g) == len(w) and all(abs(a - b) <= TOL_PX for a, b in zip(g, w, strict=True))
        for g, w in zip(got, want, strict=True)
    )


def read_case(case: Case) -> Prediction:
    """Read one case's answer as ``medmine parse`` would."""
    return read_spatial_answer(
        case.text, case.task, case.w, case.h, case.asked, labels=case.labels, answer=case.form
    )


def judge(case: Case) -> Outcome:
    """Compare the reader's output with the careful reading."""
    row = answer_row(read_case(case))
    out = Outcome(case, row)
    if row["status"] != case.status:
        out.problems.append(f"status {row['status']} != {case.status}")
    if case.boxes is not None and not _close(row["boxes"], case.boxes):  # type: ignore[arg-type]
        out.problems.append(f"geometry boxes {row['boxes']} != {case.boxes}")
    if case.points is not None and not _close(row["points"], case.points):  # type: ignore[arg-type]
        out.problems.append(f"geometry points {row['points']} != {case.points}")
    if case.polygons is not None:
        got = row["polygons"]
        if len(got) != len(case.polygons) or not all(  # type: ignore[arg-type]
            _close(g, w)
            for g, w in zip(got, case.polygons, strict=False)  # type: ignore[call-overload]
        ):
            out.problems.append(f"geometry polygons {got} != {case.polygons}")
    if bool(row["ambiguous"]) != case.ambiguous:
        out.problems.append(f"ambiguous {row['ambiguous']} != {case.ambiguous}")
    if case.box_labels is not None and row["labels"] != case.box_labels:
        out.problems.append(f"labels {row['labels']} != {case.box_labels}")
    return out


@dataclass
class Summary:
    """The corpus figures."""

    n: int
    right: int
    silent_wrong: int
    ambiguous_expected: int
    ambiguous_missed: int
    wrong: list[Outcome]

    @property
    def accuracy(self) -> float:
        """Share of cases read right."""
        return self.right / self.n

    def text(self, name: str) -> str:
        """One line of figures and the wrong cases."""
        lines = [
            f"{name}: {self.right}/{self.n} read right ({self.accuracy:.1%}); "
            f"silent wrong readings: {self.silent_wrong}; ambiguous expected "
            f"{self.ambiguous_expected}, missed {self.ambiguous_missed}"
        ]
        lines += [f"  {o.case.id}: {'; '.join(o.problems)}" for o in self.wrong]
        return "\n".join(lines)


def summarise(cases: Sequence[Case]) -> Summary:
    """Judge every case."""
    outcomes = [judge(c) for c in cases]
    return Summary(
        n=len(outcomes),
        right=sum(o.right for o in outcomes),
        silent_wrong=sum(o.silent_wrong for o in outcomes),
        ambiguous_expected=sum(c.ambiguous for c in cases),
        ambiguous_missed=sum(
            c.ambiguous and not o.row["ambiguous"] for c, o in zip(cases, outcomes, strict=True)
        ),
        wrong=[o for o in outcomes if not o.right],
    )


def test_corpus_is_large_and_ids_unique() -> None:
    """At least 150 written answers plus a held-out set of at least a third as many."""
    ids = [c.id for c in (*CASES, *HELDOUT, *FRESH, *FINAL, *DEV4, *DEV5)]
    assert len(CASES) >= 150
    assert len(HELDOUT) * 3 >= len(CASES)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("name", "cases"),
    [
        ("corpus", CASES),
        ("held-out", HELDOUT),
        ("fresh", FRESH),
        ("final", FINAL),
        ("dev4", DEV4),
        ("dev5", DEV5),
    ],
)
def test_reading_accuracy(name: str, cases: list[Case]) -> None:
    """>= 90% read right; every answer whose scale cannot be known is flagged ambiguous."""
    summary = summarise(cases)
    print(summary.text(name))
    assert summary.accuracy >= 0.90, summary.text(name)
    assert summary.ambiguous_missed == 0, summary.text(name)


def parse_input_lines(cases: Sequence[Case]) -> list[dict[str, object]]:
    """The cases as ``medmine parse`` input lines (id, answer, width, height, convention...)."""
    lines: list[dict[str, object]] = []
    for c in cases:
        line: dict[str, object] = {
            "id": c.id,
            "task": c.task,
            "answer": c.text,
            "width": c.w,
            "height": c.h,
            "convention": c.asked,
        }
        if c.labels is not None:
            line["labels"] = c.labels
        if c.form is not None:
            line["answer_form"] = c.form
        lines.append(line)
    return lines


if __name__ == "__main__":
    import json
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--jsonl":  # --jsonl corpus|held-out
        chosen = {
            "corpus": CASES,
            "held-out": HELDOUT,
            "fresh": FRESH,
            "final": FINAL,
            "dev4": DEV4,
        }[sys.argv[2]]
        for item in parse_input_lines(chosen):
            print(json.dumps(item))
    else:
        sets = (
            ("corpus", CASES),
            ("held-out", HELDOUT),
            ("fresh", FRESH),
            ("final", FINAL),
            ("dev4", DEV4),
            ("dev5", DEV5),
        )
        for corpus_name, corpus in sets:
            print(summarise(corpus).text(corpus_name))
