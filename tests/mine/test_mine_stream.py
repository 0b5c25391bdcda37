"""The streamed CSV miner writes what the whole-file path writes, and resumes a killed run."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from medmine.datasets.report_text import read_chexpert_csv
from medmine.mine import stream_csv
from medmine.mine.csv_reports import read_csv_reports
from medmine.mine.reports import label_with_rules, mine_reports, write_mined_csv

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chexpert"))
from report_corpus import make_varied_reports


def _headerless(path: Path, n: int) -> list[str]:
    reports = make_varied_reports(n, seed=3)
    reports[5] = ""  # an empty report: skipped with its status, as the whole-file path does
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([r] for r in reports)
    return reports


def _expected(records: list, out: Path, layout: str) -> tuple[bytes, bytes | None]:
    status = write_mined_csv(label_with_rules(records, 20000), out, layout)
    return out.read_bytes(), status.read_bytes() if status else None


@pytest.mark.parametrize("workers", [1, 2])
def test_headerless_stream_equals_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(stream_csv, "CHUNK", 37)
    src = tmp_path / "reports.csv"
    _headerless(src, 400)
    want, want_status = _expected(read_chexpert_csv(src), tmp_path / "want.csv", "chexpert")
    out = tmp_path / "got.csv"
    n, statuses, status_file = stream_csv.mine_csv_stream(src, out, "chexpert", workers=workers)
    assert n == 400 and statuses["skipped"] == 1
    assert out.read_bytes() == want
    assert status_file is not None and status_file.read_bytes() == want_status
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("*.progress.json"))


def test_headed_csv_through_mine_reports_equals_whole_file(tmp_path: Path) -> None:
    src = tmp_path / "reports.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "text", "site"])
        w.writerows([f"r{i}", r, "A"] for i, r in enumerate(make_varied_reports(150, seed=1)))
    want, _ = _expected(read_csv_reports(src, "text"), tmp_path / "want.csv", "full")
    summary = mine_reports(src, tmp_path / "got.csv", column="text")
    assert summary.n == 150 and summary.layout == "full"
    assert (tmp_path / "got.csv").read_bytes() == want


def test_repeated_id_is_refused_with_both_rows(tmp_path: Path) -> None:
    src = tmp_path / "reports.csv"
    src.write_text("id,text\na,No effusion.\nb,Cardiomegaly.\na,Edema.\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"id 'a' appears in data rows 1 and 3"):
        mine_reports(src, tmp_path / "got.csv", column="text")


def test_killed_run_resumes_without_relabelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_csv, "CHUNK", 50)
    src = tmp_path / "reports.csv"
    _headerless(src, 420)
    want, want_status = _expected(read_chexpert_csv(src), tmp_path / "want.csv", "chexpert")
    real = stream_csv._label_chunk
    calls: list[int] = []

    def dies_on_fourth(args: tuple) -> list:
        calls.append(len(args[0]))
        if len(calls) == 4:
            raise KeyboardInterrupt  # the user (or the OOM killer) stops the run
        return real(args)

    monkeypatch.setattr(stream_csv, "_label_chunk", dies_on_fourth)
    out = tmp_path / "got.csv"
    with pytest.raises(KeyboardInterrupt):
        stream_csv.mine_csv_stream(src, out, "chexpert")
    assert not out.exists()  # nothing half-written takes the final name
    partial = out.with_name("got.csv.partial")
    with partial.open("ab") as fh:
        fh.write(b"torn row without end")  # a chunk cut mid-write by the kill
    calls.clear()
    monkeypatch.setattr(stream_csv, "_label_chunk", lambda a: calls.append(len(a[0])) or real(a))
    n, _, status_file = stream_csv.mine_csv_stream(src, out, "chexpert")
    assert n == 420
    assert sum(calls) == 420 - 150  # the three chunks written before the kill are not redone
    assert out.read_bytes() == want
    assert status_file is not None and status_file.read_bytes() == want_status


def test_changed_input_starts_afresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_csv, "CHUNK", 50)
    src = tmp_path / "reports.csv"
    _headerless(src, 200)
    out = tmp_path / "got.csv"
    progress = stream_csv._Progress(out, src, {})
    assert progress.load() is None
    progress.save(100, [10, 10], stream_csv.Counter())
    src.write_text("No acute findings.\n", encoding="utf-8")  # another file under the same name
    assert stream_csv._Progress(out, src, {}).load() is None
