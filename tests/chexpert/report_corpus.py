"""Realistic IU X-ray / MIMIC-CXR style reports with MeSH-style truth, generated from a seed.

The sentence pools are written the way IU X-ray (Open-i) and MIMIC-CXR reports are written:
template-like normal sentences with many variants (lists of structures "are within normal
limits", "XXXX" de-identification gaps, "No ... or ..." lists), and findings with sizes,
sides, lobes and hedges. Each finding carries the MeSH term Open-i would index it with, so
``mesh_to_observations`` gives the truth a labeler is judged against. Used by the labeler
accuracy test and by ``benchmarks/labeler_speed.py``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

HEART_NORMAL = (
    "The heart is normal in size.",
    "Heart size is normal.",
    "The cardiomediastinal silhouette is within normal limits for size and contour.",
    "Heart size and pulmonary vascularity appear within normal limits.",
    "The heart size and pulmonary vascularity appear within normal limits.",
    "Heart size and pulmonary vascular engorgement appear within limits of normal.",
    "Heart size, mediastinal contour, and pulmonary vascularity are within normal limits.",
    "The cardiomediastinal contours, lungs, pleura, and bony structures are normal.",
    "Cardiac and mediastinal contours are within normal limits.",
    "The cardiac silhouette and mediastinum size are within normal limits.",
    "Normal heart size and mediastinal contours.",
    "The heart, pulmonary XXXX and mediastinum are within normal limits.",
    "The cardiomediastinal silhouette and pulmonary vasculature are within normal limits in size.",
    "Heart size normal.",
    "Cardiomediastinal silhouette is normal in size and contour.",
    "The cardiac contours are normal.",
    "The heart and mediastinum are unremarkable.",
    "Heart size and mediastinal contours are normal in appearance.",
    "The cardiomediastinal silhouette is stable and within normal limits.",
    "Cardiac silhouette and mediastinal contours are unremarkable.",
    "The heart and pulmonary XXXX are normal.",
    "Normal cardiomediastinal silhouette.",
    "The cardiac silhouette is normal in size and configuration.",
    "Heart size, mediastinal contour, and pulmonary vasculature are normal.",
    "The mediastinal contour and heart size are within normal limits.",
    "The heart is not enlarged.",
    "No evidence of cardiomegaly.",
    "Heart size is within normal limits.",
    "The cardiac silhouette is upper limits of normal in size.",
    "Normal heart size, mediastinal contours, and pulmonary vascularity.",
    "Cardiomediastinal silhouette and pulmonary vasculature are stable and within normal limits.",
    "Heart and mediastinum within normal limits.",
    "Heart size and mediastinal contour are normal, pulmonary vascularity is normal.",
)
LUNG_NORMAL = (
    "The lungs are clear.",
    "Lungs are clear bilaterally.",
    "The lungs are clear without focal consolidation, pneumothorax, or pleural effusion.",
    "There is no focal airspace consolidation, pleural effusion or pneumothorax.",
    "No pneumothorax or pleural effusion is seen.",
    "There is no pneumothorax or pleural effusion.",
    "No focal consolidation, suspicious pulmonary opacity, large pleural effusion, or "
    "pneumothorax is identified.",
    "There are no XXXX of a pleural effusion.",
    "No focal airspace disease.",
    "The lungs are free of focal airspace disease.",
    "No pleural effusion or pneumothorax.",
    "There is no pulmonary edema.",
    "The pulmonary XXXX are normal.",
    "Pulmonary vasculature is normal.",
    "Clear lungs.",
    "The lungs are well expanded and clear.",
    "No focal infiltrate, effusion, or pneumothorax.",
    "Lungs are clear without evidence of pneumonia, edema or effusion.",
    "There is no evidence of pneumothorax.",
    "No large pleural effusion, pneumothorax, or focal airspace disease.",
    "The lungs and pleural spaces are clear.",
    "The lungs, pleura, and mediastinum are unremarkable.",
    "Pleural spaces are clear.",
    "There is no focal consolidation.",
    "No evidence of consolidation, pneumothorax, or effusion.",
    "The lungs are clear, without evidence of infiltrate, effusion, or pneumothorax.",
    "There is no evidence of focal airspace disease, pleural effusion, or pneumothorax to suggest "
    "pneumonia.",
    "Negative for acute infiltrate.",
    "No XXXX pleural effusions or pneumothoraces.",
    "No focal alveolar consolidation, no definite pleural effusion seen.",
    "No typical findings of pulmonary edema.",
    "No focal opacity to suggest pneumonia.",
    "Lungs are clear with no focal consolidation or effusion.",
    "The previously seen right lower lobe opacity has resolved.",
    "No pneumothorax, pleural effusion, or airspace consolidation.",
    "No edema or consolidation.",
)
BONE_NORMAL = (
    "The visualized osseous structures of the thorax are without acute abnormality.",
    "No acute bony abnormalities.",
    "Osseous structures are intact.",
    "The osseous structures are within normal limits.",
    "No displaced rib fractures.",
    "Visualized osseous structures are unremarkable.",
    "Bony structures are intact.",
    "The XXXX are intact.",
    "No acute osseous abnormality.",
    "There are no acute bony findings.",
    "The soft tissues and bony structures are unremarkable.",
    "No acute fracture is identified.",
)
IMPRESSION_NORMAL = (
    "No acute cardiopulmonary abnormality.",
    "No acute cardiopulmonary disease.",
    "Normal chest x-XXXX.",
    "No active disease.",
    "No acute cardiopulmonary process.",
    "Negative chest.",
    "No evidence of active disease.",
    "Normal chest.",
    "No acute radiographic cardiopulmonary process.",
    "No acute pulmonary findings.",
    "No acute intrathoracic abnormality.",
    "Negative chest x-XXXX.",
    "No radiographic evidence of acute cardiopulmonary disease.",
    "Normal chest radiograph.",
)

SIDES = ("right", "left")
LOBES = ("upper", "middle", "lower")
SIZES = ("small", "tiny", "moderate", "trace")
AMOUNTS = ("mild", "minimal", "moderate", "slight")

#: finding name -> (sentence templates, MeSH term template, impression templates).
FINDINGS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "cardiomegaly": (
        (
            "The heart is enlarged.",
            "{amount} cardiomegaly.",
            "Cardiomegaly is present.",
            "There is {amount} enlargement of the cardiac silhouette.",
            "Heart size is {amount}ly enlarged.",
            "The cardiac silhouette is enlarged.",
            "Stable {amount} cardiomegaly.",
            "The heart size is at the upper limits of normal to mildly enlarged.",
            "Cardiac silhouette is enlarged, unchanged from prior.",
        ),
        "Cardiomegaly/{amount}",
        ("Cardiomegaly without acute pulmonary disease.", "{amount} cardiomegaly."),
    ),
    "effusion": (
        (
            "{size} {side} pleural effusion.",
            "There is a {size} {side} pleural effusion.",
            "Blunting of the {side} costophrenic angle consistent with {size} effusion.",
            "Bilateral {size} pleural effusions.",
            "{size} {side} effusion is present.",
            "{side} costophrenic XXXX blunting, likely small pleural effusion.",
            "Persistent {size} {side} pleural effusion.",
        ),
        "Pleural Effusion/{side}/{size}",
        ("{size} {side} pleural effusion.", "{side} pleural effusion."),
    ),
    "atelectasis": (
        (
            "Streaky opacities in the {side} lung base compatible with atelectasis.",
            "{amount} bibasilar atelectasis.",
            "{side} basilar subsegmental atelectasis.",
            "There is {amount} atelectasis in the {side} base.",
            "Platelike atelectasis in the {side} midlung zone.",
            "Streaky {side} basilar opacities likely represent atelectasis or scarring.",
            "Subsegmental atelectasis is seen at the {side} base.",
        ),
        "Pulmonary Atelectasis/base/{side}",
        ("{side} basilar atelectasis.", "Bibasilar atelectasis."),
    ),
    "opacity": (
        (
            "There is a patchy opacity in the {side} {lobe} lobe.",
            "Patchy airspace disease in the {side} {lobe} lobe.",
            "Hazy opacity at the {side} lung base.",
            "Interstitial opacities in the {side} {lobe} lobe.",
            "Ill-defined {side} {lobe} lobe airspace opacity.",
            "Increased opacity is noted in the {side} {lobe} lobe.",
        ),
        "Opacity/lung/{lobe} lobe/{side}/patchy",
        ("{side} {lobe} lobe opacity.", "Airspace disease in the {side} {lobe} lobe."),
    ),
    "pneumonia": (
        (
            "Focal consolidation in the {side} {lobe} lobe, concerning for pneumonia.",
            "{side} {lobe} lobe airspace consolidation consistent with pneumonia.",
            "Dense consolidation of the {side} {lobe} lobe, compatible with pneumonia.",
        ),
        "Consolidation/lung/{lobe} lobe/{side};Pneumonia/{lobe} lobe/{side}",
        ("{side} {lobe} lobe pneumonia.", "Findings consistent with pneumonia."),
    ),
    "nodule": (
        (
            "There is a {mm} mm nodule in the {side} {lobe} lobe.",
            "Nodular density in the {side} midlung.",
            "A {mm} mm noncalcified nodule projects over the {side} lung base.",
            "{side} {lobe} lobe pulmonary nodule measuring {mm} mm.",
        ),
        "Nodule/lung/{lobe} lobe/{side}",
        ("{side} lung nodule; CT recommended.", "Pulmonary nodule."),
    ),
    "edema": (
        (
            "Diffuse interstitial edema.",
            "Pulmonary vascular congestion and interstitial edema.",
            "There is {amount} pulmonary edema.",
            "Bilateral perihilar edema.",
        ),
        "Pulmonary Edema/{amount}",
        ("Pulmonary edema.", "{amount} interstitial edema."),
    ),
    "pneumothorax": (
        (
            "There is a {size} {side} apical pneumothorax.",
            "{size} {side} pneumothorax.",
            "A {size} {side}-sided pneumothorax is present.",
        ),
        "Pneumothorax/{side}/{size}",
        ("{size} {side} pneumothorax.", "{side} pneumothorax."),
    ),
    "fracture": (
        (
            "Healed {side} rib fractures.",
            "There is an old healed fracture of the {side} clavicle.",
            "Old {side} posterior rib fractures.",
            "Acute fracture of the {side} {ordinal} rib.",
        ),
        "Fractures, Bone/ribs/{side}/healed",
        ("{side} rib fractures.", "Healed fractures."),
    ),
    "granuloma": (
        (
            "Calcified granuloma in the {side} {lobe} lobe.",
            "There are calcified granulomas in the {side} lung.",
            "Stable calcified {side} hilar lymph XXXX.",
        ),
        "Calcified Granuloma/lung/{lobe} lobe/{side}",
        ("Old granulomatous disease.",),
    ),
    "degenerative": (
        (
            "Degenerative changes of the thoracic spine.",
            "There are {amount} degenerative changes in the thoracic spine.",
            "Mild degenerative disc disease of the thoracic spine.",
        ),
        "Thoracic Vertebrae/degenerative/{amount}",
        (),
    ),
    "hernia": (
        ("Large hiatal hernia.", "There is a moderate-sized hiatal hernia."),
        "Hernia, Hiatal/large",
        ("Hiatal hernia.",),
    ),
    "aorta": (
        ("The thoracic aorta is tortuous.", "Tortuous and calcified aorta."),
        "Aorta, Thoracic/tortuous",
        (),
    ),
    "emphysema": (
        ("Hyperexpanded lungs consistent with emphysema.", "Emphysematous changes."),
        "Pulmonary Emphysema",
        ("Emphysema.", "COPD."),
    ),
}


@dataclass(frozen=True)
class CorpusReport:
    """One generated report: sections, full text and its MeSH terms (``;``-joined)."""

    uid: str
    findings: str
    impression: str
    mesh: str

    @property
    def text(self) -> str:
        """The report as the labeler reads it (findings then impression)."""
        return f"FINDINGS: {self.findings}\nIMPRESSION: {self.impression}"


def _fill(template: str, rng: random.Random) -> str:
    """Fill a template's slots at random and capitalise the first letter."""
    out = template.format(
        side=rng.choice(SIDES),
        lobe=rng.choice(LOBES),
        size=rng.choice(SIZES),
        amount=rng.choice(AMOUNTS),
        mm=rng.randint(4, 25),
        ordinal=rng.choice(("fifth", "sixth", "seventh", "8th")),
    )
    return out[0].upper() + out[1:]


