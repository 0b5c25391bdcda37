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
from functools import lru_cache

from medmine.metrics.ptb_lexer import UNSAFE_WORDS, lex
from medmine.metrics.ptb_patterns import ASTRAL, NEWLINE_CHARS, NEWLINES

__all__ = ["PUNCTUATIONS", "ptb_tokenize", "ptb_tokenize_raw", "tokenize_uncached"]

#: pycocoevalcap.tokenizer.ptbtokenizer.PUNCTUATIONS (compared with lower-cased tokens).
PUNCTUATIONS: frozenset[str] = frozenset(
    {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-"}
    | {"--", "...", ";"}
)

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
# period (UNSAFE_WORDS; not after "/": "XXXX/CT." is one token and ".") or an assimilation
# ("gonna", ...) occurs; such text goes through the full lexer.  A few more chunk kinds have
# a context-free lexing: a lone "," or ",.", a lone "'s" (kept), "cannot" (-> can not), a
# "-" before a letter ("-like" -> "-" "like"; the rest lexes from a token start), and "No."
# ("no" "."; ABBREV3 keeps "no." before a digit, which is checked like the digit context).
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
# spans two neighbours (a chunk ending in a digit and optional [.,;:], or "No.", then one
# starting with a digit). So each distinct chunk is judged and tokenised once and
# remembered: report corpora reuse a small vocabulary of chunks even when every text is
# distinct.  Plain words and integers skip the chunk regex.
_CHUNK = re.compile(_FAST_CHUNK)
_BRACKET_ESCAPE = re.compile(r"-[LlRr][RrCcSs][Bb]-")
_NUMBER_ABBREV = re.compile(r"(?i:nos?)\.")  # ABBREV3 words kept only before a digit
# chunks that are only punctuation or a clitic: "normal , the", "patient 's"
_LONE: dict[str, tuple[str, ...]] = {",": (), ",.": (), "'s": ("'s",), "'s.": ("'s",)}
_CANNOT = re.compile(r"(?i:cannot)[.,]?")
_ENDS_IN_DIGIT = re.compile(r"[0-9][.,;:]*+\Z")
_CHUNK_MEMO_LIMIT = 500_000
_PIECE_MEMO_LIMIT = 100_000  # a piece entry holds a sentence's tokens: keep it to ~30 MB
# chunk -> (tokens, or None when the chunk needs the full lexer; ends in a digit; starts
# with a digit)
_chunk_memo: dict[str, tuple[tuple[str, ...] | None, bool, bool]] = {}


def _judge_chunk(chunk: str) -> tuple[tuple[str, ...] | None, bool, bool]:
    """Tokens of one space-free chunk on the fast path (None: not plain prose), and its edges."""
    if chunk.isascii():
        if chunk.isdigit():
            return (chunk,), True, True  # a plain integer; digit neighbours are checked
        if chunk.isalpha():
            low = chunk.lower()
            if not any(w in low for w in _ASSIMILATIONS):
                return (low,), False, False  # a plain word
    if chunk in _LONE:
        return _LONE[chunk], False, False
    if _CANNOT.fullmatch(chunk):
        return ("can", "not"), False, False  # the lexer splits this assimilation
    if chunk[0] == "-" and chunk[1:2].isalpha() and chunk[1].isascii():
        # "-like": the lexer splits "-" off a letter (bracket escapes aside) and lexes the
        # rest from a token start; "-" is filtered.
        if _BRACKET_ESCAPE.search(chunk):
            return None, False, False
        tokens, ends, _ = _judge_chunk(chunk[1:])
        return tokens, ends, False
    ends = _ENDS_IN_DIGIT.search(chunk) is not None
    starts = "0" <= chunk[0] <= "9"
    if not chunk.isascii() or _CHUNK.fullmatch(chunk) is None or _BRACKET_ESCAPE.search(chunk):
        return None, ends, starts
    if _NUMBER_ABBREV.fullmatch(chunk):
        # "No." is "no" + "." unless a digit follows (ABBREV3's trailing context): report
        # it as ending in a digit, so that a digit-initial next chunk takes the full lexer.
        return (chunk[:-1].lower(),), True, False
    if "." in chunk:
        rev = chunk[::-1]
        for m in _REVERSED_WORD_DOT.finditer(rev):
            if rev[m.end() : m.end() + 1] == "/":
                continue  # "XXXX/CT.": the letters after "/" end the slash compound's token
            w = m.group(1)
            if len(w) == 1 or w[::-1].lower() in UNSAFE_WORDS:
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


def _fast_chunks(text: str) -> tuple[tuple[str, ...] | None, bool, bool | None]:
    """Fast-path tokens of space-separated chunks (None: not plain prose), and the edges:
    whether the first chunk starts with a digit, whether the last ends in one (None when
    there is no chunk at all)."""
    memo = _chunk_memo
    out: list[str] = []
    first: bool | None = None
    previous_ends_in_digit: bool | None = None
    for chunk in text.split(" "):
        if not chunk:
            continue
        entry = memo.get(chunk)
        if entry is None:
            entry = memo[chunk] = _judge_chunk(chunk)
        tokens, ends, starts = entry
        if tokens is None or (starts and previous_ends_in_digit):
            return None, False, None
        if first is None:
            first = starts
        out.extend(tokens)
        previous_ends_in_digit = ends
    return tuple(out), bool(first), previous_ends_in_digit


# Reports are sentences joined by ". ", and sentences repeat across reports far more than
# whole reports do.  A text is split at ". " into pieces; every piece but the last is
# judged with its period ("piece."), so the pieces' chunks are exactly the text's chunks
# and the pieces' fast-path tokens, concatenated, are the text's.  The only check that
# spans chunks (a chunk ending in a digit before one starting with a digit) is applied
# across pieces with the edges each piece remembers.
_PieceEntry = tuple[tuple[str, ...] | None, bool, bool | None]
_piece_memo: dict[str, _PieceEntry] = {}  # pieces followed by ". " (key without the period)
_tail_memo: dict[str, _PieceEntry] = {}  # last pieces


def clear_memos() -> None:
    """Forget every remembered chunk and piece (benchmarks use it to time a cold start)."""
    _chunk_memo.clear()
    _piece_memo.clear()
    _tail_memo.clear()


def _fast_tokens(text: str) -> list[str] | None:
    """Filtered tokens of plain report prose (see _FAST_CHUNK), or None for other text."""
    if len(_chunk_memo) > _CHUNK_MEMO_LIMIT:
        _chunk_memo.clear()
    if len(_piece_memo) + len(_tail_memo) > _PIECE_MEMO_LIMIT:
        _piece_memo.clear()
        _tail_memo.clear()
    *body, tail = text.split(". ")
    out: list[str] = []
    previous_ends_in_digit: bool | None = False
    memo = _piece_memo
    for piece in body:
        entry = memo.get(piece)
        if entry is None:
            entry = memo[piece] = _fast_chunks(piece + ".")
        tokens, starts, ends = entry
        if tokens is None or (starts and previous_ends_in_digit):
            return None
        out.extend(tokens)
        previous_ends_in_digit = ends  # never None: the piece holds at least "."
    entry = _tail_memo.get(tail)
    if entry is None:
        entry = _tail_memo[tail] = _fast_chunks(tail)
    tokens, starts, _ = entry
    if tokens is None or (starts and previous_ends_in_digit):
        return None
    out.extend(tokens)
    return out


def tokenize_uncached(text: str) -> list[str]:
    """:func:`ptb_tokenize` without its memo (for callers that deduplicate texts themselves)."""
    return tokenize_flagged(text)[0]


def tokenize_flagged(text: str) -> tuple[list[str], bool]:
    """:func:`tokenize_uncached`, and whether the full lexer ran (only its tokens can hold
    whitespace: CoreNLP joins "5 7/8" with U+00A0; fast-path tokens never do)."""
    if not isinstance(text, str):
        raise ValueError(f"ptb_tokenize expects a str, got {type(text).__name__}")
    fast = _fast_tokens(text if NEWLINE_CHARS.search(text) is None else NEWLINES.sub(" ", text))
    if fast is not None:
        return fast, False
    return [t for t in ptb_tokenize_raw(text) if t not in PUNCTUATIONS], True


def ptb_tokenize_raw(text: str) -> list[str]:
    """Lower-cased CoreNLP 3.4.1 PTB tokens of ``text`` before the punctuation filter."""
    if not isinstance(text, str):
        raise ValueError(f"ptb_tokenize expects a str, got {type(text).__name__}")
    text = NEWLINES.sub(" ", text)
    text = ASTRAL.sub("", text)
    return [t.lower() for t in lex(text)]


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
