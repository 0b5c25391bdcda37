"""Spelling variants clinicians write: British/American folding, clinical synonyms, typos.

Three rules, used by :mod:`medmine.tasks.label_names` to find a label set's names:

- **Folding** (:func:`fold`): British and American spellings are one spelling. Both the
  names and the answer are folded before matching: "oe" → "e" ("oesophagitis",
  "seborrhoeic", "oedema"), "ae" → "e" ("naevus", "haemangioma", "caecum"), a final "our" →
  "or" after two letters ("tumour", "colour"), and "-ise"/"-ised"/"-ising"/"-isation" →
  "-ize..." after three letters. Folding is only used to find names; cue words are read on
  the text as written.
- **Clinical synonyms** (:data:`SYNONYMS`, :data:`PHRASES`): abbreviations and names
  clinicians use ("UC", "BCC", "AK", "SebK", "moderate NPDR", "blue-stained resection
  margins"), added to a label set only for a label that has the name the entry is keyed by,
  and only when no other label of the set has that word (a word naming two labels is
  dropped). :data:`CONTEXT` entries are anatomy/context words (weak, see label_names).
- **Typos** (:func:`near_word`): a word of the answer that is not a name word is read as one
  when the Damerau edit distance is ≤1 (words of ≥6 letters) or ≤2 (≥9 letters), the first
  letter agrees (or only the silent first letter of a long name is dropped: "neumonia"),
  the medical suffix agrees (-itis is never -osis), the closest name word is unique (no
  other name word as close), and the word is not a common English or medical word of its
  own (:data:`REAL_WORDS`). Inside a multi-word name whose other words are written right
  ("sever NPDR", "basel cell carcinoma") a word of ≥4 letters may be 1 edit away. The
  reader keeps a correction only when it completes a name, and records it (``repaired``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Final

_FOLD: Final = re.compile(
    r"(?P<oe>oe)|(?P<ae>ae)|(?<=[a-z]{2})(?P<our>our)(?=s?\b)"
    r"|(?<=[a-z]{3})(?P<ise>is)(?=(?:e|ed|es|ing|ation|ations)\b)"
)


def fold(text: str) -> tuple[str, list[int]]:
    """Lower-cased text with British spellings folded, and each character's original index.

    The index list has one extra entry (the text length) so an end offset maps too.
    """
    low = text.lower()
    if len(low) != len(text):  # a character whose lower case is longer ("İ") keeps its case
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    if not low.isascii():  # accents folded one character for one ("neumonía" → "neumonia")
        low = "".join(_unaccent(c) for c in low)
    out: list[str] = []
    index: list[int] = []
    last = 0
    for m in _FOLD.finditer(low):
        out.append(low[last : m.start()])
        index.extend(range(last, m.start()))
        s = m.start()
        if m.group("oe") or m.group("ae"):
            out.append("e")
            index.append(s + 1)
        elif m.group("our"):
            out.append("or")
            index.extend((s, s + 2))
        else:
            out.append("iz")
            index.extend((s, s + 1))
        last = m.end()
    out.append(low[last:])
    index.extend(range(last, len(low)))
    index.append(len(text))
    return "".join(out), index


def _unaccent(char: str) -> str:
    """A Latin letter without its accent ("í" → "i"); any other character as it is."""
    base = unicodedata.normalize("NFD", char)[0]
    return base if base.isascii() and base.isalpha() else char


def fold_word(text: str) -> str:
    """The folded form of a string (no index)."""
    return fold(text)[0]


#: Clinical synonyms and abbreviations, keyed by a label name as the catalogs spell it
#: (normalised: lower case, one space between words). Weak context words are in CONTEXT.
SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "pneumonia": ("bronchopneumonia", "pneumonic consolidation", "pneumonic changes"),
    "glaucoma": ("glaucomatous optic neuropathy", "glaucomatous cupping", "GON", "POAG"),
    "non-glaucoma": ("healthy optic disc", "healthy disc", "physiological cupping"),
    "ulcerative colitis": ("UC",),
    "esophagitis": ("reflux esophagitis", "erosive esophagitis", "oesophagitis"),
    "polyps": ("adenoma", "adenomatous polyp", "polypoid lesion"),
    "dyed lifted polyps": (
        "lifted polyp",
        "blue lifted polyp",
        "stained lifted polyp",
        "blue-stained lifted polyp",
        "dyed polyp",
        "blue-stained polyp",
        "dye-stained polyp",
        "indigo carmine lifted polyp",
    ),
    "dyed resection margins": (
        "resection margin",
        "resection margins",
        "blue resection margins",
        "stained resection margins",
        "blue-stained resection margins",
        "dye-stained resection margins",
        "dyed margins",
        "blue-stained margins",
        "resection site",
        "polypectomy site",
        "post-polypectomy site",
        "EMR site",
    ),
    "basal cell carcinoma": ("BCC", "basal cell cancer", "basalioma", "rodent ulcer"),
    "squamous cell carcinoma": ("SCC", "cSCC", "squamous cell cancer"),
    "actinic keratosis": ("AK", "solar keratosis", "AKIEC"),
    "actinic keratoses and intraepithelial carcinoma": ("AK", "solar keratosis", "AKIEC"),
    "melanoma": ("mel", "malignant melanoma", "lentigo maligna"),
    "melanocytic nevi": ("benign nevus", "naevus", "common mole", "benign mole", "NV"),
    "nevus": ("benign nevus", "common mole", "benign mole", "melanocytic naevus"),
    "seborrheic keratosis": ("SK", "SebK", "seb K", "seborrheic wart", "basal cell papilloma"),
    "benign keratosis-like lesions": ("BKL", "SK", "SebK", "seborrheic wart", "LPLK"),
    "pigmented benign keratosis": ("solar lentigo", "lentigo", "LPLK"),
    "dermatofibroma": ("DF", "fibrous histiocytoma", "benign fibrous histiocytoma"),
    "vascular lesions": ("hemangioma", "cherry angioma", "VASC"),
    "vascular lesion": ("hemangioma", "angioma", "cherry angioma", "angiokeratoma"),
    "proliferative diabetic retinopathy": ("PDR", "proliferative DR"),
    "no diabetic retinopathy": ("no DR", "no apparent retinopathy", "no retinopathy"),
    "covid-19": ("COVID", "COVID pneumonia", "COVID-19 pneumonia", "SARS-CoV-2 pneumonia"),
}

#: Common clinical abbreviations and the names they stand for. They apply to every label
#: set, a catalog's or a free list of labels: a label named by either side also gets the
#: other side (label "CNV" ↔ "choroidal neovascularization", "Tuberculosis" ↔ "TB"), under
#: the same rule as SYNONYMS (dropped when it would name two labels of the set).
ABBREVIATIONS: Final[dict[str, tuple[str, ...]]] = {
    "TB": ("tuberculosis",),
    "MI": ("myocardial infarction",),
    "CHF": ("congestive heart failure",),
    "COPD": ("chronic obstructive pulmonary disease",),
    "PE": ("pulmonary embolism",),
    "DVT": ("deep vein thrombosis", "deep venous thrombosis"),
    "PTX": ("pneumothorax",),
    "ARDS": ("acute respiratory distress syndrome",),
    "ILD": ("interstitial lung disease",),
    "UC": ("ulcerative colitis",),
    "CD": ("crohn's disease", "crohn disease"),
    "GERD": ("gastroesophageal reflux disease", "gastro-oesophageal reflux disease"),
    "AMD": ("age-related macular degeneration", "age related macular degeneration"),
    "ARMD": ("age-related macular degeneration",),
    "DR": ("diabetic retinopathy",),
    "DME": ("diabetic macular edema", "diabetic macular oedema"),
    "DMO": ("diabetic macular oedema", "diabetic macular edema"),
    "CNV": ("choroidal neovascularization", "choroidal neovascularisation"),
    "RVO": ("retinal vein occlusion",),
    "CSR": ("central serous retinopathy",),
    "CSC": ("central serous chorioretinopathy",),
    "NPDR": ("non-proliferative diabetic retinopathy",),
    "PDR": ("proliferative diabetic retinopathy",),
    "BCC": ("basal cell carcinoma",),
    "SCC": ("squamous cell carcinoma",),
    "AK": ("actinic keratosis",),
    "SK": ("seborrheic keratosis",),
    "DF": ("dermatofibroma",),
}

#: Phrases that clinicians shorten inside longer names: a name containing the phrase also
#: gets each replacement ("moderate non-proliferative diabetic retinopathy" → "moderate
#: NPDR", "moderate DR", "moderate diabetic retinopathy").
PHRASES: Final[dict[str, tuple[str, ...]]] = {
    "non proliferative diabetic retinopathy": (
        "npdr",
        "non proliferative dr",
        "diabetic retinopathy",
        "dr",
    ),
}

#: Two-label sets whose labels deny each other (besides "normal" vs a finding and "X" vs
#: "no X"/"non-X", which label_names finds by itself): "not malignant" is benign.
COMPLEMENTS: Final = frozenset(
    frozenset(pair)
    for pair in (
        ("benign", "malignant"),
        ("negative", "positive"),
        ("absent", "present"),
        ("no", "yes"),
        ("healthy", "diseased"),
        ("healthy", "disease"),
    )
)

#: Anatomy and context words that only point to a label when nothing else is stated.
CONTEXT: Final[dict[str, tuple[str, ...]]] = {
    "normal cecum": ("appendiceal orifice", "ileocecal valve", "caecal pole", "cecal pole"),
    "normal pylorus": ("pyloric channel", "pyloric ring", "pyloric opening"),
    "normal z-line": ("squamocolumnar junction", "gastroesophageal junction", "GEJ", "GOJ"),
}

_REAL_WORDS_TEXT = """
formal normally abnormal several severed sever severity modest moderately moderation
mildly melanin melanosis melanocyte melanocytic melanotic keratitis keratin keratoses
pneumonic pneumonitis pneumonias glaucomas glaucomatous polypoid polyposis polypectomy
pyloric cecal colitis colonic ulcerated ulceration ulcerating esophageal esophagus
proliferating proliferation retinal retinopathy retina vascularity vasculitis vascular
lesions lesion benign benignly malignancy malignant carcinoid sarcoma lentigines lentigo
nevoid angioma angiomas adenoma adenomas margin margins marginal lifted lifting dyed
dying dermal dermis fibroma fibrosis seborrhea sebaceous actinic acting action squamous
squama general regular natural neutral central lateral nominal normals
"""
#: Real words (English and medical) that are never read as a typo of a label name.
REAL_WORDS: Final = frozenset(_REAL_WORDS_TEXT.split())

#: Medical suffixes that change the meaning of a word (-itis is not -osis).
_SUFFIXES: Final = ("itis", "osis", "oma", "emia", "pathy", "ectomy", "otomy", "plasia", "al", "ic")


def _suffix(word: str) -> str:
    return next((s for s in _SUFFIXES if word.endswith(s)), "")


def distance(a: str, b: str, limit: int) -> int:
    """Damerau (optimal string alignment) edit distance, or limit + 1 when it exceeds limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1] if prev[-1] <= limit else limit + 1


