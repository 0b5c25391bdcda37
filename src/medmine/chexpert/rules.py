"""Phrase lists and cue patterns for the rule-based CheXpert labeler.

The mention and unmention phrases are the CheXpert labeler's lists
(stanfordmlgroup/chexpert-labeler, ``phrases/mention`` and ``phrases/unmention``):
each phrase is matched as a plain substring of the cleaned, lower-cased report, so
``"atelecta"`` matches "atelectasis" and "atelectatic", and a leading or trailing space
in a phrase (written ``_`` in the original files) is part of the match.

The "No Finding" list holds findings outside the 14 observations (emphysema,
granuloma, ...). Their mentions are classified like any other, and an affirmed or
uncertain one stops "No Finding" from being set; they never produce a label.

CheXpert classifies each mention with NegBio rules over a dependency parse. This
module expresses the same rules as regular expressions over the mention's clause
(see :mod:`medmine.chexpert.labeler` for how the scope is cut): cues that must come
before the mention, cues that must follow it, and the three rule groups in CheXpert's
order (pre-negation uncertainty, negation, post-negation uncertainty).
"""

from __future__ import annotations

import re
from typing import Final

from medmine import cues
from medmine.chexpert.observations import (
    ATELECTASIS,
    CARDIOMEGALY,
    CONSOLIDATION,
    EDEMA,
    ENLARGED_CARDIOMEDIASTINUM,
    FRACTURE,
    LUNG_LESION,
    LUNG_OPACITY,
    NO_FINDING,
    PLEURAL_EFFUSION,
    PLEURAL_OTHER,
    PNEUMONIA,
    PNEUMOTHORAX,
    SUPPORT_DEVICES,
)

# --------------------------------------------------------------------------------------
# Mention phrases (CheXpert lists, "_" already turned into a space).
# --------------------------------------------------------------------------------------

MENTION_PHRASES: Final[dict[str, tuple[str, ...]]] = {
    NO_FINDING: (
        "emphysema", "blunt", "density", "elevation", "eventration", "scoliosis", "degenera",
        "calcifi", "hyperinflation", "bronchospasm", "asthma", "hernia", "copd",
        "interstitial markings", "plaque", "osteophytosis", "aortic disease", "bronchiolitis",
        "airways disease", "thickening", "cephalization", "aspiration", "bullae", "hyperinflat",
        "contusion", "atherosclero", "osteopenia", "metastasis", "granuloma",
        "pneumomediastinum", "pneumoperitoneum", "osteodystrophy", "cuffing",
        "irregular lucency", "inflam", "fissure", "hypertension", "prominen", "kyphosis",
        "defib", "hyperexpansion", "bullet", "reticula", "thoracentesis", "bronchitis",
        "volume loss", "deformity", "hemorrhage", "hematoma", "radiopaque", "aerophagia",
        "arthropathy", "tracheostomy",
    ),
    ENLARGED_CARDIOMEDIASTINUM: (
        " mediastinum", "cardiomediastinum", "contour", "mediastinal configuration",
        "mediastinal silhouette", "pericardial silhouette", "cardiac silhouette and vascularity",
    ),
    CARDIOMEGALY: (
        "cardiomegaly", "the heart", "heart size", "cardiac enlargement", "cardiac size",
        "cardiac shadow", "cardiac contour", "cardiac silhouette", "enlarged heart",
    ),
    LUNG_LESION: (
        "mass", "nodular density", "nodular densities", "nodular opacity", "nodular opacities",
        "nodular opacification", "nodule", "lump", "cavitary lesion", "carcinoma", "neoplasm",
        "tumor",
    ),
    LUNG_OPACITY: (
        "opaci", "decreased translucency", "increased density", "airspace disease",
        "air-space disease", "air space disease", "infiltrate", "infiltration",
        "interstitial marking", "interstitial pattern", "interstitial lung", "reticular pattern",
        "reticular marking", "reticulation", "parenchymal scarring", "peribronchial thickening",
        "wall thickening", "scar",
    ),
    EDEMA: (
        "edema", "heart failure", "chf", "vascular congestion", "pulmonary congestion",
        "indistinctness", "vascular prominence",
    ),
    CONSOLIDATION: ("consolidat",),
    PNEUMONIA: ("pneumonia", "infection", "infectious process", "infectious"),
    ATELECTASIS: ("atelecta", "collapse"),
    PNEUMOTHORAX: ("pneumothorax", "pneumothoraces"),
    PLEURAL_EFFUSION: ("pleural fluid", "effusion"),
    PLEURAL_OTHER: (
        "pleural thickening", "fibrosis", "fibrothorax", "pleural scar", "pleural parenchymal scar",
        "pleuro-parenchymal scar", "pleuro-pericardial scar",
    ),
    FRACTURE: ("fracture",),
    SUPPORT_DEVICES: (
        "pacer", " line ", "lines", "picc", "tube", "valve", "catheter", "pacemaker", "hardware",
        "arthroplast", "marker", "icd", "defib", "device", "drain ", "plate", "screw", "cannula",
        "apparatus", "coil", "support", "equipment", "mediport",
    ),
}  # fmt: skip


