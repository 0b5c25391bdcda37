"""An emulation of CoreNLP 3.4.1's ``PTBLexer`` (the tokenizer pycocoevalcap runs in Java).

A longest-match lexer with JFlex semantics (the longest match wins, counting trailing
context; on a tie the earlier rule wins) over the token classes of ``PTBLexer``. It is the
exact, slow path of :mod:`medmine.metrics.ptb_tokenize`, which documents the behaviour.
"""

from __future__ import annotations

import re
from functools import cache

from medmine.metrics.ptb_patterns import (
    ABBREV1,
    ABBREV2,
    ABBREV3,
    ABBREV4,
    ACRO,
    ACRO_FOLLOW,
    ACRONYM,
    APOS,
    APOWORD,
    APOWORD2,
    CASELESS,
    DATE,
    DBLQUOT,
    DIGIT,
    DOLSIGN,
    DOLSIGN2,
    DOTWORD,
    EMAIL,
    FRAC,
    FRAC2,
    FULLURL,
    HTHING,
    INSENTP,
    LDOTS,
    LETTER,
    LIKELYURL,
    MISCSYMBOL,
    NUMBER,
    PHONE,
    QUOTES,
    REDAUX,
    SGML,
    SMILEY,
    SPACE,
    SPACES,
    SPAMP,
    SPMDASH,
    SPPUNC,
    SREDAUX,
    SUBSUPNUM,
    SWORD,
    TBSPEC,
    TBSPEC2,
    THING,
    THING3,
    THINGA,
    TWITTER,
    WORD,
)

# Actions (what the matched text becomes).
_KEEP = 0  # token = matched text
_SKIP = 1  # whitespace / deleted characters
_SOFT = 2  # remove soft hyphens
_DASH = 3  # "--"
_AMP = 4  # &amp; -> &
_QLEFT = 5  # quotes, probably left
_QRIGHT = 6  # quotes, probably right
_FRAC = 7  # spaces -> U+00A0
_FRAC2 = 8  # vulgar fractions spelled out
_CURR = 9  # currency normalisation
_PHONE = 10
_LRB = 11
_RRB = 12
_LSB = 13
_RSB = 14
_LCB = 15
_RCB = 16
_HYPHENS = 17
_ELLIPSIS = 18
_PUSH3 = 19  # assimilations: keep all but the last 3 characters
_PUSH2 = 20
_ABBREV_SPLIT = 21  # "etc." then lex the period again
_ACRO_SPLIT = 22
_PAREN = 23  # round brackets inside a token -> -LRB- / -RRB-
_LETTER_SPLIT = 24  # "a." before a sentence opener: "a", then the period again

