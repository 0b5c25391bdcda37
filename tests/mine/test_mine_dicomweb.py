"""Mining a hospital archive over DICOMweb, against a real Orthanc server on 127.0.0.1.

The archive holds generated chest radiograph studies (CR and DX) whose headers carry patient
names, MRNs, birth dates, accession numbers and study dates; one instance has burned-in
annotation, one is multi-frame, some are RLE-compressed, one is MONOCHROME1. The model is a
local OpenAI-compatible fake server that records every request body.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "models"))

import orthanc
from fakeservers import FakeServer, Reply, openai_completion

from medmine.datasets.dicomweb_archive import (
    ArchiveQuery,
    DicomWebArchive,
    _reservoir,
    archive_url,
)
from medmine.datasets.dicomweb_ids import anonymous_id, id_key
from medmine.mine.cli_command import mine_command
from medmine.run.writes import FLUSH_AFTER_S

pytest.importorskip("pydicom")
pytest.importorskip("dicomweb_client", reason="pip install 'medmine[dicomweb]'")
import dicom_studies

N_STUDIES = 60  # x 2 series x 2 instances = 240 instances
LABELS = "normal,abnormal"


# ------------------------------------------------------------------------------ unit checks
def test_query_keys_and_numbers_are_checked() -> None:
    q = ArchiveQuery.parse("Modality=CR&StudyDate=20240101-20240131&StudyDescription=*PA*")
    assert q.study_filters == {"ModalitiesInStudy": "CR", "StudyDate": "20240101-20240131"}
    assert q.series_filters == {"Modality": "CR"}
    assert q.contains == {"StudyDescription": "pa"}
    with pytest.raises(ValueError, match=r"unknown key 'PatientNam'.*known keys"):
        ArchiveQuery.parse("PatientNam=X")
    with pytest.raises(ValueError, match="Modality has no value"):
        ArchiveQuery.parse("Modality=")
    with pytest.raises(ValueError, match="--max-studies must be >= 1"):
        ArchiveQuery.parse(None, max_studies=0)


def test_archive_urls_are_checked_and_never_carry_credentials() -> None:
    assert archive_url("dicomweb+http://127.0.0.1:8042/dicom-web/") == (
        "http://127.0.0.1:8042/dicom-web"
    )
    with pytest.raises(ValueError, match="expected dicomweb\\+http"):
        archive_url("dicomweb+ftp://host/x")
    with pytest.raises(ValueError, match="credentials do not belong in the URL") as err:
        archive_url("dicomweb+http://bob:hunter2@127.0.0.1:8042/dicom-web")
    assert "hunter2" not in str(err.value)


def test_ids_are_keyed_hashes_stable_under_the_same_key(tmp_path: Path) -> None:
    key = id_key(tmp_path)
    assert id_key(tmp_path) == key
    assert (tmp_path / "id.key").stat().st_mode & 0o777 == 0o600
    uid = "1.2.826.0.1.3680043.8.498.1.0.0.9"
    assert anonymous_id(key, uid) == anonymous_id(key, uid)
    assert anonymous_id(key, uid) != anonymous_id(id_key(tmp_path / "other"), uid)
    assert uid not in anonymous_id(key, uid)


def test_reservoir_sample_is_seeded_and_keeps_stream_order() -> None:
    items = [{"i": i} for i in range(1000)]
    a = list(_reservoir(iter(items), 10, seed=3))
    assert a == list(_reservoir(iter(items), 10, seed=3))
    assert a != list(_reservoir(iter(items), 10, seed=4))
    assert [x["i"] for x in a] == sorted(x["i"] for x in a) and len(a) == 10
    assert list(_reservoir(iter(items[:4]), 10, seed=0)) == items[:4]


# ------------------------------------------------------------------------------ the archive
@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    why = orthanc.missing()
    if why is not None:
        pytest.skip(why)
    with orthanc.Orthanc(tmp_path_factory.mktemp("orthanc")) as server:
        server.upload(dicom_studies.archive(N_STUDIES))
        assert server.statistics()["CountInstances"] == N_STUDIES * 4
        yield server


@pytest.fixture
def env(pacs: orthanc.Orthanc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_DICOMWEB_USER", orthanc.USER)
    monkeypatch.setenv("MEDMINE_DICOMWEB_PASSWORD", orthanc.PASSWORD)
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def model_server() -> Any:
    with FakeServer() as srv:
        srv.default = Reply(body=openai_completion('{"label": "normal"}', prompt_tokens=1500))
        yield srv


@pytest.fixture
def presets(tmp_path: Path, model_server: FakeServer) -> Path:
    path = tmp_path / "presets.yaml"
    path.write_text(
        "presets:\n"
        "  - name: local-vlm\n"
        "    provider: openai_compatible\n"
        "    model_id: local-vlm\n"
        f"    base_url: {model_server.url}/v1\n"
        "    stream: false\n"
        "    concurrency: 1\n"
        "    image_probe: false\n"
    )
    return path


def _mine(source: str, out: Path, presets: Path, *extra: str) -> tuple[int, str]:
    app = typer.Typer()
    app.command("mine")(mine_command)
    app.command("other")(lambda: None)
    args = [
        "mine", source, "--task", "classification", "--labels", LABELS, "--model",
        "local-vlm", "--presets", str(presets), "--out", str(out), "--yes", "--no-progress",
        *extra,
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    return result.exit_code, " ".join(result.output.split())


def _source(pacs: orthanc.Orthanc) -> str:
    return f"dicomweb+{pacs.dicomweb}"


def _identifiers() -> list[str]:
    values: list[str] = ["Saint Hypothetical", "Grimsby", "Aloysius"]
    for s in range(N_STUDIES):
        values += dicom_studies.patient(s).values()
        values.append(f"{dicom_studies.ROOT}{s}.")
    return values


def _sent_images(body: dict[str, Any]) -> list[bytes]:
    return [
        base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
        for message in body["messages"]
        if isinstance(message["content"], list)
        for part in message["content"]
        if part["type"] == "image_url"
    ]


def test_dry_run_counts_what_matches_and_fetches_nothing(
    env: None, pacs: orthanc.Orthanc, presets: Path, model_server: FakeServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, text = _mine(_source(pacs), out, presets, "--query", "Modality=CR", "--dry-run")
    assert code == 0, text
    cr = len(range(0, N_STUDIES, 2))  # even studies are CR
    assert f"{cr} studies, {cr * 2} series, {cr * 4} instances selected" in text
    assert "1 instance(s) have burned-in annotation" not in text  # study 1 is DX
    assert "dry run: nothing was fetched or sent" in text
    assert model_server.requests == []
    assert not (out / "pixels").exists()

    code, text = _mine(
        _source(pacs), out, presets, "--max-per-study", "1", "--dry-run",
        "--query", "StudyDescription=portable&StudyDate=20240101-20240110",
    )  # fmt: skip
    expected = [s for s in range(N_STUDIES) if s % 3 == 0 and 1 + s % 28 <= 10]
    assert f"{len(expected)} studies" in text and f"{len(expected)} instances selected" in text


def test_mines_each_selected_instance_and_no_header_value_leaves(
    env: None, pacs: orthanc.Orthanc, presets: Path, model_server: FakeServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    # studies 0-7, 28-35 and 56-59 were made on January 1-8
    code, text = _mine(_source(pacs), out, presets, "--query", "StudyDate=20240101-20240108")
    assert code == 0, text
    with (out / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 20 * 4
    assert all(r["file"].startswith("dw-") for r in rows)
    statuses = Counter(r["status"] for r in rows)
    assert statuses == {"ok": 79, "skipped": 1}  # study 1's first instance is burned in
    assert len(model_server.requests) == 79
    assert "fetched 79 instance(s)" in text
    skipped = (out / "skipped.csv").read_text()
    assert "BurnedInAnnotation = YES" in skipped
    assert "study_uid" not in rows[0]  # UIDs only with --include-uids
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    notes = [r["note"] for r in results if r["note"]]
    assert notes == ["multi-frame instance (3 frames): frame 1 mined"]
    assert len(list((out / "sidecars").glob("dw-*.json"))) == 80

    # Every image the model saw is a header-free PNG of the right size.
    for req in model_server.requests:
        (image,) = _sent_images(req.body)
        assert image[:8] == b"\x89PNG\r\n\x1a\n"
    # No identifying header value (names, MRNs, birth dates, accession numbers, UIDs, the
    # institution, the referring physician) in any request body or any output file.
    secrets = _identifiers()
    bodies = json.dumps([r.body for r in model_server.requests])
    leaks = [s for s in secrets if s in bodies]
    assert leaks == []
    for path in out.rglob("*"):
        if path.is_file() and path.name != "id.key":
            blob = path.read_bytes()
            found = [s for s in secrets if s.encode() in blob]
            assert found == [], f"{path.relative_to(out)} holds {found}"
    assert orthanc.PASSWORD not in text


def test_include_uids_joins_back_to_the_archive(
    env: None, pacs: orthanc.Orthanc, presets: Path, model_server: FakeServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, text = _mine(
        _source(pacs), out, presets, "--max-studies", "1", "--include-uids", "--query",
        "Modality=CR",
    )  # fmt: skip
    assert code == 0, text
    with (out / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    key = id_key(out)
    for row in rows:
        assert row["study_uid"] == f"{dicom_studies.ROOT}0"
        assert anonymous_id(key, row["sop_uid"]) == row["file"]
        sidecar = json.loads((out / "sidecars" / f"{row['file']}.json").read_text())
        assert sidecar["uids"]["sop_uid"] == row["sop_uid"]


def test_wrong_credentials_are_a_clear_error_without_the_secret(
    env: None,
    pacs: orthanc.Orthanc,
    presets: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEDMINE_DICOMWEB_PASSWORD", "wrong-pass-77")
    code, text = _mine(_source(pacs), tmp_path / "out", presets, "--dry-run")
    assert code == 2
    assert "HTTP 401" in text and "MEDMINE_DICOMWEB_PASSWORD" in text
    assert "wrong-pass-77" not in text


def test_rerun_after_a_kill_fetches_and_asks_nothing_twice(
    env: None, pacs: orthanc.Orthanc, presets: Path, model_server: FakeServer, tmp_path: Path
) -> None:
    model_server.default = Reply(
        body=openai_completion('{"label": "abnormal"}', prompt_tokens=1500), delay_s=0.03
    )
    out = tmp_path / "out"
    args = [
        sys.executable, "-m", "medmine", "mine", _source(pacs), "--task", "classification",
        "--labels", LABELS, "--model", "local-vlm", "--presets", str(presets), "--out",
        str(out), "--yes", "--no-progress",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=os.environ)
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        if b"chunk 1:" in line or time.monotonic() > deadline:
            break
    time.sleep(0.5)
    killed_at = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    fetched_first = len(list((out / "pixels").glob("*.png")))
    asked_first = len(model_server.requests)
    selected = N_STUDIES * 4 - 1  # one burned-in instance
    assert 0 < asked_first < selected - 10, "the kill should land mid-run"

    code, text = _mine(_source(pacs), out, presets)
    assert code == 0, text
    assert f"fetched {selected - fetched_first} instance(s)" in text
    with (out / "labels.csv").open() as fh:
        statuses = Counter(r["status"] for r in csv.DictReader(fh))
    assert statuses == {"ok": selected, "skipped": 1}
    # Every answer comes from the server or from the store and cache written before the kill.
    # Answers are committed in batches at most FLUSH_AFTER_S old (a tick checks every fifth of
    # that), so only a request sent in that last stretch before the kill (at concurrency 1:
    # the one in flight, and answers not yet committed) may be asked again.
    images = Counter(_sent_images(r.body)[0] for r in model_server.requests)
    first_sent: dict[bytes, float] = {}
    for r in model_server.requests:  # a request on the wire at the kill arrives just after it
        first_sent.setdefault(_sent_images(r.body)[0], r.at)
    again = [im for im, n in images.items() if n > 1]
    assert all(n <= 2 for n in images.values())
    window = FLUSH_AFTER_S * 1.2 + 0.2  # the batch age, the tick, scheduling slack
    assert all(killed_at - first_sent[im] <= window for im in again), [
        round(killed_at - first_sent[im], 3) for im in again
    ]


def test_archive_search_is_streamed(env: None, pacs: orthanc.Orthanc) -> None:
    """Peak memory of walking the archive does not grow with the number of studies."""

    def peak(n: int) -> int:
        archive = DicomWebArchive(_source(pacs), page_size=10)
        tracemalloc.start()
        count = sum(1 for _ in archive.instances(ArchiveQuery(max_studies=n)))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert count == n * 4
        return top

    small, large = peak(15), peak(60)
    assert large < small * 1.5, (small, large)
