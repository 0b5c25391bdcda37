"""``medmine mine`` keeps the user's own ids and reads the file's own encoding (issue 14)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from medmine.mine.cli_command import mine_command

REPORTS = [
    ("RAD-1042", "FINDINGS: Heart size is normal. IMPRESSION: No acute cardiopulmonary process."),
    ("RAD-0007", "IMPRESSION: Small right pleural effusion. Mild cardiomegaly."),
    ("RAD-2230", "FINDINGS: Right lower lobe consolidation. IMPRESSION: Pneumonia."),
]


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def _cli(*args: str, input: str | None = None) -> tuple[int, str]:
    app = typer.Typer()
    app.command("mine")(mine_command)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["mine", *args], input=input)
    return result.exit_code, " ".join(result.output.split())


def _write(path: Path, rows: list[tuple[str, str]], encoding: str = "utf-8", **extra: str) -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["patient_note", "id", "report"])
        for ident, text in rows:
            w.writerow([extra.get("note", "x"), ident, text])
    return path


def _ids(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [r["id"] for r in csv.DictReader(fh)]


def test_the_csv_id_column_is_kept(tmp_path: Path) -> None:
    src = _write(tmp_path / "reports.csv", REPORTS)
    out = tmp_path / "labels.csv"
    code, text = _cli(str(src), "--column", "report", "--out", str(out), "--no-progress")
    assert code == 0, text
    assert _ids(out) == ["RAD-1042", "RAD-0007", "RAD-2230"]


def test_another_id_column_can_be_named_and_a_missing_one_is_refused(tmp_path: Path) -> None:
    rows = [(f"acc{i}", t) for i, (_, t) in enumerate(REPORTS)]
    src = _write(tmp_path / "reports.csv", rows, note="n")
    out = tmp_path / "labels.csv"
    code, text = _cli(str(src), "--column", "report", "--id-column", "nope", "--out", str(out))
    assert code == 2 and "--id-column 'nope' is not in the header" in text
    dup = _write(tmp_path / "dup.csv", [("a", "x"), ("a", "y")])
    code, text = _cli(str(dup), "--column", "report", "--out", str(tmp_path / "d.csv"))
    assert code == 2 and "id 'a' appears in data rows 1 and 2" in text


def test_latin1_text_is_refused_with_its_row_unless_the_encoding_is_given(tmp_path: Path) -> None:
    rows = [
        *REPORTS[:2],
        ("RAD-3001", "IMPRESSION: Épanchement pleural droit, pas de pneumothorax."),
    ]
    src = _write(tmp_path / "latin.csv", rows, encoding="latin-1")
    out = tmp_path / "labels.csv"
    code, text = _cli(str(src), "--column", "report", "--out", str(out), "--no-progress")
    assert code == 2
    assert "line 4 (data row 3) is not valid utf-8" in text and "--encoding" in text
    assert not out.exists()
    code, text = _cli(
        str(src), "--column", "report", "--encoding", "latin-1", "--out", str(out), "--no-progress"
    )
    assert code == 0, text
    assert _ids(out)[-1] == "RAD-3001"
    with out.open(encoding="utf-8") as fh:
        assert "Épanchement" in fh.read()


def test_a_utf8_bom_is_detected(tmp_path: Path) -> None:
    src = _write(tmp_path / "bom.csv", REPORTS, encoding="utf-8-sig")
    out = tmp_path / "labels.csv"
    code, text = _cli(str(src), "--column", "report", "--out", str(out), "--no-progress")
    assert code == 0, text
    assert _ids(out)[0] == "RAD-1042"


def test_a_model_without_its_key_is_refused_before_any_cost_question(tmp_path: Path) -> None:
    src = _write(tmp_path / "reports.csv", REPORTS)
    out = tmp_path / "mined"
    code, text = _cli(
        str(src), "--column", "report", "--model", "gpt-4o", "--out", str(out), input="y\n"
    )
    assert code == 2
    assert "OPENAI_API_KEY" in text and "export OPENAI_API_KEY" in text
    assert "estimated cost" not in text and "Send these requests?" not in text
    assert not (out / "run.sqlite").exists()