# (pattern, trailing-context pattern or None, action), in PTBLexer rule order.
_RULES: list[tuple[str, str | None, int]] = [
    (CASELESS("cannot") + f"|{APOS}(?i:twas)", None, _PUSH3),
    (f"{APOS}(?i:tis)|" + CASELESS("gonna|gotta|lemme|gimme|wanna"), None, _PUSH2),
    (SGML, None, _FRAC),
    (SPMDASH, None, _DASH),
    (SPAMP, None, _AMP),
    (SPPUNC, None, _KEEP),
    (WORD, REDAUX, _SOFT),
    (SWORD, SREDAUX, _SOFT),
    (WORD, None, _SOFT),
    (APOWORD, None, _KEEP),
    (APOWORD2, LETTER, _KEEP),
    (FULLURL, None, _KEEP),
    (LIKELYURL, None, _KEEP),
    (EMAIL, None, _KEEP),
    (TWITTER, None, _KEEP),
    (DOTWORD, None, _KEEP),
    (REDAUX, "[^A-Za-z]", _QRIGHT),
    (SREDAUX, None, _QRIGHT),
    (DATE, None, _KEEP),
    (NUMBER, None, _SOFT),
    (SUBSUPNUM, None, _KEEP),
    (FRAC, None, _FRAC),
    (FRAC2, None, _FRAC2),
    (TBSPEC, None, _AMP),
    (THING3, None, _KEEP),
    (DOLSIGN, None, _KEEP),
    (DOLSIGN2, None, _CURR),
    (ACRONYM, f"{SPACES}(?:{ACRO_FOLLOW}){SPACE}", _ACRO_SPLIT),
    # One letter and a period before a sentence opener ("a. There is"): 3.4.1 returns the
    # letter alone and lexes the period again (measured against the Java tokenizer).
    ("[A-Za-z]\\.", f"{SPACES}(?:{ACRO_FOLLOW}){SPACE}", _LETTER_SPLIT),
    ("ABBREV1", None, _ABBREV_SPLIT),  # special-cased below
    (ABBREV2, None, _KEEP),
    (ABBREV3, f"{SPACE}?{DIGIT}", _KEEP),
    (ABBREV4, SPACE, _KEEP),
    (ACRO, SPACE, _KEEP),
    (TBSPEC2, SPACE, _KEEP),
    (f"{WORD}\\.", INSENTP, _SOFT),
    (PHONE, None, _PHONE),
    (DBLQUOT, "[A-Za-z0-9$]", _QLEFT),
    (DBLQUOT, None, _QRIGHT),
    ("\\x7f", None, _SKIP),
    ("[\\[]", None, _LSB),
    ("[\\]]", None, _RSB),
    ("<|&lt;", None, _KEEP),
    (">|&gt;", None, _KEEP),
    ("\\{", None, _LCB),
    ("\\}", None, _RCB),
    ("\\(", None, _LRB),
    ("\\)", None, _RRB),
    ("-+", None, _HYPHENS),
    (LDOTS, None, _ELLIPSIS),
    ("@+|#+|_+", None, _KEEP),
    ("\\*+|(?:\\\\\\*){1,3}", None, _KEEP),
    (INSENTP, None, _KEEP),
    ("[?!]+", None, _KEEP),
    ("[.\\u00a1\\u00bf\\u037e\\u0589\\u061f\\u06d4\\u0700-\\u0702\\u07fa\\u3002]", None, _KEEP),
    ("=", None, _KEEP),
    ("/", None, _KEEP),
    (f"{HTHING}\\.", INSENTP, _SOFT),
    (HTHING, None, _SOFT),
    (f"{THING}\\.", INSENTP, _KEEP),
    (THING, None, _KEEP),
    (f"{THINGA}\\.", INSENTP, _AMP),
    (THINGA, None, _AMP),
    ("'", "[A-Za-z][^ \\t\\n\\r\\u00a0]", _QLEFT),
    (REDAUX, None, _QRIGHT),
    (QUOTES, None, _QRIGHT),
    ("<<|>>", None, _KEEP),
    (SMILEY, "[^A-Za-z0-9]", _PAREN),
    (MISCSYMBOL, None, _KEEP),
    (f"\\x00|{SPACES}|[\\u200b\\u200e\\u200f\\ufeff]|(?i:&nbsp;)", None, _SKIP),
]

_ABBREV1_RX = re.compile(ABBREV1)
_SGML_RX = re.compile(SGML)
_UPPER_AZ = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SPACE_RX = re.compile(SPACE)


@cache
def _compiled() -> list[tuple[re.Pattern[str], int, int | None]]:
    """The rules as compiled patterns, built on first use (~0.1 s: kept out of start-up)."""
    out: list[tuple[re.Pattern[str], int, int | None]] = []
    for pat, trail, act in _RULES:
        if pat == "ABBREV1":
            continue
        if trail is None:
            out.append((re.compile(f"(?:{pat})"), act, None))
        else:
            out.append((re.compile(f"(?:{pat})(?P<ctx>{trail})"), act, 1))
    return out


_ABBREV1_POS = next(i for i, r in enumerate(_RULES) if r[0] == "ABBREV1")


