"""Patient-data safety when mining DICOM: no header value reaches a model or an output file
(unless UIDs are asked for), burned-in annotations are skipped, ``--local-only`` refuses clouds."""

from __future__ import annotations

import base64
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "models"))

from fakeservers import FakeServer, Reply, openai_completion

from medmine.mine.cli_command import mine_command
from medmine.mine.file_index import PRIVATE_FILENAME
from medmine.mine.ids import KEY_FILE, MAP_FILE
from medmine.models.images import dicom_to_image

pydicom = pytest.importorskip("pydicom")
from pydicom.data import get_testdata_file  # noqa: E402

IDENTIFIERS = {
    "PatientName": "Quixotic^Zebediah",
    "PatientID": "PID-8675309-XQ",
    "PatientBirthDate": "19230405",
    "InstitutionName": "Saint Hypothetical Hospital",
    "AccessionNumber": "ACC77665544",
    "StudyInstanceUID": "1.2.826.0.1.3680043.8.498.1111111111",
    "SeriesInstanceUID": "1.2.826.0.1.3680043.8.498.2222222222",
}
SOP = {
    "ct": "1.2.826.0.1.3680043.8.498.3333333331",
    "multi": "1.2.826.0.1.3680043.8.498.3333333332",
    "burned": "1.2.826.0.1.3680043.8.498.3333333333",
}


def _write(source: str, target: Path, sop: str, **extra: str) -> None:
    ds = pydicom.dcmread(get_testdata_file(source))
    for key, value in {**IDENTIFIERS, **extra}.items():
        setattr(ds, key, value)
    ds.SOPInstanceUID = sop
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    target.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(target)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A DICOM tree: a CT slice (no suffix), a 2-frame RGB file, a burned-in MR, an SR."""
    root = tmp_path / "dicom"
    _write("CT_small.dcm", root / "study" / "ct" / "IM1", SOP["ct"])
    _write("SC_rgb_rle_2frame.dcm", root / "study" / "sc" / "multi.dcm", SOP["multi"])
    _write("MR_small.dcm", root / "study" / "ct" / "burned.dcm", SOP["burned"],
           BurnedInAnnotation="YES")  # fmt: skip
    _write("reportsi.dcm", root / "sr" / "report.dcm", "1.2.826.0.1.3680043.8.498.4")
    return root


@pytest.fixture
def server() -> Any:
    with FakeServer() as srv:
        srv.default = Reply(body=openai_completion('{"label": "normal"}', prompt_tokens=300))
        yield srv


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MEDMINE_TEST_CLOUD_KEY", "sk-test-not-a-real-key")


@pytest.fixture
def presets(tmp_path: Path, server: FakeServer) -> Path:
    """A local (loopback OpenAI-compatible) preset and a cloud preset, both at the fake server."""
    path = tmp_path / "presets.yaml"
    path.write_text(
        "presets:\n"
        "  - name: local-vlm\n"
        "    provider: openai_compatible\n"
        "    model_id: local-vlm\n"
        f"    base_url: {server.url}/v1\n"
        "    stream: false\n"
        "    image_probe: false\n"  # the test counts requests (the probe repeats one)
        "  - name: cloud-vlm\n"
        "    provider: openai\n"
        "    model_id: cloud-vlm\n"
        f"    base_url: {server.url}/v1\n"
        "    api_key_env: MEDMINE_TEST_CLOUD_KEY\n"
        "    stream: false\n"
    )
    return path


def _mine(root: Path, out: Path, model: str, presets: Path, *extra: str) -> tuple[int, str]:
    app = typer.Typer()
    app.command("mine")(mine_command)
    app.command("other")(lambda: None)
    args = [
        "mine", str(root), "--task", "classification", "--labels", "normal,abnormal",
        "--model", model, "--presets", str(presets), "--out", str(out), "--yes",
        "--no-progress", *extra,
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    return result.exit_code, " ".join(result.output.split())


def _sent_images(body: dict[str, Any]) -> list[bytes]:
    return [
        base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
        for message in body["messages"]
        if isinstance(message["content"], list)
        for part in message["content"]
        if part["type"] == "image_url"
    ]


def _secrets() -> list[str]:
    return [*IDENTIFIERS.values(), *SOP.values(), "Quixotic", "Zebediah", "8675309"]


def _paths(out: Path) -> dict[str, str]:
    """id -> relative path, from the private map written when ids are anonymized."""
    path = out / MAP_FILE
    if not path.exists():
        return {}
    with path.open() as fh:
        return {r["id"]: r["path"] for r in csv.DictReader(fh)}


def _rows(out: Path) -> dict[str, dict[str, Any]]:
    """results.jsonl rows by the file's relative path (ids mapped back through the map)."""
    lines = (out / "results.jsonl").read_text().splitlines()
    paths = _paths(out)
    return {paths.get(r["file"], r["file"]): r for r in map(json.loads, lines)}


