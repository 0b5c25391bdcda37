"""medmine's additions to the CheXpert rules (off with ``compat=True``: CheXpert's rules exactly).

Real reports state normality and resolution in ways CheXpert's NegBio patterns miss; each
rule below fixes one such family, with the phrasing it was written for:

- **Normality covering a list**: "Heart size, mediastinal contour, and pulmonary vascularity
  are within normal limits", "The cardiomediastinal contours, lungs, pleura, and bony
  structures are normal", "Heart size and pulmonary vascular engorgement appear within
  limits of normal", "heart size and the mediastinal contours are stable and normal". The
  mention may be followed by up to 14 words of a list, then a verb and a normal phrase (or
  the normal phrase ending the clause). The list may not hold a word that states an
  abnormality ("enlarged", "mild", "small", "otherwise" ...), so "Mild cardiomegaly and
  lungs are clear" is not negated.
- **Resolved findings**: "Resolved right pleural effusion", "interval resolved pneumothorax"
  (CheXpert keeps these positive); "partially resolved" stays positive.
- **Unmention fix**: "noncalcified nodule" is a lung lesion (CheXpert's "calcified nodul"
  unmention drops it).
- **Extra mention words** (:data:`EXTRA_MENTIONS`): "interstitial fibrotic changes",
  "fibrosis in the bases" are lung opacities (reticular); "consistent with pneumonitis"
  is how IU X-ray reports often name pneumonia.
- **A structure is not a finding**: CheXpert calls "the heart", "heart size", "the
  mediastinum", "contours" positive (or uncertain when "stable") wherever they occur, so
  "The heart and lungs have XXXX XXXX in the interval", "densities overlying the heart" and
  "The mediastinum is stable" become cardiomegaly / enlarged cardiomediastinum. Here such a
  structure mention counts only when its clause states a size abnormality ("enlarged",
  "prominent", "widened", "increased", "globular", "borderline" ...); otherwise it is not a
  mention at all (neither positive nor negative).
"""

from __future__ import annotations

import re
from typing import Final

from medmine.chexpert.observations import (
    CARDIOMEGALY,
    ENLARGED_CARDIOMEDIASTINUM,
    LUNG_OPACITY,
    PNEUMONIA,
)
from medmine.chexpert.rules import MENTION_PHRASES

#: Words that end a list-normality rule's reach (a new clause or an exception).
STRONG_TERMINATOR: Final = re.compile(
    r"\b(?:but|however|although|though|which|whereas|while|except|aside from|apart from"
    r"|other than|with|without)\b|[;:]"
)

_COPULA = r"(?:is|are|was|were|appears?|appeared|remains?|remained|seems?|looks?)"
_ABNORMAL = (
    r"(?:enlarged|enlargement|large|larger|mild|mildly|moderate|moderately|severe|severely"
    r"|small|increased|decreased|new|otherwise|prominent|widened|abnormal|cardiomegaly"
    r"|effusions?|pneumothorax|opacity|opacities|edema|consolidation|atelectasis)"
)
_NORMAL_PHRASE = (
    r"(?:normal|unremarkable|clear|intact|negative|preserved"
    r"|within (?:the )?(?:normal limits|limits of normal|normal range|range of normal)"
    r"|not (?:\w+ly )?enlarged)"
)
_MODIFIERS = (
    r"(?:(?:now|otherwise|again|also|still|grossly|essentially|overall|all|both|each|stable"
    r"|unchanged|and|in|near|at|the|of|size|appearance|configuration|contour|limits)\s+)*"
)

#: "<mention>[, X, Y and Z] are (stable and) within normal limits".
LIST_NORMAL_AFTER: Final = re.compile(
    rf"^(?:\W+(?!{_COPULA}\b)(?!{_ABNORMAL}\b)[\w-]+){{0,14}}?\W+{_COPULA}\s+{_MODIFIERS}"
    rf"{_NORMAL_PHRASE}\b"
)
#: "<mention>[, X and Y] within normal limits." (no verb, the normal phrase ends the clause).
LIST_NORMAL_END: Final = re.compile(
    rf"^(?:\W+(?!{_COPULA}\b)(?!{_ABNORMAL}\b)[\w-]+){{0,14}}?\W+"
    r"(?:within (?:the )?(?:normal limits|limits of normal)|normal|unremarkable)"
    r"(?: (?:for|in|of|and|size|appearance|contour|configuration|shape|caliber))*\W*$"
)
#: Mention phrases CheXpert lacks (searched only without ``compat``), per observation.
EXTRA_MENTIONS: Final[dict[str, tuple[str, ...]]] = {
    LUNG_OPACITY: ("fibrosis", "fibrotic"),
    PNEUMONIA: ("pneumonitis",),
}
#: "resolved right pleural effusion": "resolved" up to 4 words before the mention.
RESOLVED_BEFORE: Final = re.compile(
    r"(?<!partially )(?<!partly )(?<!nearly )(?<!almost )(?<!incompletely )(?<!not )"
    r"\bresolved\b(?:\W+[\w-]+){0,3}?\W*$"
)
#: A "calcified nodul" unmention inside "noncalcified nodule" / "non-calcified nodule".
NONCALCIFIED: Final = re.compile(r"non-? ?calcified nodul")


#: Mentions that name a structure (a list of structures can be called normal), not a finding.
STRUCTURE: Final = re.compile(
    r"cardiomediastinal|pericardial|mediastin|contour|configuration|silhouette|size|heart|shadow"
)


#: Words that make a structure mention ("heart size") a finding.
SIZE_ABNORMAL: Final = re.compile(
    r"enlarg|\blarge|prominen|widen|increas|cardiomegaly|globular|borderline|dilat|bulg"
    r"|upper limits? of normal|top[- ]normal|big\b"
)


#: Cardiomegaly / Enlarged Cardiomediastinum phrases that name a structure, not a finding.
STRUCTURE_MENTIONS: Final[frozenset[str]] = frozenset(
    p
    for observation in (CARDIOMEGALY, ENLARGED_CARDIOMEDIASTINUM)
    for p in MENTION_PHRASES[observation]
    if not re.search(r"cardiomegaly|enlarge", p)
)


def structure_only(mention: str, left: str, right: str) -> bool:
    """True when a structure mention's clause states no size abnormality (see module doc)."""
    return mention in STRUCTURE_MENTIONS and not SIZE_ABNORMAL.search(f"{left} {right}")


def negated(mention: str, left: str, rest: str) -> bool:
    """True when one of medmine's extra negation rules applies to a mention.

    ``left`` is the mention's clause before it (cut as CheXpert cuts it); ``rest`` is the
    sentence after the mention, for rules that read across "and the" lists. The list rules
    apply to structure mentions only ("heart size", "contours"), never to a finding's name
    ("cardiomegaly and lungs are clear" keeps the cardiomegaly).
    """
    if RESOLVED_BEFORE.search(left):
        return True
    if not STRUCTURE.search(mention):
        return False
    cut = STRONG_TERMINATOR.search(rest)
    tail = rest[: cut.start()] if cut else rest
    return bool(LIST_NORMAL_AFTER.match(tail) or LIST_NORMAL_END.match(tail))
