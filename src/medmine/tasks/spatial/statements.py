"""Answers that give no geometry on purpose: refusals and statements that nothing was found."""

from __future__ import annotations

import re

_REFUSAL = re.compile(
    r"\bI\s*(?:cannot|can\s*not|can't|can’t|am\s+unable|'m\s+unable|’m\s+unable|am\s+not\s+able|"
    r"'m\s+not\s+able|won't|will\s+not|must\s+decline)\b|\bas\s+an\s+AI\b|"
    r"\bunable\s+to\s+(?:provide|assist|help|analy[sz]e|determine|identify|locate)\b|"
    r"\bnot\s+(?:able|qualified|permitted)\s+to\s+(?:provide|give|offer)\b|"
    r"\bconsult\s+(?:a|your)\s+(?:qualified\s+)?(?:medical|healthcare|health\s+care)\b|"
    r"\bI(?:'m|’m|\s+am)\s+sorry\b|\bI\s+apologi[sz]e\b",
    re.IGNORECASE,
)
_EMPTY_STATEMENT = re.compile(
    r"\b(?:none|nothing)\s+(?:was\s+|were\s+|is\s+|are\s+)?"
    r"(?:found|detected|seen|visible|identified|present)\b|"
    r"\bno\s+(?!doubt\b|question\b)(?:\w+\s+){0,3}?(?:lesions?|findings?|abnormalit\w+|polyps?|masses|mass|nodules?|"
    r"tumou?rs?|objects?|boxes|regions?|detections?|pathology|anomal\w+)\b|"
    r"\bno\s+(?!doubt\b|question\b)(?:(?!but\b)[\w-]+\s+){1,4}?(?:was\s+|were\s+|is\s+|are\s+)?"
    r"(?:detected|found|seen|visible|identified|present)\b|"
    r"\bthere\s+(?:is|are)\s+no\b(?!\s+(?:doubt|question)\b)|\bnot\s+(?:found|detected|present|visible)\b|"
    r"^\s*(?:(?:final\s+)?answer\s*:\s*)?(?:none|no|nothing|n/?a)\s*[.!]?\s*$",
    re.IGNORECASE,
)


def is_refusal(text: str) -> bool:
    """True when the answer declines the task (checked only when no geometry was found)."""
    return bool(_REFUSAL.search(text))


def states_nothing_found(text: str) -> bool:
    """True when the answer says there is nothing to report ("No lesion detected")."""
    return bool(_EMPTY_STATEMENT.search(text))
