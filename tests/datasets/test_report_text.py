"""Tests for report section splitting and the report readers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from medmine.datasets.report_text import (
    EMPTY_WARNING,
    NON_UTF8_WARNING,
    READERS,
    ReportRecord,
    read_chexpert_csv,
    read_iu_xray_csv,
    read_json_reports,
    read_mimic_cxr,
    read_openi_xml,
    read_r2gen_annotation,
    read_text_folder,
    split_sections,
)

REALDATA = Path(
    os.environ.get(
        "MEDMINE_REALDATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"
    )
)
CHEXPERT_SAMPLES = REALDATA / "chexpert_labeler_samples"
IU_R2GEN = REALDATA / "iu_xray_r2gen" / "iu_xray"

MIMIC_STYLE = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  ___F with new onset ascites  // eval for infection

 TECHNIQUE:  Chest PA and lateral

 COMPARISON:  None.

 FINDINGS:

 There is no focal consolidation, pleural effusion or pneumothorax.  Bilateral
 nodular opacities that most likely represent nipple shadows.

 IMPRESSION:

 No acute cardiopulmonary process.
"""


# ----------------------------------------------------------------------------- sections


def test_split_sections_mimic_style() -> None:
    sections = split_sections(MIMIC_STYLE)
    assert list(sections) == ["EXAMINATION", "INDICATION", "TECHNIQUE", "COMPARISON",
                              "FINDINGS", "IMPRESSION"]  # fmt: skip
    assert sections["INDICATION"] == "___F with new onset ascites  // eval for infection"
    assert sections["FINDINGS"].startswith("There is no focal consolidation")
    assert sections["FINDINGS"].endswith("nipple shadows.")
    assert sections["IMPRESSION"] == "No acute cardiopulmonary process."
    assert "FINAL REPORT" not in "".join(sections.values())


def test_split_sections_case_insensitive_known_headers_and_aliases() -> None:
    text = "Impression: No pneumonia.\nhistory: cough\nHISTORY: fever\nFindings: Clear."
    assert split_sections(text) == {
        "IMPRESSION": "No pneumonia.",
        "INDICATION": "cough\nfever",
        "FINDINGS": "Clear.",
    }


def test_split_sections_without_headers_goes_under_text() -> None:
    assert split_sections("  The lungs are clear. XXXX: unchanged.\n") == {
        "TEXT": "The lungs are clear. XXXX: unchanged."
    }
    assert split_sections("") == {}


def test_split_sections_preamble_unknown_caps_header_and_empty_section() -> None:
    text = "Chest radiograph.\nWET READ: ok\nFINDINGS:\nIMPRESSION: XXXX normal."
    assert split_sections(text) == {
        "PREAMBLE": "Chest radiograph.",
        "WET READ": "ok",
        "FINDINGS": "",
        "IMPRESSION": "XXXX normal.",
    }


def test_split_sections_only_at_line_start() -> None:
    assert split_sections("Stable. Impression: none") == {"TEXT": "Stable. Impression: none"}


def test_split_sections_rejects_non_text() -> None:
    with pytest.raises(ValueError, match="must be a str"):
        split_sections(b"FINDINGS: x")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- MIMIC-CXR


