"""Measure, black-box, how well `medmine parse` reads answers against a corpus of expectations.

Each corpus line is a JSON object. Classification lines give `id`, `answer`, `dataset` (a
catalog name) or `labels` (a list), `expect_status` and `expect_label`. Spatial lines also give
`task` (localization or detection), `width`, `height`, `convention` (the one the prompt asked
for), `expect_boxes` (pixel [x0, y0, x1, y1] lists) and `expect_ambiguous`.

`expect_status` is `answered` (the tool's `ok` or `repaired`), `unparseable` or `refused`.
The corpus is handed to `python -m medmine parse TASK FILE` in a subprocess (one call per task
present in the file), stripped of the expectation fields, and every output line is compared
with its expectation. Nothing is imported from medmine, so the figures are those a user gets
from the command line.

    PYTHONPATH=$PWD/src python benchmarks/answer_reading.py \
        tests/tasks/data/unseen3_classification.jsonl tests/tasks/data/unseen3_spatial.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ANSWERED = {"ok", "repaired"}
INPUT_KEYS = ("id", "answer", "dataset", "labels", "width", "height", "convention")
TOLERANCE_PX = 2.0


def load_corpus(path: Path) -> list[dict[str, Any]]:
    """Read the corpus; a line that is not a JSON object with an id stops with its number."""
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            sys.exit(f"{path}, line {number}: not JSON ({exc})")
        if not isinstance(row, dict) or "id" not in row or "expect_status" not in row:
            sys.exit(f"{path}, line {number}: needs at least 'id' and 'expect_status'")
        rows.append(row)
    return rows


def run_parse(task: str, rows: list[dict[str, Any]], python: str) -> dict[str, dict[str, Any]]:
    """Run `medmine parse TASK` on the input fields of `rows`; return its output lines by id."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{task}.jsonl"
        with src.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps({k: row[k] for k in INPUT_KEYS if k in row}) + "\n")
        proc = subprocess.run(
            [python, "-m", "medmine", "parse", task, str(src)],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0 and not proc.stdout.strip():
        sys.exit(f"medmine parse {task} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    read: dict[str, dict[str, Any]] = {}
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out = json.loads(line)
            read[str(out.get("id"))] = out
    return read


def status_class(status: str | None) -> str:
    """Map the tool's status to the corpus vocabulary (ok and repaired are both `answered`)."""
    if status in ANSWERED:
        return "answered"
    return str(status)


def boxes_match(expected: list[list[float]], read: list[list[float]]) -> bool:
    """True when both lists have the same count and some pairing agrees within 2 px everywhere."""
    if len(expected) != len(read):
        return False
    if not expected:
        return True

    def close(a: list[float], b: list[float]) -> bool:
        return len(b) == 4 and all(abs(x - y) <= TOLERANCE_PX for x, y in zip(a, b, strict=True))

    if len(expected) > 6:
        return all(close(a, b) for a, b in zip(sorted(expected), sorted(read), strict=True))
    return any(
        all(close(a, b) for a, b in zip(expected, perm, strict=True))
        for perm in itertools.permutations(read)
    )


def fmt_boxes(boxes: list[list[float]] | None) -> str:
    """Short rendering of a box list for miss lines."""
    if not boxes:
        return "[]"
    return "[" + ", ".join("[" + ",".join(f"{v:.0f}" for v in b) + "]" for b in boxes) + "]"


def report_classification(rows: list[dict[str, Any]], read: dict[str, dict[str, Any]]) -> None:
    """Print reading accuracy, silent wrong labels and one line per miss."""
    right = silent = 0
    misses: list[str] = []
    for row in rows:
        out = read.get(str(row["id"]), {})
        got_status, got_label = status_class(out.get("status")), out.get("label")
        want_status, want_label = row["expect_status"], row.get("expect_label")
        ok = got_status == want_status and (want_status != "answered" or got_label == want_label)
        if ok:
            right += 1
            continue
        wrong_label = got_status == "answered" and got_label != want_label
        silent += wrong_label
        tag = "SILENT-WRONG" if wrong_label else "miss"
        misses.append(
            f"  {tag} {row['id']} [{row.get('dataset') or 'labels'}/{row.get('style')}] "
            f"expected {want_status}:{want_label} read {out.get('status')}:{got_label} "
            f"answer={row['answer'][:90]!r} why={out.get('why')!r}"
        )
    n = len(rows)
    print(f"classification: n={n}")
    print(f"  reading accuracy: {right}/{n} = {right / n:.1%}")
    print(f"  silent wrong labels (ok/repaired, wrong label): {silent}/{n} = {silent / n:.1%}")
    print(f"  by expected status: {dict(Counter(r['expect_status'] for r in rows))}")
    for line in misses:
        print(line)


def report_spatial(rows: list[dict[str, Any]], read: dict[str, dict[str, Any]]) -> None:
    """Print the share read within 2 px, ambiguity flags and silent wrong boxes, then misses."""
    within = amb_right = silent = 0
    answered_rows = [r for r in rows if r["expect_status"] == "answered"]
    answered_within = 0
    misses: list[str] = []
    for row in rows:
        out = read.get(str(row["id"]), {})
        got_status = status_class(out.get("status"))
        got_boxes = out.get("boxes") or []
        got_amb = bool(out.get("ambiguous"))
        want_status, want_boxes = row["expect_status"], row.get("expect_boxes") or []
        want_amb = bool(row.get("expect_ambiguous"))
        same_status = got_status == want_status
        boxes_ok = same_status and (want_status != "answered" or boxes_match(want_boxes, got_boxes))
        within += boxes_ok
        if boxes_ok and want_status == "answered":
            answered_within += 1
        amb_right += got_amb == want_amb
        is_silent = got_status == "answered" and not got_amb and not boxes_ok
        silent += is_silent
        if boxes_ok and got_amb == want_amb:
            continue
        tag = "SILENT-WRONG" if is_silent else ("flag" if boxes_ok else "miss")
        misses.append(
            f"  {tag} {row['id']} [{row['task']}/{row['convention']}/{row.get('style')} "
            f"{row['width']}x{row['height']}] expected {want_status} {fmt_boxes(want_boxes)} "
            f"amb={want_amb} read {out.get('status')} {fmt_boxes(got_boxes)} amb={got_amb} "
            f"why={out.get('why')!r}"
        )
    n = len(rows)
    print(f"spatial: n={n} (answered expected {len(answered_rows)})")
    print(f"  read right (status, and boxes within 2 px): {within}/{n} = {within / n:.1%}")
    if answered_rows:
        n_ans = len(answered_rows)
        share = answered_within / n_ans
        print(f"  boxes within 2 px, answered lines: {answered_within}/{n_ans} = {share:.1%}")
    print(f"  ambiguous flag as expected: {amb_right}/{n} = {amb_right / n:.1%}")
    print(f"  silent wrong (ok/repaired, off > 2 px, unflagged): {silent}/{n} = {silent / n:.1%}")
    for line in misses:
        print(line)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run `medmine parse` per task and print the comparison."""
    parser = argparse.ArgumentParser(
        description="Compare `medmine parse` with a corpus of expected readings "
        "(classification lines: expect_status, expect_label; spatial lines: task, width, height, "
        "convention, expect_boxes, expect_ambiguous). expect_status is answered (= ok or "
        "repaired), unparseable or refused.",
    )
    parser.add_argument("corpus", type=Path, nargs="+", help="corpus JSONL file(s)")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs medmine")
    args = parser.parse_args(argv)
    for path in args.corpus:
        rows = load_corpus(path)
        print(f"== {path}")
        spatial = [r for r in rows if "task" in r]
        plain = [r for r in rows if "task" not in r]
        if plain:
            report_classification(plain, run_parse("classification", plain, args.python))
        if spatial:
            read: dict[str, dict[str, Any]] = {}
            for task in sorted({r["task"] for r in spatial}):
                read.update(run_parse(task, [r for r in spatial if r["task"] == task], args.python))
            report_spatial(spatial, read)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