def _positional_unmentions() -> tuple[list[str], list[str]]:
    """Build CheXpert's generated unmentions: "over the heart", "in the left mediastinum", ...

    A cardiac phrase right after a positional phrase names a location (a line over the
    heart), not a finding, so CheXpert drops those matches.
    """
    places = [
        first + second
        for first in ("over the", "overly the", "in the")
        for second in ("", " superior", " left", " right")
    ]
    cardio = [
        f"{place} {phrase.replace('the ', '')}"
        for place in places
        for phrase in MENTION_PHRASES[CARDIOMEGALY]
        if phrase not in ("cardiomegaly", "cardiac enlargement")
    ]
    mediastinum = [
        f"{place} {phrase}"
        for place in places
        for phrase in MENTION_PHRASES[ENLARGED_CARDIOMEDIASTINUM]
    ]
    return cardio, mediastinum


_CARDIO_UNMENTIONS, _MEDIASTINUM_UNMENTIONS = _positional_unmentions()

#: Phrases that cancel an overlapping mention of the same observation.
UNMENTION_PHRASES: Final[dict[str, tuple[str, ...]]] = {
    LUNG_LESION: ("calcified nodul", "massive", "massengale"),
    LUNG_OPACITY: ("pleural scar",),
    PLEURAL_EFFUSION: ("pericardial effusion",),
    CARDIOMEGALY: tuple(_CARDIO_UNMENTIONS),
    ENLARGED_CARDIOMEDIASTINUM: tuple(_MEDIASTINUM_UNMENTIONS),
}

#: Mentions that CheXpert always calls uncertain unless negated (Edema's soft signs).
ALWAYS_UNCERTAIN_MENTIONS: Final[frozenset[str]] = frozenset(
    {"vascular congestion", "pulmonary congestion", "indistinctness", "vascular prominence"}
)

#: Edema mentions that, when affirmed or uncertain, also add an uncertain Cardiomegaly.
HEART_FAILURE_MENTIONS: Final[frozenset[str]] = frozenset({"chf", "heart failure"})


def _compile(pattern: str) -> re.Pattern[str]:
    """Compile a cue pattern (all patterns run on lower-cased, cleaned text)."""
    return re.compile(pattern)


# --------------------------------------------------------------------------------------
# Scope.
# --------------------------------------------------------------------------------------

#: Words and marks that end a cue's scope inside a sentence.
SCOPE_TERMINATOR: Final = _compile(
    r"\b(?:but|however|although|though|which|whereas|while|except|aside from|apart from"
    r"|other than|(?<!compatible )(?<!consistent )with)\b"
    r"|[;:]|\band(?= (?:the|there|a|an|is|are|has|have|this|these|that)\b)|,(?= there\b)"
)