def test_no_header_value_reaches_the_model_or_the_outputs(
    tree: Path, presets: Path, server: FakeServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, text = _mine(tree, out, "local-vlm", presets, "--local-only")
    assert code == 0, text
    assert len(server.requests) == 2  # the CT slice and the multi-frame file
    for request in server.requests:
        blob = json.dumps(request.body)
        images = _sent_images(request.body)
        assert len(images) == 1 and images[0].startswith(b"\x89PNG")
        for secret in _secrets():
            assert secret not in blob, secret
            assert secret.encode() not in images[0], secret
    # The pixels sent are the rendered first frame, nothing else.
    sent = {
        Image.open(io.BytesIO(_sent_images(r.body)[0])).size: _sent_images(r.body)[0]
        for r in server.requests
    }
    for rel in ("study/ct/IM1", "study/sc/multi.dcm"):
        want = np.asarray(dicom_to_image(tree / rel, 0))
        got = np.asarray(Image.open(io.BytesIO(sent[(want.shape[1], want.shape[0])])))
        assert np.array_equal(got, want)
    rows = _rows(out)
    assert rows["study/ct/IM1"]["status"] == "ok"
    assert rows["study/sc/multi.dcm"]["note"] == "multi-frame DICOM (2 frames): frame 0 mined"
    assert rows["sr/report.dcm"]["status"] == "skipped"
    assert "not a readable DICOM image" in rows["sr/report.dcm"]["detail"]
    # No output file (tables, store, rendered pixels) carries a header value.
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in _secrets():
                assert secret.encode() not in data, (path, secret)


def test_burned_in_annotation_is_skipped_unless_allowed(
    tree: Path, presets: Path, server: FakeServer, tmp_path: Path
) -> None:
    code, text = _mine(tree, tmp_path / "a", "local-vlm", presets)
    assert code == 0, text
    rows = _rows(tmp_path / "a")
    burned = rows["study/ct/burned.dcm"]
    assert burned["status"] == "skipped" and "BurnedInAnnotation = YES" in burned["detail"]
    assert "--allow-burned-in" in burned["detail"]
    paths = _paths(tmp_path / "a")
    with (tmp_path / "a" / "skipped.csv").open() as fh:
        skipped = {paths[r["file"]]: r["reason"] for r in csv.DictReader(fh)}
    assert set(skipped) == {"study/ct/burned.dcm", "sr/report.dcm"}
    burned_id = next(i for i, p in paths.items() if p == "study/ct/burned.dcm")
    assert not (tmp_path / "a" / "pixels" / f"{burned_id}.png").exists()
    n = len(server.requests)
    code, text = _mine(tree, tmp_path / "b", "local-vlm", presets, "--allow-burned-in")
    assert code == 0, text
    assert _rows(tmp_path / "b")["study/ct/burned.dcm"]["status"] == "ok"
    assert len(server.requests) == n + 1  # only the burned-in file is new (others cached)


def test_uids_appear_only_with_include_uids(
    tree: Path, presets: Path, server: FakeServer, tmp_path: Path
) -> None:
    code, text = _mine(tree, tmp_path / "u", "local-vlm", presets, "--include-uids")
    assert code == 0, text
    rows = _rows(tmp_path / "u")
    ct = rows["study/ct/IM1"]
    assert ct["study_uid"] == IDENTIFIERS["StudyInstanceUID"]
    assert ct["series_uid"] == IDENTIFIERS["SeriesInstanceUID"]
    assert ct["sop_uid"] == SOP["ct"]
    paths = _paths(tmp_path / "u")
    with (tmp_path / "u" / "labels.csv").open() as fh:
        table = {paths[r["file"]]: r for r in csv.DictReader(fh)}
    assert table["study/sc/multi.dcm"]["sop_uid"] == SOP["multi"]
    assert table["study/ct/IM1"]["label"] == "normal"
    for body in (r.body for r in server.requests):
        assert IDENTIFIERS["StudyInstanceUID"] not in json.dumps(body)
    code, text = _mine(tree, tmp_path / "n", "local-vlm", presets)
    assert code == 0, text
    assert "study_uid" not in _rows(tmp_path / "n")["study/ct/IM1"]
    assert "sop_uid" not in (tmp_path / "n" / "labels.csv").read_text()


def test_local_only_refuses_a_cloud_preset_before_sending(
    tree: Path, presets: Path, server: FakeServer, tmp_path: Path
) -> None:
    out = tmp_path / "cloud"
    code, text = _mine(tree, out, "cloud-vlm", presets, "--local-only")
    assert code == 2 and "--local-only" in text and "cloud backend" in text
    assert "nothing was sent" in text
    assert server.requests == [] and not (out / "run.sqlite").exists()
    code, text = _mine(tree, out, "gpt-4o", presets, "--local-only")
    assert code == 2 and "cloud backend (openai)" in text and server.requests == []


def test_folder_names_never_reach_an_output_by_default(
    presets: Path, server: FakeServer, tmp_path: Path
) -> None:
    root = tmp_path / "archive"
    _write("CT_small.dcm", root / "DOE_JANE_MRN4455667" / "ct" / "IM1", SOP["ct"])
    out = tmp_path / "out"
    code, text = _mine(root, out, "local-vlm", presets)
    assert code == 0, text
    assert "anonymized" in text
    leaks = ("DOE_JANE", "MRN4455667", "archive", "IM1")
    for path in out.rglob("*"):
        private = path.name.startswith(PRIVATE_FILENAME)  # resume index: paths, user-only
        if path.is_file() and path.name not in (MAP_FILE, KEY_FILE) and not private:
            data = path.read_bytes()
            for leak in leaks:
                assert leak.encode() not in data, (path, leak)
            assert not any(leak in str(path.relative_to(out)) for leak in leaks)
    # The private map gives the user their paths back; ids are stable across reruns.
    paths = _paths(out)
    assert list(paths.values()) == ["DOE_JANE_MRN4455667/ct/IM1"]
    code, text = _mine(root, out, "local-vlm", presets)
    assert code == 0 and _paths(out) == paths
    # Asked for, path ids are kept.
    code, text = _mine(root, tmp_path / "plain", "local-vlm", presets, "--path-ids")
    assert code == 0, text
    assert "DOE_JANE_MRN4455667/ct/IM1" in _rows(tmp_path / "plain")
    assert not (tmp_path / "plain" / MAP_FILE).exists()
