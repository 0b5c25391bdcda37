"""Answers that give no geometry on purpose: refusals and statements that nothing was found."""

from __future__ import annotations

import re

from medmine import cues

_EMPTY_STATEMENT = re.compile(
    r"\b(?:none|nothing)\s+(?:was\s+|were\s+|is\s+|are\s+)?"
    r"(?:found|detected|seen|visible|identified|present)\b|"
    r"\bno\s+(?!doubt\b|question\b)(?:\w+\s+){0,3}?(?:lesions?|findings?|abnormalit\w+|polyps?|masses|mass|nodules?|"
    r"tumou?rs?|objects?|boxes|regions?|detections?|pathology|anomal\w+)\b|"
    r"\bno\s+(?!doubt\b|question\b)(?:(?!but\b)[\w-]+\s+){1,4}?(?:was\s+|were\s+|is\s+|are\s+)?"
    r"(?:detected|found|seen|visible|identified|present)\b|"
    r"\bthere\s+(?:is|are)\s+no\b(?!\s+(?:doubt|question)\b)|\bnot\s+(?:found|detected|present|visible)\b|"
    r"^\s*(?:(?:final\s+)?answer\s*:\s*)?(?:none|no|nothing|n/?a|null)\s*[.!]?\s*$|"
    r"\bi\s+(?:cannot|can\s*not|can't|can’t|do\s+not|don't|don’t)\s+(?:see|find|identify|detect)"
    r"\s+any\b|"
    r"^\s*[\w ]{1,40}:\s*(?:none|nil|n/?a|0)\s*[.!]?\s*$",
    re.IGNORECASE | re.MULTILINE,
)


# The shared refusal cues, extended with the verbs of spatial tasks ("I cannot localize ...").
_SPATIAL_REFUSAL = re.compile(
    r"\bi\s*(?:can(?:'|’|no)t|cannot|can\s+not|won't|will\s+not|am\s+unable\s+to|'m\s+unable\s+to"
    r"|am\s+not\s+able\s+to|'m\s+not\s+able\s+to)\s+(?:accurately\s+|reliably\s+|precisely\s+)?"
    r"(?:locali[sz]e|segment|draw|outline|detect|mark|annotate|delineate|pinpoint|measure|view"
    r"|see\s+(?:the\s+)?images?|process|access|open)\b(?!\s+any\b)"
    r"|\bas\s+an?\s+(?:large\s+)?language\s+model\b"
    r"|\bi\s+(?:do\s+not|don't|don’t)\s+have\s+(?:the\s+)?(?:ability|capability|means)\s+to\b",
    re.IGNORECASE,
)


# The model looked and could not find or place the finding: "I cannot see a clear polyp",
# "I can't make out the lesion" (not "I cannot see the image", which is no attempt at all).
_CANNOT_SEE = re.compile(
    r"\b(?:cannot|can\s*not|can(?:'|’)t|could\s*n(?:o|'|’)t|unable\s+to|not\s+able\s+to)\s+"
    r"(?:clearly\s+|confidently\s+|reliably\s+|definitely\s+|really\s+)?"
    r"(?:see|find|spot|make\s+out|discern|visuali[sz]e)\s+"
    r"(?!(?:the\s+|this\s+|any\s+|your\s+)?(?:images?|pictures?|photos?|attachments?|files?|scans?)\b)"
    r"(?:a|an|the|any|this|its|where)\b",
    re.IGNORECASE,
)
# "I can't determine its exact location", "cannot tell where the polyp ends": an attempt.
# (Image-quality reasons alone, "I cannot localize it because the image is too blurry", keep
# the refusal reading the verb "localize" gives.)
_CANNOT_DETERMINE = re.compile(
    r"\b(?:cannot|can\s*not|can(?:'|’)t|could\s*n(?:o|'|’)t|unable\s+to|not\s+able\s+to"
    r"|not\s+possible\s+to|impossible\s+to)\s+(?:reliably\s+|definitively\s+|confidently\s+"
    r"|accurately\s+|precisely\s+|exactly\s+)?(?:determine|tell|say|decide|establish|be\s+determined)\b",
    re.IGNORECASE,
)
# Words that send the user elsewhere or decline on principle: these keep a refusal a refusal.
_REDIRECT = re.compile(
    r"\b(?:consult|see|ask|contact|refer\s+to|speak\s+(?:to|with))\s+(?:a|an|your|the)\s+"
    r"(?:\w+\s+){0,2}?(?:radiologist|doctor|physician|clinician|professional|specialist"
    r"|provider|endoscopist|gastroenterologist|dermatologist|ophthalmologist|expert)s?\b"
    r"|\bmedical\s+(?:advice|locali[sz]ations?|diagnos\w+|opinions?)\b"
    r"|\bas\s+an\s+ai\b|\b(?:language\s+model|not\s+(?:qualified|permitted|authori[sz]ed))\b",
    re.IGNORECASE,
)


def cannot_locate(text: str) -> bool:
    """True when the answer tried but could not find or place the finding.

    "I cannot see a clear polyp in this frame", "I can't determine its exact location":
    by medmine's reading rules that is *cannot determine* (``unparseable``), not a refusal,
    unless the answer also declines on principle or sends the user to a professional.
    """
    tried = bool(_CANNOT_DETERMINE.search(text) or _CANNOT_SEE.search(text))
    return tried and not _REDIRECT.search(text)


def is_refusal(text: str) -> bool:
    """True when the answer declines the task (checked only when no geometry was found).

    The cues are medmine's one vocabulary (:mod:`medmine.cues`), shared with every task,
    extended here with the verbs of spatial tasks ("I cannot localize the lesion"). An
    answer that tried and could not locate the finding (:func:`cannot_locate`) is no refusal.
    """
    if cannot_locate(text):
        return False
    return cues.is_refusal(text) or bool(_SPATIAL_REFUSAL.search(text))


def states_nothing_found(text: str) -> bool:
    """True when the answer says there is nothing to report ("No lesion detected")."""
    return bool(_EMPTY_STATEMENT.search(text))