#: Verbs that close a negation or uncertainty cue's reach ("no X is seen. Y" / "no X; Y").
VERB_STOP: Final = _compile(r"\b(?:is|are|was|were|has|have|had|remains?|appears?)\b")

# --------------------------------------------------------------------------------------
# Rule group 1: pre-negation uncertainty ("cannot exclude X", "X is not excluded").
# --------------------------------------------------------------------------------------

# Shared cues (medmine.cues, the one vocabulary); the rules below extend them with the
# CheXpert-specific cues, word windows and scope rules.
_EXCLUDE = cues.EXCLUDE_VERB
_CANNOT = cues.CANNOT
PRE_NEG_UNCERTAINTY_BEFORE: Final[tuple[tuple[re.Pattern[str], int], ...]] = (
    (_compile(rf"\b{_CANNOT}\s+(?:be\s+)?(?:\w+ly\s+)?{_EXCLUDE}"), 8),
    (_compile(r"\bno new\b"), 4),
    (_compile(r"\bno evidence to rule out\b"), 8),
)
PRE_NEG_UNCERTAINTY_AFTER: Final = _compile(
    rf"^(?:\W+[\w-]+){{0,6}}?\W+{_CANNOT}\s+(?:be\s+)?"
    rf"(?:\w+ly\s+)?{_EXCLUDE}\b"
)

# --------------------------------------------------------------------------------------
# Rule group 2: negation.
# --------------------------------------------------------------------------------------

#: Generic negation cues before the mention: (pattern, most words between cue and mention).
NEGATION_BEFORE: Final[tuple[tuple[re.Pattern[str], int], ...]] = (
    (
        _compile(
            r"\bno\b(?! (?:significant |interval |substantial |appreciable |definite |other )?"
            r"(?:change|increase|decrease|worsening|progression|improvement|further|longer)\b)"
        ),
        10,
    ),
    (_compile(cues.WITHOUT), 10),
    (_compile(r"\bnegative for\b"), 10),
    (_compile(r"\b(?:free|clear|resolution|removal|disappearance|drainage|history) of\b"), 6),
    (_compile(r"\brul(?:e|es|ed|ing) out\b"), 6),
    (_compile(r"\bexclud(?:e|es|ed|ing)\b"), 6),
    (_compile(r"\brather than\b"), 4),
    (_compile(r"\b(?:removed|cleared)\b"), 3),
)
#: "not" and "normal": only a few words before the mention and never across a comma.
NEGATION_CLOSE_BEFORE: Final[tuple[tuple[re.Pattern[str], int], ...]] = (
    (
        _compile(
            r"\bnot\b(?! (?:only|changed|excluded|be excluded|ruled out|well|clearly|appreciated"
            r"|entirely|completely|enlarged)\b)"
        ),
        3,
    ),
    (_compile(r"\b(?:normal|unremarkable)\b"), 6),
)

