"""The one vocabulary of negation, uncertainty, refusal and "cannot determine" cues.

Every reader of free text uses these lists: the classification reader (negation scope,
differentials, refusals), the shared answer helpers (refusals of every task), the spatial
statements and the CheXpert labeler's rules (which extend them with the CheXpert-specific
cues they need). A cue is a regular-expression fragment over lower- or mixed-case text;
patterns built from them are compiled case-insensitively by their users unless stated.

Layer 1: this module is pure vocabulary and imports nothing from medmine.
"""

from __future__ import annotations

import re
from typing import Final

#: "exclude"/"rule out" verbs (the CheXpert rules use this exact fragment).
EXCLUDE_VERB: Final = r"(?:exclud(?:e|es|ed)|rul(?:e|es|ed) out)"

#: "cannot"-family words that turn a following "exclude" into uncertainty, not negation.
CANNOT: Final = r"(?:cannot|can not|can't|could not|not)"

#: "without X" (the CheXpert rules use this exact cue).
WITHOUT: Final = r"\bwithout\b"

#: Negation cues that come before the finding they negate, with a reach of several words
#: ("no X", "without X", "negative for X", "no evidence of X", "unlikely to be X").
NEGATION_BEFORE_WIDE: Final[tuple[str, ...]] = (
    r"\bno\b(?!\s+(?:doubt|question)\b)(?!\s*[,;:!—–])",
    WITHOUT,
    r"\bnegative\s+for\b",
    r"\b(?:free|absence|absent)\s+of\b",
    r"\b(?:rules?|ruled|ruling)\s+out\b",
    r"\bexclud(?:e|es|ed|ing)\b",
    r"\bunlikely\b",
    r"\brather\s+than\b",
    r"\binstead\s+of\b",
    r"\bnor\b",
    r"\bnon[-\s]?$",
)
#: "not" reaches only a few words and never across a comma ("this is not X", "not X").
NEGATION_BEFORE_CLOSE: Final[tuple[str, ...]] = (
    r"\bnot\b(?!\s+(?:only|excluded|be\s+excluded|ruled\s+out|be\s+ruled\s+out)\b)",
    r"\b(?:doesn't|does\s+not|don't|do\s+not|isn't|aren't|wasn't|cannot\s+be|can't\s+be)\b",
    r"\bover\s+(?:an?|the)\b",
)
#: Negation stated after the finding: "X is not present", "X is absent", "X ruled out".
NEGATION_AFTER: Final[tuple[str, ...]] = (
    r"^\s*(?:(?:is|are|was|were|has\s+been|have\s+been|seems?|appears?|looks?|remains?)\s+)+"
    r"(?:(?:also|definitely|clearly|very|quite|highly|much)\s+)*"
    r"(?:not\b(?!\s+(?:excluded|ruled\s+out|be\s+excluded|only)\b)|unlikely|absent|less\s+likely"
    r"|ruled\s+out|excluded)",
    r"^\s*(?:not\s+(?:seen|present|evident|identified|detected|visible|demonstrated|apparent"
    r"|suggested|favou?red|likely|supported|found)|unlikely|absent|ruled\s+out|excluded"
    r"|less\s+likely)\b",
    r"^\s*[:=\-|]\s*(?:(?:negative|no|absent|not\s+present|none|false)\b|[❌✗✘])",
)
#: "X cannot be excluded": uncertainty that keeps X on the table (not a negation).
NOT_EXCLUDED: Final = (
    rf"(?:\b{CANNOT}|\bcan’t|\b(?:impossible|not\s+possible|difficult|hard|unable)\s+to)"
    rf"\s+(?:be\s+)?(?:\w+ly\s+)?{EXCLUDE_VERB}"
)

#: Words that end a negation's reach inside a sentence.
SCOPE_TERMINATORS: Final = (
    r"\b(?:but|however|although|though|whereas|while|except|yet|instead|rather\s+it)\b"
    r"|[;:]|\s[–—-]\s|,\s*(?:and|which|so)\b|\band\s+(?:there|the|a|an|this|it|is|are)\b"
)
#: Finite verbs that close a negation's reach ("absence of atypia favours nevus"); an
#: infinitive does not ("no consolidation to suggest pneumonia").
VERB_STOP: Final = (
    r"\b(?:is|are|was|were|favou?rs|favou?red|suggests|suggested|indicates|indicated|shows"
    r"|supports|points|makes|confirms|means|fits|leaves|represents)\b"
)
#: Statements that the whole study is normal, read as the "normal" label of a set that has one.
NORMAL_STATEMENT: Final = (
    r"\bno\s+(?:acute\s+)?(?:\w+\s+)?(?:abnormalit(?:y|ies)|findings?|disease|pathology"
    r"|process)\b"
    r"|\bunremarkable\b|\bhealthy\b"
    r"|\b(?:lungs|lung\s+fields)\s+(?:are|appear|look|remain)\s+(?:\w+\s+)?clear\b"
)

