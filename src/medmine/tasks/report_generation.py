"""Report generation: the FINDINGS and/or IMPRESSION of a radiology report from the image(s).

The prompt shows the image(s), the indication when the sample has one
(``Sample.meta["indication"]``) and asks for the report text only. The parser strips
boilerplate ("Here is the report:", markdown headers and emphasis, code fences) and, when
the model writes several sections, splits them with
:func:`medmine.datasets.report_text.split_sections`. An empty answer is unparseable.

Scoring (corpus level, as published report-generation papers do):

- NLG: BLEU-1..4, ROUGE-L and CIDEr-D from :mod:`medmine.metrics.nlg` (identical to
  pycocoevalcap on PTB tokens), METEOR through one warm Java process when Java is
  available (otherwise absent, with ``tables["meteor"] = "unavailable: <reason>"``).
  De-identification placeholders (``XXXX``, ``___``) are removed from both sides first.
  The headline is **BLEU-4** (the figure every report-generation table leads with);
  CIDEr-D is always reported next to it.
- Clinical efficacy (CE): the 14 CheXpert observations of the generated and the reference
  text by the rule-based labeler (:func:`medmine.chexpert.label_report`), positive class,
  uncertain -> positive and not mentioned -> negative (as R2Gen-style papers do);
  precision/recall/F1, micro and macro (macro over observations positive in some reference).
- Per sample: BLEU-4, ROUGE-L, CIDEr-D, METEOR (when available) and CE F1.

Failed answers (unparseable, refused, error) are scored as an empty report and counted.
Model-based metrics (BERTScore, RadGraph F1, CheXbert F1) are not computed here: naming one in
``model_metrics`` fails at construction with what it would need (nothing downloads silently).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from medmine.chexpert import OBSERVATIONS, label_report
from medmine.core import (
    GenerationSettings,
    MetricSet,
    MetricSpec,
    ParseStatus,
    Prediction,
    ReportTarget,
    Request,
    Response,
    Sample,
    TaskKind,
    TaskScores,
    stable_hash,
    user_request,
)
from medmine.datasets.report_text import split_sections
from medmine.metrics.bootstrap import bootstrap_ci, mean_ci
from medmine.metrics.multilabel import multilabel_report, observation_matrix, per_sample_f1
from medmine.metrics.nlg import bleu, cider_d, rouge_l
from medmine.metrics.ptb_tokenize import ptb_tokenize
from medmine.tasks.answer_text import looks_like_refusal
from medmine.tasks.classification import failure_rates
from medmine.tasks.registry import register_task

PARSER_VERSION = "1"
SECTIONS = ("findings", "impression", "both")

PROMPT = """\
You are an expert radiologist. Write {what} of the radiology report for the {modality} \
image(s) above.{indication}
Reply with the report text only: no preamble, no markdown, no patient details.{form}"""

_WHAT = {
    "findings": "the FINDINGS section",
    "impression": "the IMPRESSION section",
    "both": "the FINDINGS and IMPRESSION sections",
}
_FORM_BOTH = "\nUse the form:\nFINDINGS: <findings>\nIMPRESSION: <impression>"
_INDICATION = "\nIndication: {text}"

#: Model-based metrics and what they would need (none is downloaded by medmine).
MODEL_METRICS: dict[str, str] = {
    "bertscore": (
        "BERTScore needs `pip install bert-score` and its roberta-large (or distilroberta) "
        "weights already in the Hugging Face cache ($HF_HOME/hub)"
    ),
    "radgraph": (
        "RadGraph F1 needs `pip install radgraph` and the RadGraph model checkpoint "
        "(PhysioNet, credentialed access) placed in $MEDMINE_WEIGHTS_DIR/radgraph/"
    ),
    "chexbert": (
        "CheXbert F1 needs torch + transformers (`pip install 'medmine[local]'`) and the "
        "chexbert.pth checkpoint of stanfordmlgroup/CheXbert placed at "
        "$MEDMINE_WEIGHTS_DIR/chexbert.pth"
    ),
}

_DEID = re.compile(r"\b[Xx]{2,}\b|_{2,}")
_FENCE = re.compile(r"```[a-zA-Z]*\n?|```")
_MD_HEADER = re.compile(r"^[ \t]*#{1,6}[ \t]*(.+?)[ \t]*#*[ \t]*$", re.M)
_EMPHASIS = re.compile(r"\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)")
_BOILERPLATE = re.compile(
    r"^\s*(?:(?:sure|certainly|okay|ok|of course)\b[^\n]*?[.!:]\s*$"
    r"|(?:here\s+is|here's|below\s+is|the\s+following\s+is)\b[^\n]*?:\s*$"
    r"|(?:radiology\s+)?report\s*:?\s*$|chest\s+x-?ray\s+report\s*:?\s*$)",
    re.I,
)
_SECTION_WORDS = {"FINDINGS", "FINDING", "IMPRESSION", "IMPRESSIONS"}


def remove_deid(text: str) -> str:
    """The text without de-identification placeholders (XXXX, ___), spaces collapsed."""
    return " ".join(_DEID.sub(" ", text).split())


def clean_answer(text: str) -> str:
    """The model's report without code fences, boilerplate lines and markdown markup.

    A markdown header naming a section ("## Findings") becomes "FINDINGS:" so that
    :func:`split_sections` sees it.
    """
    text = _FENCE.sub("", text)

    def header(m: re.Match[str]) -> str:
        title = m.group(1).strip(" :*_")
        return f"{title.upper()}:" if title.upper() in _SECTION_WORDS else ""

    text = _MD_HEADER.sub(header, text)
    text = _EMPHASIS.sub("", text)
    lines = text.splitlines()
    while lines and (not lines[0].strip() or _BOILERPLATE.match(lines[0])):
        lines.pop(0)
    out = []
    for line in lines:
        # "Findings:" or "Findings" alone on a line in any case -> a header split_sections knows
        bare = line.strip().rstrip(":").strip()
        if bare.upper() in _SECTION_WORDS and bare:
            out.append(f"{bare.upper()}:")
        else:
            out.append(line)
    return "\n".join(out).strip()


def parse_report(text: str, section: str) -> tuple[dict[str, str], ParseStatus, str | None]:
    """Read the generated report; never raises.

    Returns ``({"findings", "impression", "text"}, status, detail)`` where ``text`` is what is
    scored: the asked section (or the whole answer when the model wrote no header), or for
    ``both`` the findings and impression joined.
    """
    empty = {"findings": "", "impression": "", "text": ""}
    if not isinstance(text, str) or not text.strip():
        return empty, ParseStatus.UNPARSEABLE, "empty answer"
    cleaned = clean_answer(text)
    if not cleaned:
        return empty, ParseStatus.UNPARSEABLE, "no report text after removing boilerplate"
    try:
        sections = split_sections(cleaned)
    except ValueError as exc:  # pragma: no cover - split_sections only rejects non-str
        return empty, ParseStatus.UNPARSEABLE, str(exc)
    findings = sections.get("FINDINGS", "")
    impression = sections.get("IMPRESSION", "")
    loose = " ".join(v for k, v in sections.items() if k in ("TEXT", "PREAMBLE") and v).strip()
    status = ParseStatus.OK if cleaned == text.strip() else ParseStatus.REPAIRED
    detail = None if status is ParseStatus.OK else "boilerplate or markup removed"
    if not findings and not impression:
        if looks_like_refusal(cleaned) and len(cleaned) < 400:
            return empty, ParseStatus.REFUSED, "the model declined"
        body = loose or " ".join(v for v in sections.values() if v)
        if not body:
            return empty, ParseStatus.UNPARSEABLE, "no report text"
        return {"findings": "", "impression": "", "text": body}, status, detail
    if section == "findings":
        scored = findings or loose
        if not findings:
            status, detail = ParseStatus.REPAIRED, "no FINDINGS header: text outside sections used"
    elif section == "impression":
        scored = impression or loose
        if not impression:
            status = ParseStatus.REPAIRED
            detail = "no IMPRESSION header: text outside sections used"
    else:
        scored = " ".join(x for x in (findings, impression) if x)
    if not scored.strip():
        return empty, ParseStatus.UNPARSEABLE, f"no {section.upper()} section in the answer"
    return {"findings": findings, "impression": impression, "text": scored}, status, detail


def reference_text(target: ReportTarget, section: str) -> str:
    """The reference the task scores against: one section, or both joined by a space."""
    if section == "findings":
        return target.findings.strip()
    if section == "impression":
        return target.impression.strip()
    return " ".join(x.strip() for x in (target.findings, target.impression) if x.strip())


#: What this task reports; every view (terminal, Markdown, CSV, HTML, LaTeX, paired
#: tests) reads this declaration.
METRICS = MetricSet(
    headline=MetricSpec("bleu_4", "BLEU-4", per_sample="bleu_4"),
    secondary=(
        MetricSpec("rouge_l", "ROUGE-L", per_sample="rouge_l"),
        MetricSpec("cider_d", "CIDEr-D", per_sample="cider_d"),
        MetricSpec("meteor", "METEOR", per_sample="meteor"),
        MetricSpec("ce_micro_f1", "CE F1 (micro)", per_sample="ce_f1"),
        MetricSpec("ce_macro_f1", "CE F1 (macro)"),
    ),
)


@dataclass
class ReportGenerationTask:
    """Report generation from image(s): BLEU-1..4 (headline BLEU-4), ROUGE-L, CIDEr-D, METEOR, CE.

    Options: ``section`` ("findings", "impression" or "both"), ``meteor`` (compute METEOR when
    Java is available), ``modality`` (words for the image in the prompt), ``model_metrics``
    (model-based metrics: not built in, fails fast naming what they need).
    """

    section: str = "findings"
    meteor: bool = True
    modality: str = "chest radiograph"
    model_metrics: list[str] = field(default_factory=list)
    settings: GenerationSettings = field(default_factory=lambda: GenerationSettings(max_tokens=512))
    metrics: ClassVar[MetricSet] = METRICS
    name: str = "report_generation"
    kind: TaskKind = TaskKind.REPORT_GENERATION
    version: str = "1"

    def __post_init__(self) -> None:
        """Validate the options; model-based metrics fail here, before anything is asked."""
        if self.section not in SECTIONS:
            raise ValueError(
                f"report_generation option section={self.section!r}: expected one of "
                f"{', '.join(SECTIONS)}"
            )
        if isinstance(self.model_metrics, str):
            self.model_metrics = [self.model_metrics]
        names = [str(m).lower() for m in self.model_metrics]
        unknown = [m for m in names if m not in MODEL_METRICS]
        if unknown:
            raise ValueError(
                f"report_generation option model_metrics: unknown {unknown}; known: "
                f"{', '.join(MODEL_METRICS)}"
            )
        if names:
            needs = "; ".join(f"{m}: {MODEL_METRICS[m]}" for m in names)
            raise ValueError(
                f"report_generation: model-based metric(s) {names} are not built into medmine "
                f"and nothing is downloaded silently. {needs}. Remove them from model_metrics "
                "to score with BLEU/ROUGE-L/CIDEr-D/METEOR and CheXpert-rule CE."
            )

    def applies_to(self, sample: Sample) -> bool:
        """Needs image(s) and a reference report target."""
        return bool(sample.images) and isinstance(sample.target(self.kind), ReportTarget)

    def _target(self, sample: Sample) -> ReportTarget:
        target = sample.target(self.kind)
        if not isinstance(target, ReportTarget):
            raise ValueError(f"sample {sample.id} has no report_generation target")
        return target

    def prompt(self, sample: Sample) -> str:
        """The instruction (with the indication when the sample has one)."""
        indication = sample.meta.get("indication") if sample.meta else None
        ind = ""
        if isinstance(indication, str) and indication.strip():
            ind = _INDICATION.format(text=" ".join(indication.split()))
        return PROMPT.format(
            what=_WHAT[self.section],
            modality=self.modality,
            indication=ind,
            form=_FORM_BOTH if self.section == "both" else "",
        )

    def request(self, sample: Sample) -> Request:
        """Image(s) first, then the instruction; a missing reference section is bad input."""
        target = self._target(sample)
        if not reference_text(target, self.section):
            raise ValueError(
                f"sample {sample.id}: the reference report has no "
                f"{'FINDINGS or IMPRESSION' if self.section == 'both' else self.section.upper()}"
                " section"
            )
        return user_request(
            self.name,
            sample.id,
            sample.images,
            self.prompt(sample),
            self.settings,
            structure=self.section,
        )

    def parse(self, response: Response, sample: Sample) -> Prediction:
        """Read the report text; provider errors and refusals keep their own status."""
        if response.error is not None:
            return Prediction({"text": ""}, ParseStatus.ERROR, response.error)
        if response.refused:
            return Prediction({"text": ""}, ParseStatus.REFUSED, "blocked by the provider")
        value, status, detail = parse_report(response.text, self.section)
        return Prediction(value, status, detail)

    def score(self, predictions: Sequence[Prediction], samples: Sequence[Sample]) -> TaskScores:
        """Corpus NLG metrics (headline BLEU-4), METEOR when possible, CE; failures count."""
        if len(predictions) != len(samples):
            raise ValueError(f"{len(predictions)} predictions for {len(samples)} samples")
        if not samples:
            raise ValueError("no samples to score")
        ids = [s.id for s in samples]
        if len(set(ids)) != len(ids):
            raise ValueError("sample ids must be unique to score report generation")
        refs_raw = [reference_text(self._target(s), self.section) for s in samples]
        hyps_raw = [_hypothesis(p) for p in predictions]
        ref_tok = [ptb_tokenize(remove_deid(r)) for r in refs_raw]
        hyp_tok = [ptb_tokenize(remove_deid(h)) for h in hyps_raw]
        nlg = nlg_scores(ids, ref_tok, hyp_tok)
        metrics: dict[str, float] = {k: v for k, v in nlg.items() if isinstance(v, float)}
        per = nlg["per_sample"]
        assert isinstance(per, dict)
        tables: dict[str, object] = {"deid_removed": "XXXX and ___ placeholders removed"}
        meteor_per: list[float] | None = None
        if self.meteor:
            meteor_per, reason = _meteor(ids, ref_tok, hyp_tok, metrics)
            if meteor_per is None:
                tables["meteor"] = f"unavailable: {reason}"
        else:
            tables["meteor"] = "unavailable: switched off (meteor=False)"
        ce = clinical_efficacy(refs_raw, hyps_raw)
        metrics.update({k: v for k, v in ce.items() if isinstance(v, float)})
        tables["ce_per_observation"] = ce["per_observation"]
        tables["ce_macro_labels"] = ce["macro_labels"]
        ce_f1 = ce["per_sample_f1"]
        assert isinstance(ce_f1, np.ndarray)
        metrics.update(failure_rates(predictions))
        groups = [s.patient_id or s.id for s in samples]
        if len(samples) >= 2:
            lo, hi = bootstrap_ci(
                lambda idx: _bleu4_resample(idx, ref_tok, hyp_tok),
                len(samples),
                groups=groups,
                n_resamples=200,
            )
            metrics["bleu_4_ci_low"], metrics["bleu_4_ci_high"] = lo, hi
            for name in ("rouge_l", "cider_d"):
                lo, hi = mean_ci(per[name].tolist(), groups=groups)
                metrics[f"{name}_ci_low"], metrics[f"{name}_ci_high"] = lo, hi
            lo, hi = mean_ci(ce_f1.tolist(), groups=groups)
            metrics["ce_sample_f1_ci_low"], metrics["ce_sample_f1_ci_high"] = lo, hi
        per_sample: dict[str, dict[str, float]] = {}
        for i, sid in enumerate(ids):
            row = {
                "bleu_4": float(per["bleu_4"][i]),
                "rouge_l": float(per["rouge_l"][i]),
                "cider_d": float(per["cider_d"][i]),
                "ce_f1": float(ce_f1[i]),
            }
            if meteor_per is not None:
                row["meteor"] = float(meteor_per[i])
            per_sample[sid] = row
        tables["section"] = self.section
        return TaskScores(
            metrics=metrics, per_sample=per_sample, headline=METRICS.headline.key, tables=tables
        )

    def template_hash(self) -> str:
        """Hash of the prompt, the parser version and the options that change the scores."""
        return stable_hash(
            [
                PROMPT,
                _WHAT,
                _FORM_BOTH,
                _INDICATION,
                PARSER_VERSION,
                self.version,
                self.section,
                self.modality,
                self.meteor,
                _DEID.pattern,
                _BOILERPLATE.pattern,
            ]
        )


def _hypothesis(p: Prediction) -> str:
    """The scored text of a prediction; a failure is an empty report."""
    if not p.usable or not isinstance(p.value, dict):
        return ""
    text = p.value.get("text")
    return text if isinstance(text, str) else ""


def nlg_scores(
    ids: Sequence[str], ref_tokens: Sequence[list[str]], hyp_tokens: Sequence[list[str]]
) -> dict[str, object]:
    """BLEU-1..4, ROUGE-L, CIDEr-D on PTB tokens (one reference per sample), with per-sample.

    Tokens are re-joined and split the way pycocoevalcap splits its tokenised strings (BLEU
    and CIDEr on any whitespace, ROUGE-L on single spaces), so the numbers equal it.
    """
    ref_str = {k: " ".join(r) for k, r in zip(ids, ref_tokens, strict=True)}
    hyp_str = {k: " ".join(h) for k, h in zip(ids, hyp_tokens, strict=True)}
    ref_ws = {k: [v.split()] for k, v in ref_str.items()}
    hyp_ws = {k: v.split() for k, v in hyp_str.items()}
    b, b_per = bleu(ref_ws, hyp_ws, 4)
    r, r_per = rouge_l({k: [v.split(" ")] for k, v in ref_str.items()},
                       {k: v.split(" ") for k, v in hyp_str.items()})  # fmt: skip
    c, c_per = cider_d(ref_ws, hyp_ws)
    per: dict[str, np.ndarray] = {f"bleu_{k + 1}": np.array(b_per[k]) for k in range(4)}
    per["rouge_l"] = r_per
    per["cider_d"] = c_per
    out: dict[str, object] = {f"bleu_{k + 1}": float(b[k]) for k in range(4)}
    out.update({"rouge_l": float(r), "cider_d": float(c), "per_sample": per})
    return out


def _bleu4_resample(
    idx: np.ndarray, ref_tok: Sequence[list[str]], hyp_tok: Sequence[list[str]]
) -> float:
    """Corpus BLEU-4 of one bootstrap resample (duplicated samples get distinct keys)."""
    refs = {f"{j}:{i}": [ref_tok[i]] for j, i in enumerate(idx)}
    hyps = {f"{j}:{i}": hyp_tok[i] for j, i in enumerate(idx)}
    return float(bleu(refs, hyps, 4)[0][3])


def _meteor(
    ids: Sequence[str],
    ref_tok: Sequence[list[str]],
    hyp_tok: Sequence[list[str]],
    metrics: dict[str, float],
) -> tuple[list[float] | None, str]:
    """Corpus METEOR into ``metrics`` and the per-sample scores, or (None, reason)."""
    from medmine.metrics.meteor import MeteorScorer, MeteorUnavailable

    scorer = MeteorScorer()
    ok, reason = scorer.is_available()
    if not ok:
        return None, reason
    refs = {k: [r] for k, r in zip(ids, ref_tok, strict=True)}
    hyps = dict(zip(ids, hyp_tok, strict=True))
    try:
        with scorer:
            corpus, per = scorer.score(refs, hyps)
    except (MeteorUnavailable, OSError, ValueError) as exc:
        return None, str(exc)
    metrics["meteor"] = corpus
    return per, "ok"


def clinical_efficacy(refs: Sequence[str], hyps: Sequence[str]) -> dict[str, object]:
    """CE precision/recall/F1 of the 14 CheXpert observations: generated vs reference text.

    Both sides are labelled by the rule-based CheXpert labeler; uncertain -> positive, not
    mentioned -> negative. An empty text is labelled as all not mentioned.
    """
    ref_lab = [_labels(t) for t in refs]
    hyp_lab = [_labels(t) for t in hyps]
    y_true = observation_matrix(ref_lab, OBSERVATIONS)
    y_pred = observation_matrix(hyp_lab, OBSERVATIONS)
    rep = multilabel_report(y_true, y_pred, OBSERVATIONS, uncertain="ones", pred_uncertain="ones")
    return {
        "ce_micro_precision": rep.micro_precision,
        "ce_micro_recall": rep.micro_recall,
        "ce_micro_f1": rep.micro_f1,
        "ce_macro_precision": rep.macro_precision,
        "ce_macro_recall": rep.macro_recall,
        "ce_macro_f1": rep.macro_f1,
        "per_observation": rep.per_label,
        "macro_labels": rep.macro_labels,
        "per_sample_f1": per_sample_f1(y_true, y_pred, uncertain="ones", pred_uncertain="ones"),
    }


def _labels(text: str) -> dict[str, float | None]:
    return label_report(text) if text.strip() else dict.fromkeys(OBSERVATIONS)


register_task("report_generation", ReportGenerationTask)
