"""``medmine mine`` for reports: CheXpert's own output reproduced, every input layout, bad input."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from medmine.chexpert import OBSERVATIONS
from medmine.mine import is_report_source, mine_reports, mine_reports_command
from medmine.run.store import RunStore

REALDATA = Path(
    os.environ.get("MEDMINE_REALDATA", Path(__file__).parents[2] / "../shared/realdata")
)
CHEXPERT = REALDATA / "chexpert_labeler_samples"


def _chexpert() -> Path:
    if not (CHEXPERT / "sample_reports.csv").is_file():
        pytest.skip(f"CheXpert labeler samples not found at {CHEXPERT} (set MEDMINE_REALDATA)")
    return CHEXPERT


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))


def test_reproduces_the_chexpert_labeler_output_exactly(tmp_path: Path) -> None:
    src = _chexpert()
    out = tmp_path / "labeled.csv"
    summary = mine_reports(src / "sample_reports.csv", out)
    assert summary.layout == "chexpert" and summary.n == 4 and summary.statuses == {"ok": 4}
    want, got = _rows(src / "labeled_reports.csv"), _rows(out)
    assert list(got[0]) == ["Reports", *OBSERVATIONS]
    assert len(got) == len(want) == 4
    for g, w in zip(got, want, strict=True):
        for column in w:
            assert g[column] == w[column], column  # cell by cell, parsed
    assert out.read_bytes() == (src / "labeled_reports.csv").read_bytes()  # byte for byte
    assert _rows(tmp_path / "labeled.status.csv") == [
        {"id": str(i), "status": "ok"} for i in range(4)
    ]


def test_model_path_goes_through_the_runner_and_resumes(tmp_path: Path) -> None:
    src = _chexpert()
    out = tmp_path / "by_model.csv"
    first = mine_reports(src / "sample_reports.csv", out, model="chexpert-rules", progress=False)
    assert first.run_dir == tmp_path / "by_model.run" and first.asked == 4
    assert out.read_bytes() == (src / "labeled_reports.csv").read_bytes()
    again = mine_reports(src / "sample_reports.csv", out, model="chexpert-rules", progress=False)
    assert again.asked == 0 and again.resumed == 4
    store = RunStore(first.run_dir)
    assert len(list(store.results())) == 4 and store.manifest()["command"] == "mine"
    store.close()
    other = mine_reports(
        src / "sample_reports.csv",
        tmp_path / "x.csv",
        model="chexpert-rules",
        run_dir=tmp_path / "elsewhere",
        progress=False,
    )
    assert other.from_cache == 4 and other.asked == 0  # the shared response cache answered
    with pytest.raises(ValueError, match="does not do the diagnosis task"):
        mine_reports(src / "sample_reports.csv", tmp_path / "y.csv", model="normal-report")


def test_bad_reports_get_a_status_and_the_run_goes_on(tmp_path: Path) -> None:
    src = tmp_path / "reports.csv"
    long_report = "No pneumothorax. " * 3000  # 51 kB
    src.write_bytes(
        b"No pleural effusion.\n"
        b'""\n'
        b"Caf\xe9 cardiomegaly is present.\n" + long_report.encode() + b"\n"
    )
    out = tmp_path / "out.csv"
    summary = mine_reports(src, out, layout="full")
    rows = _rows(out)
    assert [r["id"] for r in rows] == ["0", "1", "2", "3"]
    assert list(rows[0]) == ["id", "report", *OBSERVATIONS, "status"]
    assert rows[0]["status"] == "ok" and rows[0]["Pleural Effusion"] == "0.0"
    assert rows[1]["status"].startswith("skipped: empty report")
    assert all(rows[1][o] == "" for o in OBSERVATIONS)
    assert rows[2]["status"].startswith("ok (non-UTF-8") and rows[2]["Cardiomegaly"] == "1.0"
    assert "\ufffd" in rows[2]["report"]
    assert rows[3]["status"] == "skipped: report too long (51000 characters > max_chars=20000)"
    assert summary.statuses == {"ok": 2, "skipped": 2}
    # The same bad reports through a model: per-report statuses, nothing asked for them.
    by_model = mine_reports(src, tmp_path / "m.csv", model="chexpert-rules", progress=False)
    assert by_model.asked == 2
    assert [r["status"].split(" ")[0] for r in _rows(tmp_path / "m.status.csv")] == [
        "ok", "skipped:", "ok", "skipped:"
    ]  # fmt: skip


def test_csv_with_a_header_json_jsonl_text_folder_and_openi(tmp_path: Path) -> None:
    text = "Small right pleural effusion. No pneumothorax."
    (tmp_path / "h.csv").write_text(f'study,findings\ns1,"{text}"\ns2,Lungs are clear.\n')
    summary = mine_reports(tmp_path / "h.csv", tmp_path / "h_out.csv", column="findings")
    rows = _rows(tmp_path / "h_out.csv")
    assert summary.layout == "full" and rows[0]["Pleural Effusion"] == "1.0"
    assert rows[0]["Pneumothorax"] == "0.0" and rows[1]["No Finding"] == "1.0"

    (tmp_path / "r.json").write_text(json.dumps([{"id": "a", "report": text}]))
    mine_reports(tmp_path / "r.json", tmp_path / "j.csv", text_field="report")
    assert _rows(tmp_path / "j.csv")[0]["id"] == "a"

    (tmp_path / "r.jsonl").write_text(
        json.dumps({"id": "a", "text": text}) + "\n{broken\n" + json.dumps({"id": "a"}) + "\n"
    )
    mine_reports(tmp_path / "r.jsonl", tmp_path / "l.csv")
    statuses = [r["status"] for r in _rows(tmp_path / "l.csv")]
    assert statuses[0] == "ok" and statuses[1].startswith("skipped: line 2: invalid JSON")
    assert statuses[2].startswith("skipped: no text in field 'text'")

    folder = tmp_path / "txt"
    folder.mkdir()
    (folder / "b.txt").write_text("FINDINGS: Stable cardiomegaly.\nIMPRESSION: No edema.")
    (folder / "a.txt").write_text(text)
    mine_reports(folder, tmp_path / "t.csv", section="impression")
    rows = _rows(tmp_path / "t.csv")
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[1]["Edema"] == "0.0" and rows[1]["Cardiomegaly"] == ""  # impression only

    xml = tmp_path / "ecgen-radiology"
    xml.mkdir()
    (xml / "1.xml").write_text(
        '<eCitation><uId id="CXR1"/><MedlineCitation><Article><Abstract>'
        '<AbstractText Label="FINDINGS">The heart is enlarged.</AbstractText>'
        '<AbstractText Label="IMPRESSION">Cardiomegaly.</AbstractText>'
        "</Abstract></Article></MedlineCitation></eCitation>"
    )
    mine_reports(xml, tmp_path / "x.csv")
    row = _rows(tmp_path / "x.csv")[0]
    assert row["id"] == "CXR1" and row["Cardiomegaly"] == "1.0"


def test_missing_file_or_column_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"nope\.csv: not found"):
        mine_reports(tmp_path / "nope.csv", tmp_path / "o.csv")
    (tmp_path / "h.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no column 'report'"):
        mine_reports(tmp_path / "h.csv", tmp_path / "o.csv", column="report")
    with pytest.raises(ValueError, match="row 1 has 2 columns"):
        mine_reports(tmp_path / "h.csv", tmp_path / "o.csv")
    with pytest.raises(ValueError, match="layout 'wide'"):
        mine_reports(tmp_path / "h.csv", tmp_path / "o.csv", layout="wide")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no report files"):
        mine_reports(tmp_path / "empty", tmp_path / "o.csv")


def test_is_report_source(tmp_path: Path) -> None:
    assert is_report_source(Path("x/reports.csv")) and is_report_source(Path("a.JSONL"))
    assert not is_report_source(Path("scan.png")) and not is_report_source(tmp_path)
    (tmp_path / "a.txt").write_text("x")
    assert is_report_source(tmp_path)
    images = tmp_path / "imgs"
    images.mkdir()
    (images / "a.png").write_bytes(b"")
    assert not is_report_source(images)


def test_typer_command(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(mine_reports_command)
    src = tmp_path / "r.csv"
    src.write_text("No pneumothorax.\n")
    result = CliRunner().invoke(app, [str(src), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r_labeled.csv").read_text().startswith("Reports,No Finding,")
    result = CliRunner().invoke(app, [str(tmp_path / "missing.csv")])
    assert result.exit_code == 2 and "missing.csv: not found" in result.output.replace("\n", "")


def test_medmine_mine_command_reproduces_the_chexpert_labeler_output(tmp_path: Path) -> None:
    """The issue's own command line: `medmine mine REPORTS --out LABELS.csv`, no --task."""
    from typer.testing import CliRunner

    from medmine.cli import app

    source = REALDATA / "chexpert_labeler_samples" / "sample_reports.csv"
    if not source.exists():
        pytest.skip(f"real data not found at {source}")
    out = tmp_path / "labels.csv"
    result = CliRunner().invoke(app, ["mine", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = source.with_name("labeled_reports.csv").read_bytes()
    assert out.read_bytes() == expected