def _write(path: Path, data: str | bytes) -> Path:
    """Create parents and write text (UTF-8) or bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def test_read_mimic_cxr_tree(tmp_path: Path) -> None:
    _write(tmp_path / "files/p10/p10000032/s50414267.txt", MIMIC_STYLE)
    _write(tmp_path / "files/p10/p10000032/s53189527.txt", "FINDINGS: Clear lungs.\n")
    _write(tmp_path / "files/p11/p11000011/s51234567.txt", b"IMPRESSION: caf\xe9 effusion\n")
    _write(tmp_path / "files/p11/p11000011/notes.txt", "not a report")
    records = read_mimic_cxr(tmp_path)
    assert [r.id for r in records] == ["50414267", "53189527", "51234567"]
    first = records[0]
    assert first.metadata == {"subject_id": "10000032", "study_id": "50414267"}
    assert first.sections["IMPRESSION"] == "No acute cardiopulmonary process."
    assert first.source == tmp_path / "files/p10/p10000032/s50414267.txt"
    assert first.warnings == []
    assert records[1].warnings == ["missing section IMPRESSION"]
    assert records[2].warnings == [NON_UTF8_WARNING]
    assert records[2].sections["IMPRESSION"] == "caf\ufffd effusion"
    # the files/ folder itself works too
    assert [r.id for r in read_mimic_cxr(tmp_path / "files")] == [r.id for r in records]


def test_read_mimic_cxr_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"not found; expected a MIMIC-CXR report tree"):
        read_mimic_cxr(tmp_path / "missing")
    _write(tmp_path / "reports/s1.txt", "x")
    with pytest.raises(ValueError, match=r"no report found; expected a MIMIC-CXR"):
        read_mimic_cxr(tmp_path / "reports")


# ----------------------------------------------------------------------------- Open-i XML

OPENI_XML = """<?xml version="1.0" encoding="utf-8"?>
<eCitation>
  <meta type="rr"/>
  <uId id="CXR1"/>
  <pmcId id="1"/>
  <docSource>CXR</docSource>
  <IUXRId id="1"/>
  <licenseType>open-access</licenseType>
  <licenseURL>http://creativecommons.org/licenses/by-nc-nd/4.0/</licenseURL>
  <ccLicense>byncnd</ccLicense>
  <articleURL/>
  <articleDate>2013-08-01</articleDate>
  <articleType>XR</articleType>
  <publisher>Indiana University</publisher>
  <title>Indiana University Chest X-ray Collection</title>
  <specialty>pulmonary diseases</specialty>
  <subset>CXR</subset>
  <MedlineCitation Owner="Indiana University" Status="supplied by publisher">
    <Article PubModel="Electronic">
      <Journal><JournalIssue><PubDate><Year>2013</Year></PubDate></JournalIssue></Journal>
      <ArticleTitle>Indiana University Chest X-ray Collection</ArticleTitle>
      <Abstract>
        <AbstractText Label="COMPARISON">None.</AbstractText>
        <AbstractText Label="INDICATION">Positive TB test</AbstractText>
        <AbstractText Label="FINDINGS">The cardiac silhouette and mediastinum size are
          within normal limits. There is no pulmonary edema.
          There is no focal consolidation.</AbstractText>
        <AbstractText Label="IMPRESSION">Normal chest x-XXXX.</AbstractText>
      </Abstract>
    </Article>
  </MedlineCitation>
  <MeSH>
    <major>normal</major>
  </MeSH>
  <parentImage id="CXR1_1_IM-0001-3001">
    <figureId>F1</figureId>
    <caption>Xray Chest PA and Lateral</caption>
    <panel type="single">
      <url>/hadoop/storage/radiology/extract/CXR1_1_IM-0001-3001.jpg</url>
    </panel>
  </parentImage>
  <parentImage id="CXR1_1_IM-0001-4001">
    <figureId>F2</figureId>
    <caption>Xray Chest PA and Lateral</caption>
  </parentImage>