#: Doubt stated after a finding: it stays on the table but is not given as the answer
#: ("glaucoma cannot be excluded", "melanoma is also possible", "glaucoma suspect").
DOUBT_AFTER: Final[tuple[str, ...]] = (
    r"^\W*(?:(?:is|are|was)\s+)?(?:still\s+|also\s+)?"
    rf"{CANNOT}\s+(?:be\s+)?(?:\w+ly\s+)?(?:excluded|ruled\s+out)",
    r"^\W*(?:is|are|remains?)\s+(?:still\s+|also\s+)?(?:possible|a\s+possibility|not\s+excluded"
    r"|a\s+consideration|in\s+the\s+differential)\b",
    r"^\s+suspect\b",
)

#: Doubt stated before a finding: "possible X", "possibly early X", "?X", "questionable X".
#: Outside a stated final answer such a finding is not given as the answer.
DOUBT_BEFORE: Final = (
    r"(?:\bpossibl[ey]\b(?:\s+that)?|\bquestionable\b|\bquery\b|(?:^|\s)\?)"
    r"\s*(?:[\w'-]+\s+){0,3}$"
)

#: A label passed over in a stated preference: "favour X over Y", "X rather than Y",
#: "X more likely than Y". The cue ends right before the passed-over name (a few words
#: may sit between). "over" counts only in a clause that states a preference, a bare
#: "than" only after a comparative ("more likely melanoma than nevus").
PASSED_OVER: Final = (
    r"(?:\b(?:rather\s+than|instead\s+of|more\s+(?:likely|consistent|compatible|suggestive)"
    r"(?:\s+with\s+[\w-]+)?\s+than|better\s+than|in\s+preference\s+to)"
    r"|(?<=\s)over|(?<=\s)than)\s+(?:an?\s+|the\s+)?(?:[\w-]+\s+){0,2}$"
)
#: "X is less likely than Y": Y is the one preferred.
PREFERRED_AFTER: Final = (
    r"\b(?:less\s+likely|less\s+probable|less\s+consistent\s+with\s+[\w-]+)\s+than\s+"
    r"(?:an?\s+|the\s+)?(?:[\w-]+\s+){0,2}$"
)
PREFERENCE: Final = r"\b(?:favou?r|prefer|lean|choose|pick|opt|go\s+with|more\s+likely)"
#: What makes a "than" in PASSED_OVER a preference ("more likely X than Y").
COMPARATIVE: Final = r"\b(?:more|rather|better|higher|greater)\b"

#: Hedges: the finding is offered with doubt but still offered ("possible X", "likely X").
UNCERTAINTY: Final[tuple[str, ...]] = (
    "possible",
    "possibly",
    "probable",
    "probably",
    "likely",
    "suspicious for",
    "suspected",
    "suggestive of",
    "consistent with",
    "compatible with",
    "may represent",
    "could represent",
    "cannot be excluded",
    "questionable",
)

#: Differential markers: names in such a clause are alternatives, not the stated answer.
DIFFERENTIAL: Final[tuple[str, ...]] = (
    r"\bdifferentials?\b",
    r"\bddx\b",
    r"\b(?:also|should)\s+(?:consider|be\s+considered)\b",
    r"\bconsiderations?\s+include\b",
    r"\balternatives?\b",
    r"\bless\s+likely\b",
    r"\bcannot\s+(?:completely\s+|entirely\s+|fully\s+)?(?:exclude|rule\s+out)\b",
    r"\bto\s+rule\s+out\b",
    r"\bmimic",
    r"\bif\s+(?:this|it|the\s+\w+)\s+(?:were|was|is)\b",
)
#: Words joining alternatives: "X or Y", "X vs Y", "X/Y".
ALTERNATIVE: Final = r"\b(?:or|versus|vs\.?)\b|/"

