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
Model-based metrics (CheXbert F1, BERTScore, RadGraph F1; :mod:`medmine.clinical`, the
``clinical`` extra) read local weights only: ``model_metrics="auto"`` computes those whose
weights folder is configured and lists the others in ``tables["model_metrics_unavailable"]``
with the reason; a named metric that cannot run, or a wrong folder, fails at construction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

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
)
from medmine.datasets.report_text import split_sections
from medmine.metrics.bootstrap import bootstrap_ci, mean_ci
from medmine.metrics.ptb_tokenize import ptb_tokenize
from medmine.tasks.answer_text import looks_like_refusal
from medmine.tasks.classification import failure_rates
from medmine.tasks.image_task import ImageTask
from medmine.tasks.registry import register_task
from medmine.tasks.report_model_metrics import model_metric_scores
from medmine.tasks.report_scorers import ReportScorer, build_scorers
from medmine.tasks.report_text_metrics import (
    _bleu4_resample,
    _meteor,
    clinical_efficacy,
    nlg_scores,
)

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
class ReportGenerationTask(ImageTask[ReportTarget]):
    """Report generation from image(s): BLEU-1..4 (headline BLEU-4), ROUGE-L, CIDEr-D, METEOR, CE.

    Options: ``section`` ("findings", "impression" or "both"), ``meteor`` (compute METEOR when
    Java is available), ``modality`` (words for the image in the prompt), ``model_metrics``
    ("auto" or names of model-based metrics), ``weights`` (metric -> local weights folder,
    else the metric's environment variable), ``bertscore_layers``, ``bertscore_idf``,
    ``radgraph_model``, ``ratescore_matrix`` ("long", "short" or a JSON file),
    ``ratescore_batch_size``.
    """

    target_type: ClassVar[type] = ReportTarget

    section: str = "findings"
    meteor: bool = True
    modality: str = "chest radiograph"
    model_metrics: str | list[str] = "auto"
    weights: dict[str, str] = field(default_factory=dict)
    bertscore_layers: int | None = None
    bertscore_idf: bool = False
    radgraph_model: str = "radgraph"
    ratescore_matrix: str = "long"
    ratescore_batch_size: int = 1
    _scorers: list[ReportScorer] = field(init=False, repr=False, default_factory=list)
    _unavailable: dict[str, str] = field(init=False, repr=False, default_factory=dict)
    settings: GenerationSettings = field(default_factory=lambda: GenerationSettings(max_tokens=512))
    metrics: ClassVar[MetricSet] = METRICS
    # answer length in tokens for cost estimates: a FINDINGS paragraph of ~75 words
    typical_output_tokens: ClassVar[int] = 100
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
        if isinstance(self.model_metrics, str) and self.model_metrics != "auto":
            self.model_metrics = [self.model_metrics]
        options = {
            "weights": self.weights,
            "bertscore_layers": self.bertscore_layers,
            "bertscore_idf": self.bertscore_idf,
            "radgraph_model": self.radgraph_model,
            "ratescore_matrix": self.ratescore_matrix,
            "ratescore_batch_size": self.ratescore_batch_size,
        }
        self._scorers, self._unavailable = build_scorers(self.model_metrics, options)

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
        return super().request(sample)

    def intent(self, sample: Sample) -> dict[str, Any]:
        """The intent carries the reference section asked for."""
        return {"structure": self.section}

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
        mm, mm_per, mm_tables = model_metric_scores(
            self._scorers,
            self._unavailable,
            [remove_deid(r) for r in refs_raw],
            [remove_deid(h) for h in hyps_raw],
            groups,
        )
        metrics.update(mm)
        tables.update(mm_tables)
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
            row.update({k: float(v[i]) for k, v in mm_per.items()})
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


register_task("report_generation", ReportGenerationTask)
