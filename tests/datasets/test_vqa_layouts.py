"""Each VQA benchmark's published layout, read from a tiny replica and run end to end with
``medmine run`` on the vqa-prior baseline and a fake vision model on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medmine.cli import app
from medmine.core import TaskKind
from medmine.datasets.catalog import find_dataset, load_dataset
from medmine.datasets.readers.vqa_common import VqaTarget

sys.path.insert(0, str(Path(__file__).parent))
from vqa_layouts import BUILDERS, FakeVisionModel

pytest.importorskip("pyarrow", reason="parquet layouts need pyarrow (medmine[vqa])")
runner = CliRunner()


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FAKE_VQA_KEY", "sk-fake")


def _build(tmp_path: Path, name: str) -> Path:
    root = (
        tmp_path / "data" / {"vqa_rad_parquet": "vqa-rad", "path_vqa": "path-vqa"}.get(name, name)
    )
    root.mkdir(parents=True)
    return BUILDERS[name](root)


EXPECTED = {  # dataset: (test samples, train/validation samples, bad rows)
    "vqa_rad": (5, 4, 1),
    "vqa_rad_parquet": (2, 2, 0),
    "slake": (3, 3, 0),
    "path_vqa": (3, 3, 0),
    "pmc_vqa": (3, 2, 1),
    "omnimedvqa": (4, 0, 0),
    "gmai_mmbench": (3, 0, 0),
    "medxpertqa_mm": (2, 1, 1),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_each_layout_reads_with_its_published_field_names(tmp_path: Path, name: str) -> None:
    root = _build(tmp_path, name)
    assert find_dataset(name, tmp_path / "data") == root
    read = load_dataset(name, root)
    test = [s for s in read.samples if s.split == "test"]
    other = [s for s in read.samples if s.split != "test"]
    n_test, n_other, n_bad = EXPECTED[name]
    assert (len(test), len(other), len(read.bad)) == (n_test, n_other, n_bad), read.bad
    for s in read.samples:
        t = s.target(TaskKind.VQA)
        assert isinstance(t, VqaTarget) and t.question and t.answer
        assert all(im.path.is_file() for im in s.images)
        if t.answer_type == "choice":
            assert t.letter in dict(t.options) and dict(t.options)[t.letter] == t.answer
    assert read.fingerprint


def test_layout_details_match_the_publishers(tmp_path: Path) -> None:
    rad = load_dataset("vqa_rad", _build(tmp_path, "vqa_rad"))
    by_q = {s.target(TaskKind.VQA).question: s for s in rad.samples}  # type: ignore[union-attr]
    liver = by_q["Is the liver enlarged?"].target(TaskKind.VQA)
    assert liver.answer_type == "closed" and liver.rule == "yes_no"  # "CLOSED " trailing space
    assert by_q["Is this an MRI or a CT?"].target(TaskKind.VQA).rule == "closed"  # type: ignore[union-attr]
    assert by_q["How many lesions are there?"].target(TaskKind.VQA).answer == "2"  # type: ignore[union-attr]
    assert "no question" in rad.bad[0].reason
    slake = load_dataset("slake", _build(tmp_path, "slake"))
    assert all(s.target(TaskKind.VQA).language == "en" for s in slake.samples)  # type: ignore[union-attr]
    assert {s.split for s in slake.samples} == {"train", "validation", "test"}
    omni = load_dataset("omnimedvqa", _build(tmp_path, "omnimedvqa"))
    cats = {s.target(TaskKind.VQA).question: s.category for s in omni.samples}  # type: ignore[union-attr]
    assert cats["What lesion is shown?"] == "dermatology"
    assert cats["Is there glaucoma in this image?"] == "ophthalmology"
    assert cats["Which organ is shown?"] == "radiology"  # read from `modality`
    mx = load_dataset("medxpertqa_mm", _build(tmp_path, "medxpertqa_mm"))
    two = next(s for s in mx.samples if s.id == "MM-1")
    assert len(two.images) == 2
    assert "Answer Choices" not in two.target(TaskKind.VQA).question  # type: ignore[union-attr]
    pmc = load_dataset("pmc_vqa", _build(tmp_path, "pmc_vqa"))
    assert "matches no choice" in pmc.bad[0].reason
    opts = dict(pmc.samples[0].target(TaskKind.VQA).options)  # type: ignore[union-attr]
    assert not any(v.startswith(("A:", "B:")) for v in opts.values())


def _suite(tmp_path: Path, server: FakeVisionModel, names: list[str], extra: str = "") -> Path:
    presets = tmp_path / "presets.yaml"
    presets.write_text(
        "presets:\n  - name: fake-vlm\n    provider: openai_compatible\n    model_id: fake-vlm\n"
        f"    base_url: {server.url}\n    api_key_env: FAKE_VQA_KEY\n    modality: vision\n"
        "    stream: false\n"
        # this fake counts no image tokens; the probe for dropped images is tested elsewhere
        "    image_probe: false\n"
    )
    roots = {n: _build(tmp_path, n) for n in names}
    datasets = "".join(
        f"  - name: {n}\n    root: {roots[n]}\n"
        + ("    support_split: validation\n" if n == "slake" else "")
        for n in names
    )
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"name: vqa\nmodels: [vqa-prior, fake-vlm]\ntasks: [vqa]\ndatasets:\n{datasets}"
        f"presets: [{presets}]\n{extra}"
    )
    return suite


def _scores(run: Path) -> dict[tuple[str, str, str], dict]:
    con = sqlite3.connect(run / "run.sqlite")
    cols = [r[1] for r in con.execute("PRAGMA table_info(scores)")]
    out = {}
    for row in con.execute("SELECT * FROM scores"):
        rec = dict(zip(cols, row, strict=True))
        out[(rec["model"], rec["task"], rec["dataset"])] = {
            k: json.loads(v) if isinstance(v, str) and v[:1] in "{[" else v for k, v in rec.items()
        }
    con.close()
    return out


def test_medmine_run_scores_every_layout_through_every_rule(tmp_path: Path) -> None:
    names = sorted(BUILDERS)
    with FakeVisionModel() as server:
        suite = _suite(tmp_path, server, names)
        result = runner.invoke(
            app, ["run", str(suite), "--out", str(tmp_path / "run"), "--no-progress"]
        )
        assert result.exit_code == 0, result.output
    scores = _scores(tmp_path / "run")
    for n in names:
        fake = scores[("fake-vlm", "vqa", n)]["metrics"]
        assert 0.0 <= fake["accuracy"] <= 1.0 and fake["n"] == EXPECTED[n][0]
    rad = scores[("fake-vlm", "vqa", "vqa_rad")]
    assert {"closed_accuracy", "yes_no_accuracy", "open_recall", "open_f1", "open_exact"} <= set(
        rad["metrics"]
    )
    tables = rad["tables"]
    assert set(tables["by_rule"]) == {"yes_no", "open"}
    assert set(tables["by_question_type"]) >= {"PRES", "POS", "COUNT"}
    assert "choice_accuracy" in scores[("fake-vlm", "vqa", "gmai_mmbench")]["metrics"]
    # Every answer the fake model meant is scored as that answer: compare per sample.
    by_prompt_q = {
        e["prompt"].split("Question:", 1)[1].split("\n", 1)[0].strip(): e for e in server.log
    }
    checked = 0
    for n in names:
        read = load_dataset(
            n, tmp_path / "data" / {"vqa_rad_parquet": "vqa-rad", "path_vqa": "path-vqa"}.get(n, n)
        )
        per = scores[("fake-vlm", "vqa", n)]["per_sample"]
        for s in read.samples:
            if s.split != "test" or s.id not in per:
                continue
            t = s.target(TaskKind.VQA)
            meant = by_prompt_q[t.question.strip()]["meant"]  # type: ignore[union-attr]
            if t.rule == "choice":  # type: ignore[union-attr]
                want = float(meant == t.letter)  # type: ignore[union-attr]
            elif t.rule == "yes_no":  # type: ignore[union-attr]
                want = float(meant == t.answer.lower())  # type: ignore[union-attr]
            else:
                continue
            assert per[s.id]["score"] == want, (n, s.id, meant)
            checked += 1
    assert checked >= 12
    # Refusals and cut answers are counted, not scored as answers.
    m_all = [scores[("fake-vlm", "vqa", n)]["metrics"] for n in names]
    assert sum(m["refusal_rate"] * m["n"] for m in m_all) >= 1
    assert sum(m["truncated_rate"] * m["n"] for m in m_all) >= 1
    # vqa-prior answers every dataset that has a support split with the support's majority.
    prior = scores[("vqa-prior", "vqa", "vqa_rad")]["metrics"]
    assert prior["n"] == 5 and prior["error_rate"] == 0.0
    assert ("vqa-prior", "vqa", "omnimedvqa") not in scores  # no support split: cannot fit


def test_shots_and_cot_run_as_their_own_columns(tmp_path: Path) -> None:
    with FakeVisionModel() as server:
        suite = _suite(tmp_path, server, ["vqa_rad", "medxpertqa_mm"])
        result = runner.invoke(
            app,
            [
                "run",
                str(suite),
                "--out",
                str(tmp_path / "run"),
                "--no-progress",
                "--shots",
                "1",
                "--prompt",
                "cot",
            ],
        )
        assert result.exit_code == 0, result.output
    scores = _scores(tmp_path / "run")
    assert {("fake-vlm", t, "vqa_rad") for t in ("vqa", "vqa@1shot", "vqa@cot")} <= set(scores)
    few = [e for e in server.log if e["n_messages"] == 3]  # example turn, answer, question
    assert few and all(e["images"] >= 2 for e in few)  # example images are sent as images
    cot = scores[("fake-vlm", "vqa@cot", "vqa_rad")]["metrics"]
    zero = scores[("fake-vlm", "vqa", "vqa_rad")]["metrics"]
    assert cot["accuracy"] == zero["accuracy"]  # same meant answers, read from the final line
    con = sqlite3.connect(tmp_path / "run" / "run.sqlite")
    jobs = json.loads(con.execute("SELECT value FROM manifest WHERE key='jobs'").fetchone()[0])
    con.close()
    recipe = jobs["fake-vlm/vqa@1shot/vqa_rad"]["prompting"]
    assert recipe["shots"] == 1 and len(recipe["examples"]) == 1
    report = (tmp_path / "run" / "report" / "report.md").read_text()
    assert "## Prompt strategies" in report and "McNemar" in report


def test_study_suite_also_runs_the_vqa_benchmarks_it_finds(tmp_path: Path) -> None:
    for name in ("vqa_rad", "slake", "gmai_mmbench"):
        _build(tmp_path, name)
    out = tmp_path / "study"
    result = runner.invoke(
        app,
        [
            "run",
            "--suite",
            "study",
            "--data-root",
            str(tmp_path / "data"),
            "--model",
            "vqa-prior",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    scores = _scores(out)
    assert {("vqa-prior", "vqa", "vqa_rad"), ("vqa-prior", "vqa", "slake")} <= set(scores)
    assert "skipped dataset" in result.output  # the study's image datasets are not here


def test_slake_chinese_questions_are_opt_in(tmp_path: Path) -> None:
    from medmine.datasets.catalog import add_catalog_file, reset_catalog

    root = _build(tmp_path, "slake")
    user = tmp_path / "mine.yaml"
    user.write_text(
        "datasets:\n- name: slake_zh\n  title: SLAKE (Chinese)\n  category: radiology\n"
        "  tasks: [vqa]\n  reader: vqa_slake\n  reader_args: {language: zh}\n"
        "  licence: CC BY-SA 4.0\n  access: open\n  top_level: [Slake1.0/test.json]\n"
        "  layout: same as slake\n"
    )
    try:
        add_catalog_file(user)
        zh = load_dataset("slake_zh", root)
    finally:
        reset_catalog()
    assert [s.target(TaskKind.VQA).language for s in zh.samples] == ["zh", "zh"]  # type: ignore[union-attr]
    assert len(load_dataset("slake", root).samples) == 6  # English only by default


def test_pathvqa_parquet_is_never_read_as_vqa_rad(tmp_path: Path) -> None:
    root = _build(tmp_path, "path_vqa")
    read = load_dataset("vqa_rad_parquet", root)  # same data/<split>-*.parquet layout
    assert read.samples == [] and "another benchmark" in read.bad[0].reason
    assert len(load_dataset("path_vqa", root).samples) == 6