def _abbrev1_match(text: str, pos: int) -> tuple[int, int] | None:
    """Match ABBREV1 at ``pos``: return (total length, token length) or None.

    3.4.1 splits the period off (and lexes it again) when the abbreviation ends the text or
    is followed by a space then a space / capital / SGML tag / end, or by any character other
    than a space, a letter or in-sentence punctuation.
    """
    m = _ABBREV1_RX.match(text, pos)
    if m is None:
        return None
    end = m.end()
    n = len(text)
    length = end - pos
    if end == n:
        return length, -1
    c = text[end]
    if _SPACE_RX.match(c):
        if end + 1 == n:
            return length + 1, -1
        c2 = text[end + 1]
        if c2 in _UPPER_AZ or _SPACE_RX.match(c2):
            return length + 2, -1
        sg = _SGML_RX.match(text, end + 1)
        if sg is not None:
            return length + 1 + sg.end() - end - 1, -1
        return length, length
    if end + 1 == n:
        return length + 1, -1
    return length, length


_CURRENCY = {"\u00a2": "cents", "\u00a3": "#", "\u0080": "$", "\u00a4": "$", "\u20a0": "$"}
_CURRENCY["\u20ac"] = "$"
_VULGAR = {"\u00bc": "1/4", "\u00bd": "1/2", "\u00be": "3/4", "\u2153": "1/3", "\u2154": "2/3"}


def _latex_quotes(tok: str, left: bool) -> str:
    """Map quote characters to LaTeX-style PTB quotes as CoreNLP's latexQuotes does."""
    if left:
        tok = tok.replace("&apos;", "`").replace("'", "`")
        tok = tok.replace('"', "``").replace("&quot;", "``")
    else:
        tok = tok.replace("&apos;", "'")
        tok = tok.replace('"', "''").replace("&quot;", "''")
    tok = re.sub("[\u0091\u2018\u201b\u2039]", "`", tok)
    tok = re.sub("[\u0092\u2019\u203a]", "'", tok)
    tok = re.sub("[\u0093\u201c\u00ab]", "``", tok)
    return re.sub("[\u0094\u201d\u00bb]", "''", tok)


def _apply(action: int, txt: str) -> str | None:
    """Turn matched text into the token CoreNLP emits for ``action`` (None: no token)."""
    if action == _KEEP:
        return txt
    if action == _SOFT:
        out = txt.replace("\u00ad", "")
        return out if out else "-"
    if action == _SKIP:
        return None
    if action == _DASH:
        return "--"
    if action == _AMP:
        return re.sub("(?i:&amp;)", "&", txt)
    if action in (_QLEFT, _QRIGHT):
        return _latex_quotes(txt, action == _QLEFT)
    if action == _FRAC:
        return txt.replace(" ", "\u00a0")
    if action == _FRAC2:
        return "".join(_VULGAR.get(c, c) for c in txt)
    if action == _CURR:
        return "".join(_CURRENCY.get(c, c) for c in txt)
    if action == _PAREN:
        return txt.replace("(", "-LRB-").replace(")", "-RRB-")
    if action == _PHONE:
        return txt.replace(" ", "\u00a0").replace("(", "-LRB-").replace(")", "-RRB-")
    if action == _HYPHENS:
        return "--" if 3 <= len(txt) <= 4 else txt
    if action == _ELLIPSIS:
        return "..."
    brackets = {_LRB: "-LRB-", _RRB: "-RRB-", _LSB: "-LSB-", _RSB: "-RSB-"}
    brackets.update({_LCB: "-LCB-", _RCB: "-RCB-"})
    return brackets[action]


