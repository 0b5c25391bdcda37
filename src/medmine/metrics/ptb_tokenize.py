"""PTB tokenisation compatible with pycocoevalcap, in pure Python.

Report-generation papers score with pycocoevalcap, whose ``PTBTokenizer`` runs the Java
Stanford CoreNLP 3.4.1 ``PTBTokenizer -preserveLines -lowerCase`` and then drops the tokens
in its fixed ``PUNCTUATIONS`` list.  :func:`ptb_tokenize` reproduces that output token for
token without Java: a longest-match lexer (JFlex semantics: the longest match wins, counting
trailing context; on a tie the earlier rule wins) over the token classes of CoreNLP 3.4.1's
``PTBLexer`` (words, clitics such as ``do n't`` / ``patient 's``, numbers, fractions,
hyphenated words, abbreviations and acronyms, URLs, quotes mapped to ````` / ``''``, brackets
mapped to ``-lrb-`` etc., ellipses, dashes, symbols), followed by lower-casing and the
punctuation filter.  Note that the filter compares lower-cased tokens with a list that spells
brackets in upper case, so ``-lrb-``/``-rrb-``/``-lsb-``... survive, exactly as in
pycocoevalcap; quotes become ````` / ``''`` and are then removed.

Where medmine deliberately differs from pycocoevalcap
-----------------------------------------------------
pycocoevalcap joins all captions with ``"\\n"`` (after replacing ``"\\n"`` in each caption by a
space), tokenises them in one Java run and splits the output on ``"\\n"``.  The Java lexer
also ends a line at ``\\r``, ``\\v`` (U+000B), ``\\f`` (U+000C), U+0085, U+2028 and U+2029, so a
caption containing one of them produces extra output lines and every later caption is paired
with the wrong tokens (and the look-ahead of some rules, e.g. ``etc.`` before a capital,
reaches into the next caption).  medmine tokenises every report on its own and treats all
of those characters as ordinary whitespace.  The result equals the Java tokenizer run on
that report alone.

Known limits: characters outside the Basic Multilingual Plane are dropped (the Java lexer
sees them as two untokenizable surrogates and drops them too); letter and digit classes
follow Python's Unicode database, which may differ from the JDK's for rare characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

__all__ = ["PUNCTUATIONS", "ptb_tokenize", "ptb_tokenize_raw", "tokenize_uncached"]

#: pycocoevalcap.tokenizer.ptbtokenizer.PUNCTUATIONS (compared with lower-cased tokens).
PUNCTUATIONS: frozenset[str] = frozenset(
    {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-"}
    | {"--", "...", ";"}
)

# Characters the Java lexer treats as line ends; medmine maps them (and \n) to spaces.
_NEWLINES = re.compile("\r\n|[\r\n\u2028\u2029\u000b\u000c\u0085]")
_NEWLINE_CHARS = re.compile("[\r\n\u2028\u2029\u000b\u000c\u0085]")  # quick test only
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _char_class(pred: Callable[[str], bool]) -> str:
    """Build a regex character-class body of all BMP characters satisfying ``pred``."""
    parts: list[str] = []
    start = -1
    for cp in range(0x10000):
        ok = cp < 0xD800 or cp > 0xDFFF
        ok = ok and pred(chr(cp))
        if ok and start < 0:
            start = cp
        elif not ok and start >= 0:
            parts.append(_range(start, cp - 1))
            start = -1
    if start >= 0:
        parts.append(_range(start, 0xFFFF))
    return "".join(parts)


def _range(a: int, b: int) -> str:
    """Format one code-point range for a regex character class."""
    if a == b:
        return f"\\u{a:04x}"
    return f"\\u{a:04x}-\\u{b:04x}"


_L = _char_class(str.isalpha)  # Java Character.isLetter (categories L*)
_D = _char_class(str.isdecimal) + "\\u07c0-\\u07c9"  # Java Character.isDigit (Nd)
LETTER = f"[{_L}]"
DIGIT = f"[{_D}]"
LD = f"[{_L}{_D}]"

SPACE_C = " \\t\\u00a0\\u2000-\\u200a\\u3000"
SPACE = f"[{SPACE_C}]"
SPACES = f"{SPACE}+"
SGML = (
    r"<(?:[!?][A-Za-z\-][^>\r\n]*|/?[A-Za-z][A-Za-z0-9:.\-]*"
    r"(?:[ ]+(?:[A-Za-z][A-Za-z0-9_:.\-]*(?:[ ]*=[ ]*(?:'[^']*'|\"[^\"]*\"))?))*[ ]*/?)>"
)
SPMDASH = "&(?:MD|mdash|ndash);|[\\u0096\\u0097\\u2013\\u2014\\u2015]"
SPAMP = "(?i:&amp;)"
SPPUNC = "&(?:HT|TL|UR|LR|QC|QL|QR|odq|cdq|#[0-9]+);"
SPLET = "&[aeiouAEIOU](?:acute|grave|uml);"
_WORD_EXTRA = (
    "\\u00ad\\u0237-\\u024f\\u02c2-\\u02c5\\u02d2-\\u02df\\u02e5-\\u02ff\\u0300-\\u036f"
    "\\u0370-\\u037d\\u0384\\u0385\\u03cf\\u03f6\\u03fc-\\u03ff\\u0483-\\u0487\\u04cf"
    "\\u04f6-\\u04ff\\u0510-\\u0525\\u055a-\\u055f\\u0591-\\u05bd\\u05bf\\u05c1\\u05c2"
    "\\u05c4\\u05c5\\u05c7\\u0615-\\u061a\\u063b-\\u063f\\u064b-\\u065e\\u0670\\u06d6-\\u06ef"
    "\\u06fa-\\u06ff\\u070f\\u0711\\u0730-\\u074f\\u0750-\\u077f\\u07a6-\\u07b1\\u07ca-\\u07f5"
    "\\u07fa\\u0900-\\u0903\\u093c\\u093e-\\u094e\\u0951-\\u0955\\u0962-\\u0963\\u0981-\\u0983"
    "\\u09bc-\\u09c4\\u09c7\\u09c8\\u09cb-\\u09cd\\u09d7\\u09e2\\u09e3\\u0a01-\\u0a03\\u0a3c"
    "\\u0a3e-\\u0a4f\\u0a81-\\u0a83\\u0abc-\\u0acf\\u0b82\\u0bbe-\\u0bc2\\u0bc6-\\u0bc8"
    "\\u0bca-\\u0bcd\\u0c01-\\u0c03\\u0c3e-\\u0c56\\u0d3e-\\u0d44\\u0d46-\\u0d48\\u0e30-\\u0e3a"
    "\\u0e47-\\u0e4e\\u0eb1-\\u0ebc\\u0ec8-\\u0ecd"
)
WORD = f"(?:[{_L}{_WORD_EXTRA}]|{SPLET})+"
APOS = "(?:['\\u0092\\u2019]|&apos;)"
APOSETC = f"(?:{APOS}|[\\u0091\\u2018\\u201b])"
HYPHEN = "[\\-_\\u058a\\u2010\\u2011]"
NUM = f"(?:{DIGIT}*(?:[.:,\\u00ad\\u066b\\u066c]{DIGIT}+)+|{DIGIT}+)"
NUMBER = f"[\\-+]?{NUM}"
DATE = f"{DIGIT}{{1,2}}[\\-/]{DIGIT}{{1,2}}[\\-/]{DIGIT}{{2,4}}"
SUBSUPNUM = (
    "[\\u207a\\u207b\\u208a\\u208b]?(?:[\\u2070\\u00b9\\u00b2\\u00b3\\u2074-\\u2079]+"
    "|[\\u2080-\\u2089]+)"
)
FRAC = f"(?:{DIGIT}{{1,4}}[\\- \\u00a0])?{DIGIT}{{1,4}}(?:\\\\?/|\\u2044){DIGIT}{{1,4}}"
FRAC2 = "[\\u00bc\\u00bd\\u00be\\u2153-\\u215e]"
DOLSIGN = "(?:[A-Z]*\\$|#)"
DOLSIGN2 = (
    "[\\u00a2\\u00a3\\u00a4\\u00a5\\u0080\\u20a0\\u20ac\\u060b\\u0e3f\\u20a4\\uffe0\\uffe1"
    "\\uffe5\\uffe6]"
)
_APL = f"(?:[dDoOlL]{APOSETC}{LD})?{LD}+"
THING = f"{_APL}(?:{HYPHEN}{_APL})*"
THINGA = f"[A-Z]+(?:(?:[+&]|{SPAMP})[A-Z]+)+"
THING3 = "[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}(?:\\\\?/[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}){1,2}"
ACRO = (
    "(?:[A-Za-z](?:\\.[A-Za-z])+|(?i:(?:Canada|Sino|Korean|EU|Japan|non)-U\\.S)"
    "|(?i:U\\.S\\.-(?:U\\.K|U\\.S\\.S\\.R)))"
)
HTHING = f"[A-Za-z0-9][A-Za-z0-9.,\\u00ad]*(?:-(?:[A-Za-z0-9\\u00ad]+|{ACRO}\\.))+"
REDAUX = f"{APOS}(?:[msdMSD]|(?i:re|ve|ll))"
SWORD = "[A-Za-z\\u00ad]*[A-MO-Za-mo-z]\\u00ad*"
SREDAUX = f"(?i:n){APOSETC}(?i:t)"
APOWORD = (
    f"{APOS}(?i:n){APOS}?|[lLdDjJ]{APOS}|(?i:Dunkin){APOS}|(?i:somethin){APOS}|(?i:ol){APOS}"
    f"|{APOS}(?i:em)|[A-HJ-XZn]{APOSETC}{LETTER}{{2}}{LETTER}*|{APOS}[2-9]0(?i:s)"
    f"|{APOS}(?i:till?)|{LETTER}{LETTER}*[aeiouyAEIOUY]{APOSETC}[aeiouA-Z]{LETTER}*"
    f"|{APOS}(?i:cause)|(?i:cont'd\\.?|'twas|nor'easter|c'mon|e'er|s'mores|ev'ry|li'l|nat'l)"
)
APOWORD2 = f"(?i:y){APOS}"
FULLURL = '(?i:https?://)[^ \\t\\n\\f\\r"<>|()]+[^ \\t\\n\\f\\r"<>|.!?(){},\\-]'
LIKELYURL = (
    '(?:(?:(?i:www)\\.(?:[^ \\t\\n\\f\\r\\u00a0"<>|.!?(){},]+\\.)+[a-zA-Z]{2,4})'
    "|(?:(?:[^ \\t\\n\\f\\r\\u00a0\"`'<>|.!?(){},-_$]+\\.)+(?i:com|net|org|edu)))"
    '(?:/[^ \\t\\n\\f\\r"<>|()]+[^ \\t\\n\\f\\r"<>|.!?(){},\\-])?'
)
EMAIL = (
    '(?:<|&lt;)?[a-zA-Z0-9][^ \\t\\n\\f\\r"<>|()\\u00a0]*@(?:[^ \\t\\n\\f\\r"<>|().\\u00a0]+\\.)*'
    '[^ \\t\\n\\f\\r"<>|().\\u00a0]+(?:>|&gt;)?'
)
SMILEY = "[<>]?[:;=][\\-o*']?[()DPdpO\\\\{@|\\[\\]]"
TWITTER = f"@[a-zA-Z_][a-zA-Z_0-9]*|#{WORD}"
# letter-initial segments joined by periods: "effusion.No", "a.m" (3.4.1 keeps them whole)
DOTWORD = f"{LETTER}{LD}*(?:\\.{LETTER}{LD}*)+"
_I = "(?i:{})".format
ABBREV1 = (
    _I(
        "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec|Mon|Tues?|Wed|Thu|Thurs|Fri"
        "|Ala|Ariz|Calif|Colo|Conn|Ct|Dak|Fla|Ga|Ind|Kans?|Ky|Md|Mich|Minn|Mo|Mont|Neb|Nev"
        "|Okla|Penn|Tenn|Va|Vt|Wisc?|Wyo|Inc|Cos?|Corp|Pp?t[ye]s?|Ltd|Plc|Rt|Bancorp|Bhd|Assn"
        "|Univ|Intl|Sys|tel|est|ext|sq|Jr|Sr|Bros|(?:Ed|Ph)\\.D|Blvd|Rd|Esq|etc|al|seq|Bldg"
    )
    + "|A(?i:z|rk)|D(?i:el)|I(?i:ll)|L(?i:a)|M(?i:ass|iss)|O(?i:re)|P(?i:a)|T(?i:ex)|W(?i:ash)"
)
ABBREV1 = f"(?:{ABBREV1})\\."
ABTITLE = (
    _I(
        "Mrs?|Ms|Drs?|Profs?|Sens?|Reps?|Attys?|Lt|Col|Gen|Messrs|Govs?|Adm|Rev|Maj|Sgt|Cpl|Pvt"
        "|Mt|Capt|Ste?|Ave|Pres|Lieut|Hon|Brig|Co?mdr|Pfc|Spc|Supts?|Det|Ft"
    )
    + "|M(?i:iss)"
)
ABBREV4 = (
    f"(?:{ACRO}|{ABTITLE}|"
    + _I("vs|Alex|Wm|Jos|Cie|a\\.k\\.a|cf|TREAS|Ph|Invt|Elec|Natl|M[ft]g|Dept")
    + "|[A-Za-z])"
)
ABBREV2 = f"{ABBREV4}\\."
ABBREV3 = _I("ca|figs?|prop|nos?|art|bldg|pp|op") + "\\."
ACRONYM = f"{ACRO}\\."
_ACRO_FOLLOW = (
    "About|According|Additionally|After|An|A|As|At|But|Earlier|He|Her|Here|However|If|In|It"
    "|Last|Many|More|Mr\\.|Ms\\.|Now|Once|One|Other|Our|She|Since|So|Some|Such|That|The|Then"
    "|There|These|They|This|We|When|While|What|Yet|You"
)
PHONE = (
    "(?:(?:\\([0-9]{2,3}\\)[ \\u00a0]?|(?:\\+\\+?)?(?:[0-9]{2,4}[\\- \\u00a0])?[0-9]{2,4}"
    "[\\- \\u00a0])[0-9]{3,4}[\\- \\u00a0]?[0-9]{3,5}"
    "|(?:(?:\\+\\+?)?[0-9]{2,4}\\.)?[0-9]{2,4}\\.[0-9]{3,4}\\.[0-9]{3,5})"
)
LDOTS = "\\.{3,5}|(?:\\.[ \\u00a0]){2,4}\\.|[\\u0085\\u2026]"
INSENTP = "[,;:\\u3001]"
QUOTES = (
    "''|[`\\u2018\\u2019\\u201a\\u201b\\u201c\\u201d\\u0091\\u0092\\u0093\\u0094"
    f"\\u201e\\u201f\\u2039\\u203a\\u00ab\\u00bb]{{1,2}}|{APOS}"
)
DBLQUOT = '"|&quot;'
TBSPEC = (
    "-(?i:RRB|LRB|RCB|LCB|RSB|LSB)-|(?i:C\\.D\\.s|pro-|anti-|S(?:&|&amp;)P-500|S(?:&|&amp;)Ls)"
    f"|(?i:Cap){APOS}(?i:n)|(?i:c){APOS}(?i:est)"
)
TBSPEC2 = f"{APOS}[0-9][0-9]"
MISCSYMBOL = (
    "[+%&~\\^|\\\\\\u00a6\\u00a7\\u00a8\\u00a9\\u00ac\\u00ae\\u00af\\u00b0-\\u00ba\\u00d7\\u00f7"
    "\\u0387\\u05be\\u05c0\\u05c3\\u05c6\\u05f3\\u05f4\\u0600-\\u0603\\u0606-\\u060a\\u060c"
    "\\u0614\\u061b\\u061e\\u066a\\u066d\\u0703-\\u070d\\u07f6\\u07f7\\u07f8\\u0964\\u0965"
    "\\u0e4f\\u1fbd\\u2016\\u2017\\u2020-\\u2023\\u2030-\\u2038\\u203b\\u203e-\\u2042\\u2044"
    "\\u207a-\\u207f\\u208a-\\u208e\\u2100-\\u214f\\u2190-\\u21ff\\u2200-\\u2bff\\u3012\\u30fb"
    "\\uff01-\\uff0f\\uff1a-\\uff20\\uff3b-\\uff40\\uff5b-\\uff65]"
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

# (pattern, trailing-context pattern or None, action), in PTBLexer rule order.
_RULES: list[tuple[str, str | None, int]] = [
    (_I("cannot") + f"|{APOS}(?i:twas)", None, _PUSH3),
    (f"{APOS}(?i:tis)|" + _I("gonna|gotta|lemme|gimme|wanna"), None, _PUSH2),
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
    (ACRONYM, f"{SPACES}(?:{_ACRO_FOLLOW}){SPACE}", _ACRO_SPLIT),
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
_COMPILED: list[tuple[re.Pattern[str], int, int | None]] = []
for _idx, (_pat, _trail, _act) in enumerate(_RULES):
    if _pat == "ABBREV1":
        continue
    if _trail is None:
        _COMPILED.append((re.compile(f"(?:{_pat})"), _act, None))
    else:
        _COMPILED.append((re.compile(f"(?:{_pat})(?P<ctx>{_trail})"), _act, 1))
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
_UNSAFE_WORDS: frozenset[str] = frozenset(
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


def _lex(text: str) -> list[str]:
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
            if len(word) > 1 and word.lower() not in _UNSAFE_WORDS:
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
        for idx, (rx, action, trail) in enumerate(_COMPILED):
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


# Whole-text fast path for plain report prose.  Text made only of space-separated chunks
# built from
#   words      letters/digits with "-letters" parts ("x-ray", "6th", "T10", "one-third"),
#   HTHINGs    a word, periods/commas, "-letters" parts (3.4.1 keeps "effusion.-like" whole),
#   slashes    a word and one or two letter runs joined by "/" ("findings/opacities"),
#   decimals   "3.5",
# each optionally followed by "'s" and ")" (and preceded by "(" before a letter), then by
# punctuation [,;:]* and up to three periods, after which "'s" may continue, lexes to
# exactly those words, numbers, "'s" and -lrb- / -rrb- (everything else being
# filtered punctuation), unless a risky context (fractions or phone numbers across a
# space, bracket escapes such as "-LRB-"), a single letter or an abbreviation before a
# period (_UNSAFE_WORDS) or an assimilation ("cannot", "gonna", ...) occurs; such text goes
# through the full lexer.
_TRAIL = r"(?:[,;:]++(?:\.{1,3}+)?+|\.{1,3}+)?+"
_SEG = (
    r"(?>[0-9]++\.[0-9]++|[A-Za-z0-9]++(?:[.,]*+(?:-[A-Za-z]++)++"
    r"|(?:/[A-Za-z]++){1,2}+(?![/A-Za-z0-9])|))"
)
_TAIL = r"(?:(?<=[A-Za-z])'s)?+(?:(?<=[A-Za-z])\))?+"
_FAST_CHUNK = (
    rf"(?:\((?=[A-Za-z]))?+{_SEG}{_TAIL}{_TRAIL}"
    rf"(?:(?<=[,;:.])'s{_TAIL}{_TRAIL})*+"
)
_REVERSED_WORD_DOT = re.compile(r"\.([A-Za-z]++)")
_ASSIMILATIONS = ("cannot", "gonna", "gotta", "lemme", "gimme", "wanna")
# In accepted text, punctuation not followed by a digit or "-" is dropped by the filter.
_FAST_DROP = re.compile(r"[,;:.]++(?![0-9\-])")


# The fast path decides chunk by chunk (a chunk is a maximal run of non-space characters):
# plain prose is a sequence of _FAST_CHUNK matches separated by spaces, and every other check
# above looks inside one chunk, except the fraction/phone-number context, which
# spans two neighbours (a chunk ending in a digit and optional [.,;:], then one starting
# with a digit). So each distinct chunk is judged and tokenised once and remembered: report
# corpora reuse a small vocabulary of chunks even when every text is distinct.
_CHUNK = re.compile(_FAST_CHUNK)
_BRACKET_ESCAPE = re.compile(r"-[LlRr][RrCcSs][Bb]-")
_ENDS_IN_DIGIT = re.compile(r"[0-9][.,;:]*+\Z")
_CHUNK_MEMO_LIMIT = 500_000
# chunk -> (tokens, or None when the chunk needs the full lexer; ends in a digit; starts
# with a digit)
_chunk_memo: dict[str, tuple[tuple[str, ...] | None, bool, bool]] = {}


def _judge_chunk(chunk: str) -> tuple[tuple[str, ...] | None, bool, bool]:
    """Tokens of one space-free chunk on the fast path (None: not plain prose), and its edges."""
    ends = _ENDS_IN_DIGIT.search(chunk) is not None
    starts = "0" <= chunk[0] <= "9"
    if not chunk.isascii() or _CHUNK.fullmatch(chunk) is None or _BRACKET_ESCAPE.search(chunk):
        return None, ends, starts
    if "." in chunk:
        for w in _REVERSED_WORD_DOT.findall(chunk[::-1]):
            if len(w) == 1 or w[::-1].lower() in _UNSAFE_WORDS:
                return None, ends, starts
    low = chunk.lower()
    for w in _ASSIMILATIONS:
        if w in low:
            return None, ends, starts
    low = _FAST_DROP.sub(" ", low)
    if "'" in low:
        low = low.replace("'s", " 's")
    if "(" in low or ")" in low:
        low = low.replace("(", " -lrb- ").replace(")", " -rrb- ")
    return tuple(low.split()), ends, starts


def _fast_tokens(text: str) -> list[str] | None:
    """Filtered tokens of plain report prose (see _FAST_CHUNK), or None for other text."""
    memo = _chunk_memo
    if len(memo) > _CHUNK_MEMO_LIMIT:
        memo.clear()
    out: list[str] = []
    previous_ends_in_digit = False
    for chunk in text.split(" "):
        if not chunk:
            continue
        entry = memo.get(chunk)
        if entry is None:
            entry = memo[chunk] = _judge_chunk(chunk)
        tokens, ends, starts = entry
        if tokens is None or (starts and previous_ends_in_digit):
            return None
        out.extend(tokens)
        previous_ends_in_digit = ends
    return out


def tokenize_uncached(text: str) -> list[str]:
    """:func:`ptb_tokenize` without its memo (for callers that deduplicate texts themselves)."""
    if not isinstance(text, str):
        raise ValueError(f"ptb_tokenize expects a str, got {type(text).__name__}")
    fast = _fast_tokens(text if _NEWLINE_CHARS.search(text) is None else _NEWLINES.sub(" ", text))
    if fast is not None:
        return fast
    return [t for t in ptb_tokenize_raw(text) if t not in PUNCTUATIONS]


def ptb_tokenize_raw(text: str) -> list[str]:
    """Lower-cased CoreNLP 3.4.1 PTB tokens of ``text`` before the punctuation filter."""
    if not isinstance(text, str):
        raise ValueError(f"ptb_tokenize expects a str, got {type(text).__name__}")
    text = _NEWLINES.sub(" ", text)
    text = _ASTRAL.sub("", text)
    return [t.lower() for t in _lex(text)]


@lru_cache(maxsize=65536)
def _cached(text: str) -> tuple[str, ...]:
    """Memoised tokenisation (reports repeat a lot in real corpora)."""
    return tuple(tokenize_uncached(text))


def ptb_tokenize(text: str) -> list[str]:
    """Tokenise one report exactly as pycocoevalcap's PTBTokenizer does (see module doc).

    Returns lower-cased tokens with pycocoevalcap's ``PUNCTUATIONS`` removed. A token may
    contain U+00A0 (CoreNLP joins "5 7/8" or phone numbers with a non-breaking space).
    """
    if not isinstance(text, str):
        raise ValueError(f"ptb_tokenize expects a str, got {type(text).__name__}")
    return list(_cached(text))