def make_report(uid: str, rng: random.Random, abnormal: float = 0.4) -> CorpusReport:
    """One IU-style report: normal (MeSH "normal") or with one to three findings."""
    names = []
    if rng.random() < abnormal:
        names = rng.sample(sorted(FINDINGS), k=rng.choice((1, 1, 1, 2, 2, 3)))
    sentences: list[str] = []
    mesh: list[str] = []
    impressions: list[str] = []
    for name in names:
        templates, term, imps = FINDINGS[name]
        sentences.append(_fill(rng.choice(templates), rng))
        mesh.extend(_fill(term, rng).split(";"))
        if imps and rng.random() < 0.7:
            impressions.append(_fill(rng.choice(imps), rng))
    if "cardiomegaly" not in names:
        sentences.insert(0, rng.choice(HEART_NORMAL))
    lung = {"effusion", "pneumothorax", "pneumonia", "opacity", "edema", "atelectasis", "nodule"}
    if not lung & set(names) and rng.random() < 0.9:
        sentences.append(rng.choice(LUNG_NORMAL))
    if "fracture" not in names and rng.random() < 0.7:
        sentences.append(rng.choice(BONE_NORMAL))
    head, rest = sentences[:1], sentences[1:]
    rng.shuffle(rest)
    sentences = head + rest
    if not impressions:
        impressions.append(rng.choice(IMPRESSION_NORMAL) if not names else "No acute disease.")
    return CorpusReport(uid, " ".join(sentences), " ".join(impressions), ";".join(mesh) or "normal")


