"""The vqa task: the answer reader (corpus agreement, never a word read as a letter), the
published scoring rules, the vqa-prior baseline and the prompt strategies."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmine.baselines.vqa_prior import VqaPrior
from medmine.core import (
    ImageRef,
    ParseStatus,
    Prediction,
    Response,
    Sample,
    TaskKind,
)
from medmine.datasets.readers.vqa_common import VqaTarget
from medmine.run.runner import Job, Runner
from medmine.run.store import RunStore
from medmine.tasks.examples import choose_examples
from medmine.tasks.prompting import PromptedTask, final_answer
from medmine.tasks.registry import make_task
from medmine.tasks.vqa import VqaTask
from medmine.tasks.vqa_read import read_choice, read_open, read_yes_no
from medmine.tasks.vqa_score import normalize_answer, token_f1, token_recall

CORPUS = Path(__file__).parent / "data" / "vqa_answers.jsonl"
OPTS = [("A", "CT"), ("B", "MRI"), ("C", "X-ray"), ("T", "T2-weighted"), ("I", "Ultrasound")]


def _read_corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def test_corpus_agreement_with_a_careful_reader() -> None:
    rows = _read_corpus()
    assert len(rows) >= 200
    task = make_task("vqa")
    agree, wrong_letters = 0, []
    for i, r in enumerate(rows):
        sample = VqaTask.sample_from_fields(r, f"line {i}")
        finish = "length" if r["style"] == "cut off" else "stop"
        pred = task.parse(Response(text=r["answer"], model="m", finish_reason=finish), sample)
        got = pred.value["answer"] if pred.usable else None
        want = r["expected"]
        if r["answer_type"] == "open" and got is not None:
            same = normalize_answer(got) == normalize_answer(want)
        else:
            same = got == want
        agree += same
        if r["answer_type"] == "choice" and got is not None and got != want:
            wrong_letters.append((i, r["answer"], got, want))
    assert agree / len(rows) >= 0.98, agree / len(rows)
    assert wrong_letters == []  # never a word (or anything else) read as the wrong letter


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("The answer is T2-weighted", "T"),  # by the option's text, not the letter T
        ("The image is probably an MRI", "B"),
        ("The findings are nonspecific", None),
        ("I think this is hard to say", None),
        ("A mass is seen", None),
        ("Thorough evaluation is needed", None),
        ("The answer is a cyst", None),
        ("Impossible to tell", None),
        ("Ideally a CT", "A"),
    ],
)
def test_words_are_never_letters(text: str, want: str | None) -> None:
    assert read_choice(text, OPTS)[0] == want


def test_answer_forms_read_the_same_letter() -> None:
    forms = [
        "B",
        "(B)",
        "B.",
        "Answer: B",
        "answer: (b)",
        "MRI",
        '{"answer": "B"}',
        '```json\n{"answer": "B"}\n```',
        "B. MRI",
        "**B**",
        "Final answer: B",
        "The correct answer is option B.",
        "Option B",
    ]
    for f in forms:
        assert read_choice(f, OPTS)[0] == "B", f
    assert read_choice("The answer is T2-weighted", OPTS)[0] == "T"  # by option text
    letter, status, detail = read_choice("It is either CT or MRI.", OPTS)
    assert letter is None and status == ParseStatus.UNPARSEABLE and "ambiguous" in str(detail)


def test_yes_no_and_open_readers() -> None:
    assert read_yes_no("Probably not.")[0] == "no"
    assert read_yes_no("There is no pneumothorax.")[:2] == ("no", ParseStatus.REPAIRED)
    assert read_yes_no("It cannot be determined.")[1] == ParseStatus.UNPARSEABLE
    assert read_yes_no("I'm sorry, but I can't help with that.")[1] == ParseStatus.REFUSED
    assert read_open("The answer is the liver.")[0] == "the liver"
    assert read_open('{"answer": "right lobe"}')[0] == "right lobe"


def test_token_metrics_follow_the_published_formulas() -> None:
    assert normalize_answer("The Right, upper lobe.") == "right upper lobe"
    assert token_recall("mass in the right upper lobe", "right upper lobe") == 1.0
    assert token_recall("upper lobe", "right upper lobe") == pytest.approx(2 / 3)
    # SQuAD F1: precision 3/5, recall 3/3 -> 0.75
    assert token_f1("mass in right upper lobe", "right upper lobe") == pytest.approx(0.75)
    assert token_f1("", "liver") == 0.0


def _sample(sid: str, target: VqaTarget, split: str = "test", image: Path | None = None) -> Sample:
    images = (ImageRef(image),) if image else ()
    return Sample(
        sid, "ds", images=images, targets={TaskKind.VQA: target}, split=split, category="radiology"
    )


def test_scores_per_rule_with_breakdowns_and_failures() -> None:
    yn = VqaTarget("Is there a mass?", "yes", "closed", question_type="PRES", modality="CT")
    alt = VqaTarget("CT or MRI?", "CT", "closed", question_type="MODALITY", modality="CT")
    mc = VqaTarget(
        "Which?",
        "MRI",
        "choice",
        options=(("A", "CT"), ("B", "MRI")),
        letter="B",
        question_type="MOD",
        modality="MR",
    )
    op = VqaTarget("Where?", "right upper lobe", "open", question_type="POS", modality="CT")
    samples = [_sample(str(i), t) for i, t in enumerate([yn, alt, mc, op, yn])]
    preds = [
        Prediction({"answer": "yes"}, ParseStatus.OK),
        Prediction({"answer": "it is a ct scan"}, ParseStatus.OK),
        Prediction({"answer": "A"}, ParseStatus.OK),
        Prediction({"answer": "upper lobe"}, ParseStatus.OK),
        Prediction(None, ParseStatus.REFUSED, "declined"),
    ]
    scores = VqaTask().score(preds, samples)
    m = scores.metrics
    assert m["accuracy"] == pytest.approx(2 / 5)
    assert m["yes_no_accuracy"] == 0.5 and m["closed_accuracy"] == pytest.approx(2 / 3)
    assert m["choice_accuracy"] == 0.0 and m["open_exact"] == 0.0
    assert m["open_recall"] == pytest.approx(2 / 3) and m["refusal_rate"] == 0.2
    assert scores.tables["by_question_type"]["PRES"]["accuracy"] == 0.5
    assert set(scores.tables["by_modality"]) == {"CT", "MR"}
    assert m["accuracy_ci_low"] <= m["accuracy"] <= m["accuracy_ci_high"]


def test_truncated_and_error_answers_keep_their_status() -> None:
    s = _sample("1", VqaTarget("Is it?", "yes", "closed"))
    task = VqaTask()
    cut = task.parse(Response(text="Looking at the", model="m", finish_reason="length"), s)
    assert cut.status == ParseStatus.TRUNCATED
    err = task.parse(Response(text="", model="m", error="timeout"), s)
    assert err.status == ParseStatus.ERROR


def _png(path: Path, seed: int) -> Path:
    arr = (np.random.default_rng(seed).random((16, 16)) * 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def _support(tmp_path: Path) -> list[Sample]:
    out = []
    for i, ans in enumerate(["yes", "yes", "no", "yes", "no"]):
        t = VqaTarget(f"Q{i}?", ans, "closed", question_type="PRES")
        out.append(_sample(f"s{i}", t, "train", _png(tmp_path / f"s{i}.png", i)))
    out.append(
        _sample(
            "m0",
            VqaTarget("Which?", "MRI", "choice", (("A", "CT"), ("B", "MRI")), "B", "MOD"),
            "train",
            _png(tmp_path / "m0.png", 9),
        )
    )
    return out


def test_vqa_prior_answers_the_support_majority(tmp_path: Path) -> None:
    task = VqaTask()
    prior = VqaPrior().fit(_support(tmp_path), task)
    test = _sample(
        "t",
        VqaTarget("New?", "no", "closed", question_type="PRES"),
        image=_png(tmp_path / "t.png", 20),
    )
    other = _sample(
        "u",
        VqaTarget("Other?", "no", "closed", question_type="SIZE"),
        image=_png(tmp_path / "u.png", 21),
    )
    mc = _sample(
        "v",
        VqaTarget("Which?", "CT", "choice", (("A", "CT"), ("B", "MRI")), "A", "OTHER"),
        image=_png(tmp_path / "v.png", 22),
    )
    for s, want in ((test, "yes"), (other, "yes"), (mc, "B")):
        r = asyncio.run(prior.generate(task.request(s)))
        assert json.loads(r.text) == {"answer": want}
    open_q = _sample("w", VqaTarget("Where?", "lobe", "open"), image=_png(tmp_path / "w.png", 23))
    r = asyncio.run(prior.generate(task.request(open_q)))
    assert r.error and r.error_kind == "unsupported"  # no open question in the support split
    with pytest.raises(ValueError):
        VqaPrior().fit([], task)


def test_few_shot_examples_are_stratified_seeded_and_sent_as_images(tmp_path: Path) -> None:
    task = VqaTask()
    support = _support(tmp_path)
    ex = choose_examples(support, task, 3, seed=0)
    assert len({task.example_label(s) for s in ex}) == 3  # yes, no and the choice question
    assert ex == choose_examples(support, task, 3, seed=0)
    wrapped = PromptedTask(task, "few_shot", 2, support, seed=1)
    test = _sample("t", VqaTarget("Is it?", "no", "closed"), image=_png(tmp_path / "t.png", 30))
    req = wrapped.request(test)
    roles = [m.role for m in req.messages]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    assert len(req.images()) == 3 and req.images()[-1].path == test.images[0].path
    assert json.loads(req.messages[1].text)["answer"] in ("yes", "no", "B")
    assert wrapped.name == "vqa@2shot" and wrapped.recipe()["examples"] == [
        e.id for e in wrapped.examples
    ]
    with pytest.raises(ValueError, match="support examples"):
        PromptedTask(task, "few_shot", 10, support)


def test_cot_reads_the_final_answer_line_and_keeps_the_reasoning() -> None:
    task = PromptedTask(VqaTask(), "cot")
    s = _sample("1", VqaTarget("Which?", "MRI", "choice", (("A", "CT"), ("B", "MRI")), "B"))
    text = "A CT would show bone brightly; here soft tissue contrast is high.\nFinal answer: B"
    pred = task.parse(Response(text=text, model="m"), s)
    assert pred.value == {"answer": "B"} and pred.status == ParseStatus.OK
    assert final_answer(text) == ("B", True)
    loose = task.parse(Response(text="The answer is (B).", model="m"), s)
    assert loose.status == ParseStatus.REPAIRED and "no 'Final answer:'" in str(loose.detail)


class _OneImageModel:
    name = "one-image"
    max_concurrency = 1
    max_images = 1
    cache_id = "one-image"

    def describe(self) -> dict[str, str]:
        return {}

    def __init__(self) -> None:
        self.sent: list[int] = []

    async def generate(self, request):  # type: ignore[no-untyped-def]
        self.sent.append(len(request.images()))
        return Response(text='{"answer": "yes"}', model=self.cache_id)


def test_a_model_taking_one_image_is_not_sent_few_shot_prompts(tmp_path: Path) -> None:
    """A few-shot prompt over the model's max_images is never sent: its sample ends as
    medmine_error with a message naming it (not the model's failure, never scored)."""
    support = _support(tmp_path)
    test = [_sample("t", VqaTarget("Is it?", "yes", "closed"), image=_png(tmp_path / "t.png", 40))]
    store = RunStore(tmp_path / "run")
    runner = Runner(store, None, progress=False)
    model = _OneImageModel()
    jobs = [
        Job(model, VqaTask(), "ds", test, support),
        Job(model, PromptedTask(VqaTask(), "few_shot", 2, support), "ds", test, support),
    ]
    asyncio.run(runner.run(jobs))
    assert model.sent == [1]  # only the zero-shot request (one image) was sent
    ends = store.ledger.get("one-image", "vqa@2shot", "ds")
    store.close()
    (end,) = ends.values()
    assert end.outcome.value == "medmine_error"
    assert str(end.detail).startswith("sample t: its request carries 3 images")
    assert "takes at most 1 per request" in str(end.detail)
    assert runner.summary.medmine_errors == 1 and runner.summary.errors == 0


def test_prompt_options_are_validated() -> None:
    from medmine.run.suite import SuiteError, load_suite, with_prompting

    with pytest.raises(SuiteError, match="known strategies"):
        with_prompting(load_suite("demo"), None, ["tree_of_thought"])
    with pytest.raises(SuiteError, match="needs `shots"):
        with_prompting(load_suite("demo"), None, ["few_shot"])
    suite = with_prompting(load_suite("demo"), 2, ["cot"])
    assert suite.strategies() == ["zero_shot", "cot", "few_shot"]


def test_demo_runs_zero_shot_few_shot_and_cot_side_by_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from medmine.cli import app

    monkeypatch.setenv("MEDMINE_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    args = [
        "run",
        "demo",
        "--task",
        "vqa",
        "--task",
        "classification",
        "--dataset",
        "demo-radiology",
        "--shots",
        "2",
        "--prompt",
        "cot",
        "--out",
        str(out),
        "--no-progress",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for column in ("vqa@2shot", "vqa@cot", "classification@2shot", "classification@cot"):
        assert column in result.output
    md = (out / "report" / "report.md").read_text()
    section = md.split("## Prompt strategies", 1)[1].split("## ", 1)[0]
    assert "| vqa | demo-radiology | vqa-prior | 2shot |" in section
    assert "| classification | demo-radiology | nearest-centroid | cot |" in section


@pytest.mark.parametrize(
    "name",
    ["classification", "localization", "detection", "diagnosis", "vqa", "report_generation"],
)
def test_worked_answers_are_read_back_as_the_truth(tmp_path: Path, name: str) -> None:
    """A few-shot example's answer is the ground truth in the asked form: the task's own
    reader reads it back and scores it perfect."""
    from medmine.datasets.demo import DemoSpec, build_demo
    from medmine.tasks.examples import example_answer

    spec = DemoSpec(per_class_test=1, per_class_train=2, reports_test=2, reports_train=2)
    task = make_task(name)
    samples = [s for s in build_demo(spec, tmp_path / "demo") if task.applies_to(s)][:6]
    assert samples
    preds = []
    for s in samples:
        pred = task.parse(Response(text=example_answer(task, s), model="m"), s)
        assert pred.status == ParseStatus.OK, (s.id, pred.detail)
        preds.append(pred)
    scores = task.score(preds, samples)
    if name in ("classification", "localization", "vqa"):
        assert scores.metrics[scores.headline] == pytest.approx(1.0)
    if name == "report_generation":
        assert scores.metrics["bleu_4"] == pytest.approx(1.0, abs=1e-6)
    if name == "detection":
        assert all(
            row.get("fp", 0) == 0 and row.get("fn", 0) == 0 for row in scores.per_sample.values()
        )


def test_a_strategy_column_can_be_read_again() -> None:
    from medmine.tasks.prompting import task_for_column

    cot = task_for_column("vqa@cot")
    few = task_for_column("vqa@3shot")
    assert (cot.name, few.name, task_for_column("vqa").name) == ("vqa@cot", "vqa@3shot", "vqa")
    s = _sample("1", VqaTarget("Is it?", "yes", "closed"))
    reply = Response(text="Reasoning...\nFinal answer: yes", model="m")
    assert cot.parse(reply, s).value == {"answer": "yes"}
    with pytest.raises(ValueError, match="unknown prompt strategy"):
        task_for_column("vqa@tot")
