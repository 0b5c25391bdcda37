"""Radiology report text: section splitting.

``split_sections`` cuts a report at its section headers (``FINDINGS:``, ``Impression:``
...). Headers are recognised at the start of a line: any all-capital header ending in a
colon, and the known headers below in any letter case. Aliases map to one canonical
name (``HISTORY`` and ``REASON FOR EXAM`` -> ``INDICATION``; ``IMPRESSIONS`` ->
``IMPRESSION``); a repeated section is joined with a newline. The MIMIC-CXR banner
``FINAL REPORT`` is dropped; other text before the first header is kept under
``PREAMBLE``. A report with no header at all is returned whole under ``TEXT``: it is
not guessed to be findings, callers decide. De-identification placeholders (``XXXX``,
``___``) are kept verbatim.
"""

from __future__ import annotations

import re

CANONICAL_SECTIONS: tuple[str, ...] = (
    "EXAMINATION",
    "INDICATION",
    "COMPARISON",
    "TECHNIQUE",
    "FINDINGS",
    "IMPRESSION",
)


_ALIASES: dict[str, str] = {
    "EXAMINATION": "EXAMINATION",
    "EXAM": "EXAMINATION",
    "INDICATION": "INDICATION",
    "INDICATIONS": "INDICATION",
    "HISTORY": "INDICATION",
    "CLINICAL HISTORY": "INDICATION",
    "CLINICAL INDICATION": "INDICATION",
    "CLINICAL INFORMATION": "INDICATION",
    "REASON FOR EXAM": "INDICATION",
    "REASON FOR EXAMINATION": "INDICATION",
    "REASON FOR STUDY": "INDICATION",
    "COMPARISON": "COMPARISON",
    "COMPARISONS": "COMPARISON",
    "TECHNIQUE": "TECHNIQUE",
    "FINDINGS": "FINDINGS",
    "FINDING": "FINDINGS",
    "IMPRESSION": "IMPRESSION",
    "IMPRESSIONS": "IMPRESSION",
}


_KNOWN = "|".join(sorted((re.escape(k) for k in _ALIASES), key=len, reverse=True))


_HEADER = re.compile(
    rf"^[ \t]*(?:(?P<known>(?i:{_KNOWN}))|(?P<caps>(?!X+[ \t]*:)[A-Z][A-Z /&()-]*[A-Z)]))[ \t]*:",
    re.MULTILINE,
)


_BANNER = re.compile(r"^\s*FINAL REPORT\s*$", re.MULTILINE)


def _canonical(header: str) -> str:
    """Map a header as written to its canonical section name."""
    name = " ".join(header.upper().split())
    return _ALIASES.get(name, name)


def split_sections(text: str) -> dict[str, str]:
    """Split a report into sections keyed by canonical header name (see the module doc).

    Empty sections are kept as empty strings, so a present-but-blank header can be told
    apart from a missing one. Raises ValueError if ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise ValueError(f"report text must be a str, got {type(text).__name__}")
    body = _BANNER.sub("", text)
    matches = list(_HEADER.finditer(body))
    if not matches:
        stripped = body.strip()
        return {"TEXT": stripped} if stripped else {}
    sections: dict[str, str] = {}
    preamble = body[: matches[0].start()].strip()
    if preamble:
        sections["PREAMBLE"] = preamble
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        name = _canonical(match.group("known") or match.group("caps"))
        end = following.start() if following is not None else len(body)
        content = body[match.end() : end].strip()
        sections[name] = f"{sections[name]}\n{content}".strip() if name in sections else content
    return sections


def join_sections(sections: dict[str, str]) -> str:
    """Write sections back as ``NAME: text`` lines (for layouts that store them apart)."""
    return "\n".join(f"{name}: {value}" for name, value in sections.items() if value)