def near_word(word: str, vocabulary: Mapping[str, str], anchored: bool) -> str | None:
    """The one name word a misspelt word stands for, or None (rules in the module doc).

    ``vocabulary`` maps each written form of a name word (singular and plural) to its base
    word; a match must be unique by base word. ``anchored`` allows the looser rule for a
    word inside a multi-word name (≥4 letters, 1 edit, real words allowed); the caller
    checks that the other words of the name are there.
    """
    if not word.isalpha() or word in vocabulary:
        return None
    if not anchored and (len(word) < 6 or word in REAL_WORDS):
        return None
    if anchored and len(word) < 4:
        return None
    best: dict[str, tuple[int, str]] = {}
    mine = _suffix(word)
    for form, base in vocabulary.items():
        if form[0] != word[0]:
            if not anchored and len(form) >= 8 and form[1:] == word:  # "neumonia"
                best[base] = (1, form)
            continue
        longest = max(len(word), len(form))
        limit = 2 if longest >= 9 and not anchored else 1
        if (not anchored and longest < 6) or abs(len(form) - len(word)) > limit:
            continue
        theirs = _suffix(form)
        if mine and theirs and mine != theirs:
            continue
        d = distance(word, form, limit)
        if d <= limit and (base not in best or d < best[base][0]):
            best[base] = (d, form)
    ranked = sorted(best.values())
    if not ranked or (len(ranked) > 1 and ranked[1][0] == ranked[0][0]):
        return None
    return ranked[0][1]