def make_corpus(n: int, seed: int = 0, abnormal: float = 0.4) -> list[CorpusReport]:
    """``n`` reports from one seed (same seed, same corpus)."""
    rng = random.Random(seed)
    return [make_report(str(i + 1), rng, abnormal) for i in range(n)]


# --------------------------------------------------------------------------------------
# Archive-like and varied corpora (speed benchmark and the optimisation's golden test).
# --------------------------------------------------------------------------------------

INDICATIONS = (
    "Cough.",
    "Shortness of breath.",
    "___-year-old man with fever.",
    "Chest pain.",
    "Evaluate for pneumonia.",
    "Preop.",
    "History of CHF, now with dyspnea.",
)
TECHNIQUES = ("PA and lateral views of the chest.", "Portable AP chest radiograph.",
              "Frontal and lateral chest radiographs.")  # fmt: skip


def make_archive_reports(n: int, seed: int) -> list[str]:
    """``n`` distinct reports, half IU-like (~40 words) and half MIMIC-like (~90 words).

    MIMIC-like reports carry EXAMINATION / INDICATION / TECHNIQUE / COMPARISON headers and
    the findings of two studies; sentences repeat across reports as in real archives.
    """
    rng = random.Random(seed)
    corpus = make_corpus(n + n // 2, seed=seed)
    out: list[str] = []
    for i in range(n):
        r = corpus[i]
        if i % 2:
            other = corpus[n + i // 2]
            out.append(
                "FINAL REPORT\nEXAMINATION: CHEST (PA AND LAT)\n"
                f"INDICATION: {rng.choice(INDICATIONS)}\nTECHNIQUE: {rng.choice(TECHNIQUES)}\n"
                f"COMPARISON: Chest radiograph from ___ ({rng.randint(1, 999)} days prior).\n"
                f"FINDINGS: {r.findings} {other.findings}\nIMPRESSION: {r.impression}"
            )
        else:
            out.append(f"FINDINGS: {r.findings}\nIMPRESSION: {r.impression} (ref {i})")
    return out


def unique_sentences(reports: list[str]) -> list[str]:
    """The reports with a distinct series number before every ". " (the golden corpus's form).

    Sentences at the end of a line keep their text; :func:`distinct_sentences` marks those
    too.
    """
    counter = iter(range(10**9))
    return [r.replace(". ", lambda_token(counter)) for r in reports]


_SENTENCE_END = re.compile(r"(?<=\S)([.?!])(?=\s|$)")


def distinct_sentences(reports: list[str]) -> list[str]:
    """The reports with a distinct series number in every sentence: no sentence repeats."""
    counter = iter(range(10**9))
    return [
        _SENTENCE_END.sub(lambda m: f" (series {next(counter)}){m.group(1)}", r) for r in reports
    ]


def lambda_token(counter: object) -> str:
    """A sentence end carrying a fresh series/image number."""
    return f" (series {next(counter)}). "  # type: ignore[call-overload]


#: Hedged, negated, resolved and reworded forms radiologists write around a finding phrase.
VARIANTS = (
    "{f}", "No {f}.", "Possible {f}.", "Cannot exclude {f}.", "{f} cannot be excluded.",
    "No new {f}.", "Resolved {f}.", "Partially resolved {f}.", "{f} has resolved.",
    "Interval resolution of {f}.", "Stable {f}.", "{f} is unchanged.", "Likely {f}.",
    "Findings may represent {f} or scarring.", "{f} versus atelectasis.", "History of {f}.",
    "Rule out {f}.", "Without {f}.", "{f}, however no pneumothorax.", "No {f}; stable heart.",
    "Questionable {f} at the left base.", "{f} is not excluded.", "Suspicious for {f}.",
    "Negative for {f}.", "{f} and/or edema.", "{f}/consolidation.", "No definite {f}..",
    "{f} is no longer seen.", "Unchanged {f} with interval resolution of effusion.",
    "No evidence of {f} to suggest pneumonia.", "{f}, which is new.", "Clear of {f}.",
)  # fmt: skip
FINDING_PHRASES = (
    "pleural effusion", "small left effusion", "pneumothorax", "cardiomegaly", "atelectasis",
    "right lower lobe pneumonia", "patchy opacity", "consolidation", "pulmonary edema",
    "vascular congestion", "a 7 mm nodule", "calcified nodule", "noncalcified nodule",
    "rib fracture", "the heart size", "cardiomediastinal silhouette", "mediastinal contour",
    "right PICC line", "endotracheal tube", "pacemaker leads over the heart", "hiatal hernia",
    "emphysema", "pericardial effusion", "pleural thickening", "interstitial markings",
    "congestive heart failure", "mass", "infiltrate", "granuloma", "degenerative changes",
)  # fmt: skip


def make_varied_reports(n: int, seed: int) -> list[str]:
    """``n`` reports mixing every sentence pool with hedged and negated finding phrases.

    Written to reach every rule of the labeler (the pools alone are mostly normal), with
    the cleaning's cases too: upper case, ``and/or``, slashes, ``..``, line breaks.
    """
    rng = random.Random(seed)
    pools = (HEART_NORMAL, LUNG_NORMAL, BONE_NORMAL, IMPRESSION_NORMAL)
    templates = [t for spec in FINDINGS.values() for t in (*spec[0], *spec[2])]
    out = []
    for i in range(n):
        parts = [rng.choice(rng.choice(pools)) for _ in range(rng.randint(0, 4))]
        parts += [_fill(rng.choice(templates), rng) for _ in range(rng.randint(0, 2))]
        for _ in range(rng.randint(0, 3)):
            phrase = rng.choice(VARIANTS).format(f=rng.choice(FINDING_PHRASES))
            parts.append(phrase[0].upper() + phrase[1:])
        rng.shuffle(parts)
        text = rng.choice((" ", "  ", "\n")).join(parts)
        if rng.random() < 0.1:
            text = text.upper()
        out.append(f"{text} [{i}]")
    return out