#: The gap between two names that are offered as alternatives in a longer form ("could be
#: X or it could be Y", "X versus, on balance, Y").
OR_AGAIN: Final = r"^\W*(?:either\s+)?(?:or|versus|vs\.?)\b[^.;!?]*$"
#: A hedge that leans to the finding named right after it ("likely X", "probably X", "most
#: consistent with X"): the finding is the stated answer even if another stays open.
LEANING: Final = (
    r"\b(?:likely|probably|probable|(?:most\s+)?(?:consistent|compatible)\s+with"
    r"|in\s+keeping\s+with|suggestive\s+of)\s+(?:[\w'-]+\s+){0,3}$"
)
#: An open possibility ("it could be X", "might also be X"): two different findings each
#: offered so, with no stated answer, are alternatives even in separate sentences.
POSSIBILITY: Final = (
    r"\b(?:could|might|may)\s+(?:also\s+|alternatively\s+|just\s+|simply\s+|well\s+)?"
    r"(?:be|represent|reflect|indicate)\s+(?:[\w'-]+\s+){0,3}$"
)
#: The same lean stated after the finding ("X is likely", "X seems most probable").
LEANING_AFTER: Final = (
    r"^\W*(?:is|are|seems?|appears?)\s+(?:most\s+|more\s+|very\s+|quite\s+|highly\s+)?"
    r"(?:likely|probable)\b(?!\s+than)"
)
#: Sending the user to a clinician ("please see a dermatologist"). Beside a "cannot tell
#: you" (DECLINE_TO_TELL) with no label stated, the answer withholds an opinion: a refusal;
#: beside "I can't determine if ..." the model tried and could not decide: unparseable.
DECLINE_TO_TELL: Final = (
    r"\b(?:cannot|can\s*not|can't|can’t|unable\s+to|not\s+able\s+to|won't|will\s+not)\s+"
    r"(?:tell|say\s+to|confirm\s+(?:for|to))\s+you\b"
)
REDIRECT: Final = (
    r"\b(?:please\s+)?(?:see|consult|visit|contact|speak\s+(?:to|with)|ask|seek)\s+(?:a|an|your)"
    r"\s+(?:qualified\s+|board-certified\s+)?(?:\w+\s+)?(?:doctor|physician|dermatologist"
    r"|radiologist|ophthalmologist|gastroenterologist|clinician|specialist|professional|provider"
    r"|gp|optometrist)\b"
    r"|\bshould\s+be\s+(?:reviewed|evaluated|examined|assessed|seen)\s+by\s+(?:a|an|your)\b"
)

#: A stated final or most-likely answer; it wins over a differential and over disclaimers.
FINAL_ANSWER: Final[tuple[str, ...]] = (
    r"\bfinal\s+(?:answer|diagnosis|classification|label|impression|call)\b|\bfinal\s*[:=]",
    r"(?<!differential )\b(?:answer|diagnosis|classification|label|category|impression"
    r"|conclusion|prediction|grade|class)\s*(?:is\s*)?[:=]",
    r"\b(?:answer|classification|prediction)\s+is\b",
    r"\bmost\s+(?:likely|probable|consistent\s+with|compatible\s+with|suggestive\s+of)\b",
    r"\b(?:best|top)\s+(?:answer|fit|guess|match|diagnosis)\b",
    r"\b(?:i\s+would|i'd|i\s+will|i'll|i\s+am|i'm|i)\s+(?:classify|categori[sz]e|label|grade|call"
    r"|say|go(?:ing)?\s+with|choose|choosing|pick|picking|select|opt(?:ing)?\s+for"
    r"|settle\s+on|lean(?:ing)?\s+(?:towards?|to))\b",
    r"\b(?:pick|choice|verdict|bottom\s+line|output|selected\s+label|selection|decision"
    r"|my\s+call|call)\s*(?:is\s*)?[:=]",
    r"\banswer\s+(?:would|will|should)\s+be\b",
    r"→|⇒",
    r"\b(?:ultimately|in\s+the\s+end|all\s+in\s+all|on\s+balance)\b",
    r"\bclassified\s+as\b",
    r"\bfavou?r(?:s|ed|ing)?\b",
    r"\bin\s+(?:conclusion|summary)\b",
    r"\boverall\b",
    r"\btherefore\b",
    r"\bthus\b",
)