# Fast paths for the common cases; each is provably the longest match of the full lexer.
# A letter run followed by a space, the end, or [.,;:] + space/end is a plain WORD unless
# the run is an abbreviation / assimilation the lexer treats specially.
_FAST_WORD = re.compile(r"[A-Za-z]+(?=[.,;:]?(?:[ ]|$))")
_FAST_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?=[.,;:]?[ ](?![0-9])|[.,;:]?$)")
UNSAFE_WORDS: frozenset[str] = frozenset(
    str.split(
        """cannot gonna gotta lemme gimme wanna jan feb mar apr jun jul aug sep sept oct nov dec
    mon tue tues wed thu thurs fri ala ariz calif colo conn ct dak fla ga ind kan kans ky md
    mich minn mo mont neb nev okla penn tenn va vt wis wisc wyo inc co cos corp pty ptys pte
    ptes ppty pptys ppte pptes ltd plc rt bancorp bhd assn univ intl sys tel est ext sq jr sr
    bros blvd rd esq etc al seq bldg az ark del ill la mass miss ore pa tex wash ed ph mr mrs
    ms dr drs prof profs sen sens rep reps atty attys lt col gen messrs gov govs adm rev maj
    sgt cpl pvt mt capt st ste ave pres lieut hon brig cmdr comdr mdr pfc spc supt supts det
    ft vs alex wm jos cie cf treas invt elec natl mfg mtg dept ca fig figs prop no nos art pp
    op canada sino korean eu japan non"""
    )
)
# ";" may start a smiley (";(" is one token), so only before a space or the end.
_FAST_PUNCT = re.compile(r",(?![0-9])|;(?=[ ]|$)|\.(?=[ ][^.]|$)")


def lex(text: str) -> list[str]:
    """Run the PTBLexer emulation over ``text``; return the raw (un-lower-cased) tokens."""
    tokens: list[str] = []
    pos = 0
    n = len(text)
    append = tokens.append
    while pos < n:
        ch = text[pos]
        if ch == " ":
            pos += 1
            continue
        m = _FAST_WORD.match(text, pos)
        if m is not None:
            word = m.group()
            if len(word) > 1 and word.lower() not in UNSAFE_WORDS:
                append(word)
                pos = m.end()
                continue
        m = _FAST_NUMBER.match(text, pos)
        if m is not None:
            append(m.group())
            pos = m.end()
            continue
        m = _FAST_PUNCT.match(text, pos)
        if m is not None:
            append(m.group())
            pos = m.end()
            continue
        best_len = 0
        best_tok_len = 0
        best_action = _SKIP
        for idx, (rx, action, trail) in enumerate(_compiled()):
            if idx == _ABBREV1_POS:
                ab = _abbrev1_match(text, pos)
                if ab is not None and ab[0] > best_len:
                    best_len, best_tok_len, best_action = ab[0], ab[1], _ABBREV_SPLIT
            mm = rx.match(text, pos)
            if mm is None:
                continue
            total = mm.end() - pos
            if total > best_len:
                best_len = total
                best_tok_len = (mm.end() if trail is None else mm.start("ctx")) - pos
                best_action = action
        if best_len == 0:  # untokenizable character: CoreNLP deletes it
            pos += 1
            continue
        if best_action == _ABBREV_SPLIT:
            if best_tok_len >= 0:
                append(text[pos : pos + best_tok_len])
                pos += best_tok_len
            else:
                abm = _ABBREV1_RX.match(text, pos)
                assert abm is not None
                append(abm.group())
                pos = abm.end() - 1  # the period is lexed again
            continue
        if best_action == _LETTER_SPLIT:
            append(text[pos])
            pos += 1
            continue
        if best_action == _ACRO_SPLIT:
            word = text[pos : pos + best_tok_len]
            append(word)
            pos += best_tok_len - 1
            continue
        if best_action == _PUSH3:
            best_tok_len -= 3
        elif best_action == _PUSH2:
            best_tok_len -= 2
        txt = text[pos : pos + best_tok_len]
        pos += best_tok_len
        tok = _apply(best_action, txt) if best_action not in (_PUSH3, _PUSH2) else txt
        if tok is not None:
            append(tok)
    return tokens
