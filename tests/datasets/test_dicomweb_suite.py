"""A DICOMweb archive as a suite's dataset root, against a real Orthanc server on 127.0.0.1.

The archive holds generated chest radiographs with full identifying headers (see
``tests/mine/dicom_studies.py``) plus one instance whose display comes from a VOI LUT
Sequence. The truth table labels studies, a series and single instances by UID, with a label
outside the label set and a UID the archive does not hold.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "mine"))
sys.path.insert(0, str(Path(__file__).parents[1] / "models"))

import orthanc
from fakeservers import FakeServer, Reply, openai_completion

from medmine.datasets.dicomweb_archive import DicomWebArchive
from medmine.datasets.sources import load_for_suite
from medmine.datasets.spec import DatasetSpec
from medmine.models.images import dicom_to_image, render_dicom

pydicom = pytest.importorskip("pydicom")
pytest.importorskip("dicomweb_client", reason="pip install 'medmine[dicomweb]'")
import dicom_studies  # noqa: E402  (needs pydicom, checked just above)
from pydicom.dataelem import DataElement  # noqa: E402
from pydicom.dataset import Dataset  # noqa: E402
from pydicom.sequence import Sequence  # noqa: E402

VOI_STUDY = 90


def _voi_instance() -> Dataset:
    """An instance shown through a non-linear VOI LUT Sequence (no window)."""
    ds = dicom_studies.instance(VOI_STUDY, 0, 0)
    del ds.WindowCenter
    del ds.WindowWidth
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    curve = (np.sqrt(np.arange(4096) / 4095.0) * 65535).astype("<u2")
    item.add(DataElement(0x00283006, "OW", curve.tobytes()))
    item.LUTExplanation = "square root"
    ds.VOILUTSequence = Sequence([item])
    return ds


def _originals() -> list[Dataset]:
    return [*dicom_studies.archive(6), _voi_instance()]


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    why = orthanc.missing()
    if why is not None:
        pytest.skip(why)
    with orthanc.Orthanc(tmp_path_factory.mktemp("orthanc")) as server:
        server.upload(_originals())
        yield server


@pytest.fixture
def env(pacs: orthanc.Orthanc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_DICOMWEB_USER", orthanc.USER)
    monkeypatch.setenv("MEDMINE_DICOMWEB_PASSWORD", orthanc.PASSWORD)
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))


def _uid(study: int, series: int | None = None, number: int | None = None) -> str:
    uid = f"{dicom_studies.ROOT}{study}"
    if series is not None:
        uid += f".{series}"
    if number is not None:
        uid += f".{number}.9"
    return uid


def _truth(path: Path) -> Path:
    """Studies 0-3 by study UID (study 1 holds the burned-in instance), one instance of study
    4, series 1 of study 5, the VOI LUT instance, a label outside the set, an unknown UID."""
    rows = [
        {"study_uid": _uid(0), "label": "normal"},
        {"study_uid": _uid(1), "label": "PNEUMONIA"},
        {"study_uid": _uid(2), "label": "Pneumonia"},
        {"study_uid": _uid(3), "label": "normal"},
        {"sop_uid": _uid(4, 0, 0), "series_uid": _uid(4, 0), "label": "Normal"},
        {"series_uid": _uid(5, 1), "label": "pneumonia"},
        {"sop_uid": _uid(VOI_STUDY, 0, 0), "label": "pneumonia"},
        {"sop_uid": _uid(4, 1, 1), "label": "bronchitis"},
        {"study_uid": "1.2.3.999", "label": "normal"},
    ]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, ["study_uid", "series_uid", "sop_uid", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def _spec(pacs: orthanc.Orthanc, truth: Path, **extra: Any) -> DatasetSpec:
    return DatasetSpec(
        name="chestxray2017",
        root=f"dicomweb+{pacs.dicomweb}",
        truth=truth,
        support_split=None,
        **extra,
    )


def _identifiers() -> list[str]:
    values = ["Saint Hypothetical", "Grimsby", "Aloysius"]
    for s in [*range(6), VOI_STUDY]:
        values += dicom_studies.patient(s).values()
        values.append(f"{dicom_studies.ROOT}{s}.")
    return values


class CountingFetch:
    """Counts WADO-RS frame fetches (patched onto the archive client)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n = 0
        original = DicomWebArchive.fetch_frame

        def counted(archive: DicomWebArchive, inst: Any) -> bytes:
            self.n += 1
            return original(archive, inst)

        monkeypatch.setattr(DicomWebArchive, "fetch_frame", counted)


def test_truth_joins_the_archive_by_uid_and_says_what_it_left_out(
    env: None, pacs: orthanc.Orthanc, tmp_path: Path
) -> None:
    loaded = load_for_suite(_spec(pacs, _truth(tmp_path / "truth.csv")))
    # 16 instances of studies 0-3 minus the burned-in one, 1 of study 4, 2 of study 5, VOI
    assert len(loaded.test) == 15 + 1 + 2 + 1, (loaded.notice, loaded.bad)
    labels = [s.targets["classification"].label for s in loaded.test]  # type: ignore[attr-defined]
    assert labels.count("pneumonia") == 7 + 2 + 1 and labels.count("normal") == 8 + 1
    assert all(s.id.startswith("dw-") and len(s.id) == 23 for s in loaded.test)
    assert all(s.patient_id and s.patient_id.startswith("pt-") for s in loaded.test)
    assert len({s.patient_id for s in loaded.test}) == 7  # one per study here
    notice = loaded.notice or ""
    assert "25 instance(s) of 7 stud(ies) matched the query" in notice
    assert "19 labelled by truth.csv" in notice
    assert "5 without a truth row (not scored)" in notice
    assert "1 truth row(s) matched no instance" in notice
    reasons = {b.id: b.reason for b in loaded.bad}
    assert "label 'bronchitis' is not one of chestxray2017's labels" in reasons["truth.csv row 9"]
    assert any("BurnedInAnnotation" in r for r in reasons.values())
    text = repr(loaded.test) + repr(loaded.bad) + notice
    leaked = [v for v in _identifiers() if v in text]
    assert leaked == [], leaked