_COPULA = r"(?:is|are|was|were|appears?|appeared|remains?|remained|seems?|looks?)"
_NORMAL = (
    r"(?:normal|unremarkable|within normal limits"
    r"|(?:at )?(?:the )?(?:upper|top) (?:limits?|range) of normal"
    r"|not (?:\w+ly )?enlarged|top[- ]normal)"
)
#: "X and Y are normal", "X is within normal limits", "X is not enlarged".
NEGATION_AFTER_NORMAL: Final = _compile(
    rf"^(?:\W+(?!{_COPULA}\b)[\w-]+){{0,6}}?\W+{_COPULA}\s+"
    rf"(?:(?:now|otherwise|again|also|still|grossly|essentially|overall|stable and|upper|in|near"
    rf"|at|the|of)\s+)*"
    rf"{_NORMAL}\b"
)
#: "heart size and pulmonary vascularity within normal limits." (no verb, clause-final).
NEGATION_AFTER_NORMAL_END: Final = _compile(
    rf"^(?:\W+(?!{_COPULA}\b)[\w-]+){{0,6}}?\W+"
    r"(?:within normal limits|normal|unremarkable)"
    r"(?: (?:for|in|of|and|size|appearance|contour|configuration|shape|caliber))*\W*$"
)
#: "heart size normal", "cardiac silhouette within normal limits".
NEGATION_AFTER_DIRECT: Final = _compile(
    rf"^\W*(?:(?:size|now|otherwise|again|grossly|essentially|overall)\s+)*{_NORMAL}\b"
)
#: "X has resolved", "X was removed", "X is no longer seen", "X is not seen", "X is absent".
NEGATION_AFTER_STATE: Final = _compile(
    r"^ ?(?:(?:has|have|had|is|are|was|were|been|now|since|also|completely|nearly|almost"
    r"|entirely|largely)\s+)*"
    r"(?:resolved|cleared|removed|absent|no longer (?:seen|visualized|present|evident|identified"
    r"|appreciated|demonstrated)|not (?:seen|identified|present|visualized|demonstrated|evident))\b"
)
#: "X with interval resolution" (checked on the sentence, across the "with" terminator).
NEGATION_AFTER_RESOLUTION: Final = _compile(
    r"^\W*(?:[\w-]+\W+){0,2}?with (?:interval |complete |near[- ]complete )?resolution\b"
)
#: "no X to suggest / explain Y": the "no" reaches Y through the infinitive.
NEGATION_NO_TO_SUGGEST: Final = _compile(
    r"\b(?:no|without)\b.*\bto (?:suggest|explain|diagnose|indicate)\b(?:\W+[\w-]+){0,4}?\W*$"
)

# --------------------------------------------------------------------------------------
# Rule group 3: post-negation uncertainty.
# --------------------------------------------------------------------------------------

UNCERTAINTY_BEFORE: Final[tuple[tuple[re.Pattern[str], int], ...]] = (
    (
        _compile(
            r"\b(?:possible|possibly|presumably|presumed|probable|questionable|suspect|suspected"
            r"|suspicious|suspicion|questioned|question of|suggestion of|concern|concerning"
            r"|worrisome|favou?r|favou?red|favou?ring|consider|considered|may|might|would|could"
            r"|maybe|versus|vs|differential|secondary to|obscur\w*|correlat\w*"
            r"|(?:is|are|be|been|may|could|would) (?:\w+ )?compatible with"
            r"|less likely|cannot)\b"
        ),
        8,
    ),
    (_compile(r"\bor\b"), 4),
)
UNCERTAINTY_AFTER: Final[tuple[re.Pattern[str], ...]] = (
    _compile(
        r"^\W*(?:(?:is|are|was|were|also|be|been|partially|partly)\s+)*"
        r"(?:suspected|questioned|questionable|possible|obscured|poorly evaluated"
        r"|incompletely evaluated|not well (?:seen|visualized|evaluated)"
        r"|not clearly (?:seen|visualized)|not appreciated)\b"
    ),
    _compile(
        r"^\W*(?:[\w-]+\W+)?(?:may|might|could|can|possibly)\s+(?:also\s+)?"
        r"(?:be present|appear|have this appearance)\b"
    ),
    _compile(r"^\W*(?:[\w-]+\W+){0,2}?(?:or|versus|vs)\b"),
)

#: Words of a cardiac or mediastinal mention that "stable" / "unchanged" makes uncertain.
HEART_WORD: Final = _compile(
    r"cardiomediastinal|pericardial|mediastin|contour|configuration|silhouette|size|heart|shadow"
)
HEART_STABLE_BEFORE: Final = _compile(
    r"\b(?:stable|unchanged|borderline|similar)\s+(?:appearance of\s+)?(?:[\w-]+\s+){0,3}$"
)
HEART_STABLE_AFTER: Final = _compile(
    rf"^(?:\W+(?!{_COPULA}\b)[\w-]+){{0,4}}?\W+(?:{_COPULA}\s+)?"
    r"(?:(?:again|overall|also|grossly|essentially|otherwise|likely)\s+)*"
    r"(?:stable|unchanged|not changed|similar|without change|borderline)\b"
)
