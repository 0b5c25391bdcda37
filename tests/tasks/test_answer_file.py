"""`medmine parse`: a file of answers read with the tasks' own readers, no model asked."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from medmine.cli import app
from medmine.tasks.answer_file import parse_lines


def _lines(rows: list[dict[str, object]]) -> list[str]:
    return [json.dumps(r) for r in rows]


def test_classification_lines_read_with_catalog_or_given_labels() -> None:
    rows = [
        {"id": "a", "dataset": "chestxray2017", "answer": "Pneumonia is not present."},
        {"id": "b", "labels": ["glaucoma", "non_glaucoma"], "answer": "No signs of glaucoma."},
        {"id": "c", "dataset": "ham10000", "answer": '```json\n{"label": "mel"}\n```'},
        {"id": "d", "dataset": "ham10000", "answer": "I'm sorry, but I can't diagnose this."},
        {"id": "e", "dataset": "ham10000", "answer": "Melanoma or nevus."},
    ]
    out = {r["id"]: r for r in parse_lines("classification", _lines(rows))}
    assert (out["a"]["status"], out["a"]["label"]) == ("repaired", "normal")
    assert (out["b"]["status"], out["b"]["label"]) == ("repaired", "non_glaucoma")
    assert (out["c"]["status"], out["c"]["label"]) == ("ok", "mel")
    assert (out["d"]["status"], out["d"]["label"]) == ("refused", None)
    assert out["e"]["status"] == "unparseable" and out["e"]["why"].startswith("ambiguous")


def test_bad_lines_are_reported_by_line_and_the_file_goes_on() -> None:
    lines = ["not json", json.dumps({"id": "x", "answer": "mel"}), json.dumps({"id": "y"})]
    out = list(parse_lines("classification", lines, "answers.jsonl"))
    assert [r["status"] for r in out] == ["bad_input"] * 3
    assert "answers.jsonl, line 1" in out[0]["why"]
    assert "'dataset'" in out[1]["why"] and "'answer'" in out[2]["why"]


def test_localization_boxes_come_back_in_pixels() -> None:
    row = {
        "id": "b1",
        "width": 800,
        "height": 600,
        "convention": "norm1000_xyxy",
        "answer": '{"box": [100, 200, 300, 400]}',
    }
    (out,) = parse_lines("localization", _lines([row]))
    assert out["status"] == "ok"
    assert out["boxes"] == [[80.0, 120.0, 240.0, 240.0]]
    assert "ambiguous" in out


def test_detection_needs_image_size() -> None:
    row = {"id": "d1", "labels": ["polyp"], "answer": "[]"}
    (out,) = parse_lines("detection", _lines([row]))
    assert out["status"] == "bad_input" and "width" in out["why"]


def test_cli_writes_jsonl_and_counts(tmp_path: Path) -> None:
    src = tmp_path / "answers.jsonl"
    src.write_text(
        "\n".join(
            _lines(
                [
                    {"id": "1", "dataset": "refuge", "answer": "Glaucoma"},
                    {"id": "2", "dataset": "refuge", "answer": "I cannot determine this."},
                ]
            )
        ),
        encoding="utf-8",
    )
    dest = tmp_path / "read.jsonl"
    result = CliRunner().invoke(app, ["parse", "classification", str(src), "--out", str(dest)])
    assert result.exit_code == 0, result.output
    got = [json.loads(x) for x in dest.read_text(encoding="utf-8").splitlines()]
    assert [(g["id"], g["status"], g["label"]) for g in got] == [
        ("1", "ok", "glaucoma"),
        ("2", "unparseable", None),
    ]
    bad = CliRunner().invoke(app, ["parse", "segmentation", str(src)])
    assert bad.exit_code == 2