</eCitation>
"""


def test_read_openi_xml(tmp_path: Path) -> None:
    folder = tmp_path / "ecgen-radiology"
    _write(folder / "1.xml", OPENI_XML)
    no_findings = (
        OPENI_XML.replace('<uId id="CXR1"/>', '<uId id="CXR2"/>')
        .replace('<AbstractText Label="FINDINGS">', '<AbstractText Label="FINDINGS"/><Unused>')
        .replace("consolidation.</AbstractText>", "consolidation.</Unused>")
    )
    _write(folder / "2.xml", no_findings)
    _write(folder / "3.xml", "<eCitation><uId id='CXR3'>")  # truncated file
    records = read_openi_xml(tmp_path)
    assert [r.id for r in records] == ["CXR1", "CXR2", "3"]
    first = records[0]
    assert first.sections["INDICATION"] == "Positive TB test"
    assert first.sections["FINDINGS"] == (
        "The cardiac silhouette and mediastinum size are within normal limits. "
        "There is no pulmonary edema. There is no focal consolidation."
    )
    assert first.sections["IMPRESSION"] == "Normal chest x-XXXX."
    assert first.metadata["image_ids"] == ["CXR1_1_IM-0001-3001", "CXR1_1_IM-0001-4001"]
    assert first.metadata["mesh_major"] == ["normal"]
    assert "FINDINGS: The cardiac silhouette" in first.text
    assert first.warnings == []
    assert records[1].warnings == ["missing section FINDINGS"]
    assert records[2].text == ""
    assert records[2].warnings[0].startswith("XML parse error")
    # a single file and the folder itself both work
    assert read_openi_xml(folder / "1.xml")[0].id == "CXR1"
    assert len(read_openi_xml(folder)) == 3


def test_read_openi_xml_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected Open-i ecgen-radiology"):
        read_openi_xml(tmp_path / "nope")
    with pytest.raises(ValueError, match=r"no \.xml file found"):
        read_openi_xml(tmp_path)


# ----------------------------------------------------------------------------- IU X-ray CSV

IU_CSV = (
    "uid,MeSH,Problems,image,indication,comparison,findings,impression\n"
    "1,normal,normal,Xray Chest PA and Lateral,Positive TB test,None.,"
    '"The cardiac silhouette and mediastinum size are within normal limits. '
    'There is no pulmonary edema.",Normal chest x-XXXX.\n'
    "2,Cardiomegaly/borderline,Cardiomegaly,Chest 2V,XXXX-year-old male,,,"
    "Borderline cardiomegaly.\n"
)


def test_read_iu_xray_csv(tmp_path: Path) -> None:
    path = _write(tmp_path / "indiana_reports.csv", IU_CSV)
    records = read_iu_xray_csv(path)
    assert [r.id for r in records] == ["1", "2"]
    assert records[0].sections == {
        "INDICATION": "Positive TB test",
        "COMPARISON": "None.",
        "FINDINGS": "The cardiac silhouette and mediastinum size are within normal limits. "
        "There is no pulmonary edema.",
        "IMPRESSION": "Normal chest x-XXXX.",
    }
    assert records[0].metadata == {"mesh": "normal", "problems": "normal",
                                   "image": "Xray Chest PA and Lateral"}  # fmt: skip
    assert records[1].warnings == ["missing section FINDINGS"]
    assert records[1].sections["INDICATION"] == "XXXX-year-old male"


def test_read_iu_xray_csv_wrong_layout(tmp_path: Path) -> None:
    path = _write(tmp_path / "indiana_reports.csv", "uid,report\n1,x\n")
    with pytest.raises(ValueError, match=r"indiana_reports\.csv: columns \['MeSH'"):
        read_iu_xray_csv(path)


# ----------------------------------------------------------------------------- R2Gen


@pytest.mark.skipif(not IU_R2GEN.is_dir(), reason="IU X-ray R2Gen sample not present")
def test_read_r2gen_real_sample() -> None:
    records = read_r2gen_annotation(IU_R2GEN)
    assert len(records) == 150
    assert records[0].id == "CXR2384_IM-0942"
    assert records[0].metadata["split"] == "train"
    assert records[0].metadata["image_path"] == ["CXR2384_IM-0942/0.png", "CXR2384_IM-0942/1.png"]
    assert records[0].sections == {"TEXT": records[0].text}
    assert {r.metadata["split"] for r in records} == {"train", "val"}
    assert len(read_r2gen_annotation(IU_R2GEN / "annotation.json", splits=["val"])) == 50
    assert all(not r.warnings for r in records)


def test_read_r2gen_bad_items_and_layout(tmp_path: Path) -> None:
    train = [
        {"id": "a", "report": "", "image_path": [], "split": "train"},
        {"id": "b", "image_path": [], "split": "train"},
    ]
    data = {"train": train, "val": [], "test": []}
    path = _write(tmp_path / "annotation.json", json.dumps(data))
    records = read_r2gen_annotation(tmp_path)
    assert records[0].warnings == [EMPTY_WARNING]
    assert records[1].warnings == ["no 'report' text", EMPTY_WARNING]
    with pytest.raises(ValueError, match="unknown split"):
        read_r2gen_annotation(path, splits=["dev"])
    _write(path, json.dumps([{"id": "a"}]))
    with pytest.raises(ValueError, match="not a dict of lists; expected R2Gen"):
        read_r2gen_annotation(path)
    _write(path, json.dumps({"train": [{"report": "x"}]}))
    with pytest.raises(ValueError, match=r"train\[0\] has no 'id'"):
        read_r2gen_annotation(path)
    with pytest.raises(ValueError, match="not found"):
        read_r2gen_annotation(tmp_path / "other")


# ----------------------------------------------------------------------------- CheXpert CSV


@pytest.mark.skipif(not CHEXPERT_SAMPLES.is_dir(), reason="CheXpert labeler samples not present")
def test_read_chexpert_csv_real_samples() -> None:
    records = read_chexpert_csv(CHEXPERT_SAMPLES / "sample_reports.csv")
    assert [r.id for r in records] == ["0", "1", "2", "3"]
    assert records[1].text == (
        "1. Left pleural effusion with adjacent atelectasis. Right effusion is also present."
        "\n\n2. Cardiomegaly without overt edema."
    )
    labelled = read_chexpert_csv(CHEXPERT_SAMPLES / "labeled_reports.csv", column="Reports")
    assert [r.text for r in labelled] == [r.text for r in records]
    assert labelled[1].metadata["Cardiomegaly"] == "1.0"
    assert labelled[1].metadata["No Finding"] == ""


def test_read_chexpert_csv_errors_and_warnings(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", b'"ok report"\n""\n"bad \xff byte"\n')
    records = read_chexpert_csv(path)
    assert [r.warnings for r in records] == [[], [EMPTY_WARNING], [NON_UTF8_WARNING]]
    _write(path, "one,two\n")
    with pytest.raises(ValueError, match="row 1 has 2 columns"):
        read_chexpert_csv(path)
    with pytest.raises(ValueError, match="no column 'Report'"):
        read_chexpert_csv(path, column="Report")


# ----------------------------------------------------------------------------- text and JSON


def test_read_text_folder(tmp_path: Path) -> None:
    _write(tmp_path / "a.txt", "FINDINGS: clear.\nIMPRESSION: normal.")
    _write(tmp_path / "sub/b.txt", "no headers here")
    _write(tmp_path / "c.txt", "   ")
    flat = read_text_folder(tmp_path)
    assert [r.id for r in flat] == ["a", "c"]
    assert flat[0].sections == {"FINDINGS": "clear.", "IMPRESSION": "normal."}
    assert flat[1].warnings == [EMPTY_WARNING]
    assert [r.id for r in read_text_folder(tmp_path, recursive=True)] == ["a", "c", "sub/b"]
    with pytest.raises(ValueError, match="no file matches"):
        read_text_folder(tmp_path, pattern="*.md")
    with pytest.raises(ValueError, match="not a folder"):
        read_text_folder(tmp_path / "a.txt")


def test_read_json_and_jsonl(tmp_path: Path) -> None:
    items = [{"id": "x1", "text": "IMPRESSION: ok", "site": "A"}, {"text": "no id"}, {"id": 7}, 5]
    records = read_json_reports(_write(tmp_path / "r.json", json.dumps(items)))
    assert [r.id for r in records] == ["x1", "1", "7", "3"]
    assert records[0].metadata == {"site": "A"}
    assert records[0].sections == {"IMPRESSION": "ok"}
    assert records[2].warnings == ["no text in field 'text'", EMPTY_WARNING]
    assert records[3].warnings == ["item 3 is not an object"]
    lines = '{"uid": "u1", "report": "Clear."}\n\n{broken\n{"uid": "u3", "report": "x"}\n'
    jsonl = read_json_reports(
        _write(tmp_path / "r.jsonl", lines), text_field="report", id_field="uid"
    )
    assert [r.id for r in jsonl] == ["u1", "2", "u3"]
    assert jsonl[1].warnings[0].startswith("line 3: invalid JSON")
    with pytest.raises(ValueError, match="top level is dict"):
        read_json_reports(_write(tmp_path / "d.json", '{"a": 1}'))
    with pytest.raises(ValueError, match="invalid JSON"):
        read_json_reports(_write(tmp_path / "e.json", "{"))


def test_readers_registry() -> None:
    assert set(READERS) == {"mimic_cxr", "openi_xml", "iu_xray_csv", "r2gen", "chexpert_csv",
                            "text_folder", "json"}  # fmt: skip
    assert all(callable(reader) for reader in READERS.values())
    record = ReportRecord("a", "t", {}, Path("p"))
    assert record.metadata == {} and record.warnings == []