def test_pixels_fetched_once_render_as_the_original_and_keep_the_voi_lut(
    env: None, pacs: orthanc.Orthanc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetches = CountingFetch(monkeypatch)
    truth = _truth(tmp_path / "truth.csv")
    first = load_for_suite(_spec(pacs, truth))
    assert fetches.n == 19
    originals = {str(ds.SOPInstanceUID): ds for ds in _originals()}
    voi_seen = False
    for sample in first.test:
        stored = pydicom.dcmread(sample.images[0].path)
        for keyword in ("PatientName", "PatientID", "StudyInstanceUID", "AccessionNumber"):
            assert keyword not in stored, keyword
        assert str(stored.SOPInstanceUID).startswith("2.25.")  # a new UID, not the archive's
        # find the original by rendering: every stored file renders as its original does
        rendered = np.asarray(dicom_to_image(sample.images[0].path))
        matches = [
            uid
            for uid, ds in originals.items()
            if np.array_equal(np.asarray(render_dicom(ds, 0)), rendered)
        ]
        assert len(matches) == 1, sample.id
        if matches[0] == _uid(VOI_STUDY, 0, 0):
            voi_seen = True
            assert "VOILUTSequence" in stored
            linear = render_dicom(dicom_studies.instance(VOI_STUDY, 0, 0), 0)
            assert not np.array_equal(np.asarray(linear), rendered)
    assert voi_seen
    second = load_for_suite(_spec(pacs, truth))
    assert fetches.n == 19  # nothing fetched again
    assert [s.id for s in second.test] == [s.id for s in first.test]
    assert second.fingerprint == first.fingerprint and first.fingerprint


def test_only_the_selected_samples_are_fetched(
    env: None, pacs: orthanc.Orthanc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetches = CountingFetch(monkeypatch)
    loaded = load_for_suite(_spec(pacs, _truth(tmp_path / "truth.csv"), per_class=3))
    assert len(loaded.test) == 6 and fetches.n == 6


def test_an_archive_root_needs_truth_and_a_folder_takes_no_query(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="an archive root has no ground truth"):
        DatasetSpec(name="chestxray2017", root="dicomweb+http://127.0.0.1:1/dicom-web")
    with pytest.raises(ValueError, match="apply only to a DICOMweb root"):
        DatasetSpec(name="chestxray2017", root=tmp_path, query="Modality=CR")


def test_a_truth_table_without_uid_columns_is_refused(
    env: None, pacs: orthanc.Orthanc, tmp_path: Path
) -> None:
    bad = tmp_path / "labels.csv"
    bad.write_text("path,label\nx.png,normal\n")
    with pytest.raises(ValueError, match=r"labels.csv: a truth table needs a 'label' column"):
        load_for_suite(_spec(pacs, bad))


def test_a_suite_runs_over_the_archive_and_no_header_value_leaves(
    env: None, pacs: orthanc.Orthanc, tmp_path: Path
) -> None:
    with FakeServer() as server:
        server.default = Reply(body=openai_completion('{"label": "pneumonia"}'))
        (tmp_path / "presets.yaml").write_text(
            "presets:\n"
            "  - name: local-vlm\n"
            "    provider: openai_compatible\n"
            "    model_id: local-vlm\n"
            f"    base_url: {server.url}/v1\n"
            "    stream: false\n"
            "    concurrency: 2\n"
            "    image_probe: false\n"
        )
        _truth(tmp_path / "truth.csv")
        (tmp_path / "suite.yaml").write_text(
            "name: archive\n"
            "models: [local-vlm]\n"
            "tasks: [classification]\n"
            "presets: [presets.yaml]\n"
            "datasets:\n"
            "  - name: chestxray2017\n"
            f"    root: dicomweb+{pacs.dicomweb}\n"
            "    query: Modality=CR\n"
            "    truth: truth.csv\n"
            "    support_split: null\n"
        )
        run = subprocess.run(
            [sys.executable, "-m", "medmine", "run", "suite.yaml", "--out", "run", "--no-progress"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=os.environ.copy(),
            timeout=600,
        )
        bodies = [json.dumps(r.body) for r in server.requests]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    # CR studies are 0, 2, 4 and the VOI study: 4 + 4 + 1 (study 4's labelled one) + 1
    assert len(bodies) == 10
    with (tmp_path / "run" / "leaderboard.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("model") == "local-vlm"]
    assert rows and rows[0]["dataset"] == "chestxray2017"
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    identifiers = _identifiers()
    for path in files:
        data = path.read_bytes()
        leaked = [v for v in identifiers if v.encode() in data]
        assert leaked == [], (path.name, leaked)
    for body in bodies:
        leaked = [v for v in identifiers if v in body]
        assert leaked == [], leaked