#: The model declines the task ("I cannot provide a diagnosis", "As an AI ...").
REFUSAL: Final[tuple[str, ...]] = (
    r"\bi\s*(?:am|'m|’m)\s*(?:not\s+able|unable)\s+to\s+(?:provide|give|make|offer|diagnose"
    r"|analy[sz]e|interpret|help|assist|identify|classify|answer|read|review|assess|evaluate"
    r"|locate|determine|grade|categori[sz]e|label|comment)",
    r"\bi\s*(?:can(?:'|’|no)t|cannot|can\s+not|won't|will\s+not)\s+(?:provide|give|make|offer"
    r"|diagnose|analy[sz]e|interpret|help|assist|identify|classify|answer|read|review|assess"
    r"|evaluate|locate|determine|grade|categori[sz]e|label|comment)",
    r"\bas\s+an\s+ai\b",
    r"\bi\s*(?:am|'m|’m)\s+(?:just\s+|only\s+)?an?\s+ai\b",
    r"\b(?:cannot|can't|can’t|can\s+not|unable\s+to|not\s+able\s+to)\s+(?:make|provide|give|offer"
    r"|render)\s+(?:a\s+|any\s+)?(?:medical\s+|definitive\s+|clinical\s+)?diagnos",
    r"\bnot\s+(?:able|qualified|permitted|authori[sz]ed)\s+to\s+(?:provide|give|offer|diagnose"
    r"|make)",
    r"\bi\s*(?:am|'m|’m)\s+sorry,?\s+but\b",
    r"\bi\s+must\s+decline\b",
    r"\bi\s+apologi[sz]e\b",
    r"^\W*please\s+consult\s+(?:a|your)\s+(?:qualified\s+)?(?:medical|healthcare|health\s+care)"
    r"\s+(?:professional|provider)\W*$",
)

#: The model says the answer cannot be known from what it was given.
CANNOT_DETERMINE: Final[tuple[str, ...]] = (
    r"\b(?:cannot|can\s*not|can't|can’t|could\s+not|couldn't|unable\s+to|not\s+possible\s+to"
    r"|impossible\s+to|not\s+able\s+to)\s+(?:reliably\s+|definitively\s+|confidently\s+"
    r"|accurately\s+)?(?:determine|tell|say|decide|distinguish|differentiate|be\s+determined"
    r"|make\s+a\s+(?:determination|call)|assess\s+whether)",
    r"\b(?:cannot|can\s*not|can't|can’t|unable\s+to|not\s+able\s+to)\s+(?:reliably\s+"
    r"|confidently\s+|accurately\s+)?(?:grade|stage)\s+(?:its|the|their|this)\s+"
    r"(?:severity|grade|stage|level)",
    r"\b(?:indeterminate|inconclusive|undeterminable|non-?diagnostic|equivocal)\b",
    r"\b(?:cannot|can\s*not|can't|can’t|unable\s+to|not\s+able\s+to)\s+(?:grade|stage|classify"
    r"|categori[sz]e|tell|say|determine)\s+(?:it|this|them|the\s+\w+\s+)?\s*(?:any\s+)?more"
    r"\s+(?:precisely|specifically|accurately|exactly|definitively|finely)\b",
    r"\binsufficient\s+(?:information|detail|image\s+quality|quality|resolution)\b",
    r"\b(?:image|picture|quality)\s+is\s+(?:too\s+)?(?:poor|blurry|low)\b",
    r"\bnot\s+enough\s+(?:information|detail)\b",
)


def any_of(patterns: tuple[str, ...] | list[str]) -> str:
    """One alternation of several cue fragments."""
    return "|".join(f"(?:{p})" for p in patterns)


def compile_cues(patterns: tuple[str, ...] | list[str]) -> re.Pattern[str]:
    """A case-insensitive pattern matching any of the cues."""
    return re.compile(any_of(patterns), re.IGNORECASE)


REFUSAL_RE: Final = compile_cues(REFUSAL)
CANNOT_DETERMINE_RE: Final = compile_cues(CANNOT_DETERMINE)
REDIRECT_RE: Final = re.compile(REDIRECT, re.IGNORECASE)
DECLINE_TO_TELL_RE: Final = re.compile(DECLINE_TO_TELL, re.IGNORECASE)


def is_refusal(text: str) -> bool:
    """True when the text declines the task (any refusal cue)."""
    return bool(REFUSAL_RE.search(text))


def says_cannot_determine(text: str) -> bool:
    """True when the text says the answer cannot be determined from the input."""
    return bool(CANNOT_DETERMINE_RE.search(text))
