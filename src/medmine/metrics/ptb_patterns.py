"""The character classes and token patterns of CoreNLP 3.4.1's ``PTBLexer``, as Python regex.

Transcribed from the lexer's JFlex specification; :mod:`medmine.metrics.ptb_lexer` runs them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Characters the Java lexer treats as line ends; medmine maps them (and \n) to spaces.
NEWLINES = re.compile("\r\n|[\r\n\u2028\u2029\u000b\u000c\u0085]")
NEWLINE_CHARS = re.compile("[\r\n\u2028\u2029\u000b\u000c\u0085]")  # quick test only
ASTRAL = re.compile("[\U00010000-\U0010ffff]")


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


L = _char_class(str.isalpha)  # Java Character.isLetter (categories L*)
D = _char_class(str.isdecimal) + "\\u07c0-\\u07c9"  # Java Character.isDigit (Nd)
LETTER = f"[{L}]"
DIGIT = f"[{D}]"
LD = f"[{L}{D}]"

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
WORD_EXTRA = (
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
WORD = f"(?:[{L}{WORD_EXTRA}]|{SPLET})+"
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
APL = f"(?:[dDoOlL]{APOSETC}{LD})?{LD}+"
THING = f"{APL}(?:{HYPHEN}{APL})*"
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
CASELESS = "(?i:{})".format
ABBREV1 = (
    CASELESS(
        "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec|Mon|Tues?|Wed|Thu|Thurs|Fri"
        "|Ala|Ariz|Calif|Colo|Conn|Ct|Dak|Fla|Ga|Ind|Kans?|Ky|Md|Mich|Minn|Mo|Mont|Neb|Nev"
        "|Okla|Penn|Tenn|Va|Vt|Wisc?|Wyo|Inc|Cos?|Corp|Pp?t[ye]s?|Ltd|Plc|Rt|Bancorp|Bhd|Assn"
        "|Univ|Intl|Sys|tel|est|ext|sq|Jr|Sr|Bros|(?:Ed|Ph)\\.D|Blvd|Rd|Esq|etc|al|seq|Bldg"
    )
    + "|A(?i:z|rk)|D(?i:el)|I(?i:ll)|L(?i:a)|M(?i:ass|iss)|O(?i:re)|P(?i:a)|T(?i:ex)|W(?i:ash)"
)
ABBREV1 = f"(?:{ABBREV1})\\."
ABTITLE = (
    CASELESS(
        "Mrs?|Ms|Drs?|Profs?|Sens?|Reps?|Attys?|Lt|Col|Gen|Messrs|Govs?|Adm|Rev|Maj|Sgt|Cpl|Pvt"
        "|Mt|Capt|Ste?|Ave|Pres|Lieut|Hon|Brig|Co?mdr|Pfc|Spc|Supts?|Det|Ft"
    )
    + "|M(?i:iss)"
)
ABBREV4 = (
    f"(?:{ACRO}|{ABTITLE}|"
    + CASELESS("vs|Alex|Wm|Jos|Cie|a\\.k\\.a|cf|TREAS|Ph|Invt|Elec|Natl|M[ft]g|Dept")
    + "|[A-Za-z])"
)
ABBREV2 = f"{ABBREV4}\\."
ABBREV3 = CASELESS("ca|figs?|prop|nos?|art|bldg|pp|op") + "\\."
ACRONYM = f"{ACRO}\\."
ACRO_FOLLOW = (
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
