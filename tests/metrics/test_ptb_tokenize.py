"""ptb_tokenize against the Java CoreNLP 3.4.1 PTBTokenizer shipped with pycocoevalcap."""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from medmine.metrics.ptb_tokenize import (
    PUNCTUATIONS,
    _fast_tokens,
    ptb_tokenize,
    ptb_tokenize_raw,
    tokenize_uncached,
)

REALDATA = Path(
    os.environ.get(
        "MEDMINE_REALDATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"
    )
)
IU = REALDATA / "iu_xray_r2gen" / "iu_xray" / "annotation.json"
CHEXPERT = REALDATA / "chexpert_labeler_samples" / "sample_reports.csv"


def _corenlp_jar() -> Path | None:
    """The stanford-corenlp-3.4.1.jar inside pycocoevalcap, if installed."""
    try:
        from pycocoevalcap.tokenizer import ptbtokenizer
    except ImportError:
        return None
    jar = Path(ptbtokenizer.__file__).parent / ptbtokenizer.STANFORD_CORENLP_3_4_1_JAR
    return jar if jar.is_file() else None


needs_java = pytest.mark.skipif(
    shutil.which("java") is None or _corenlp_jar() is None,
    reason="java or pycocoevalcap's stanford-corenlp-3.4.1.jar not available",
)


def java_tokenize(texts: list[str]) -> list[list[str]]:
    """Run the Java tokenizer (pycocoevalcap's options) once per text, in one JVM."""
    jar = _corenlp_jar()
    assert jar is not None
    with tempfile.TemporaryDirectory() as d:
        listing = []
        for i, t in enumerate(texts):
            p = Path(d) / f"{i}.txt"
            p.write_text(t, encoding="utf-8")
            listing.append(f"{p}\t{p}.out")
        lst = Path(d) / "files.lst"
        lst.write_text("\n".join(listing) + "\n", encoding="utf-8")
        cmd = ["java", "-cp", str(jar), "edu.stanford.nlp.process.PTBTokenizer"]
        cmd += ["-preserveLines", "-lowerCase", "-ioFileList", str(lst)]
        subprocess.run(cmd, check=True, capture_output=True)
        outs = [(Path(d) / f"{i}.txt.out").read_text(encoding="utf-8") for i in range(len(texts))]
    result = []
    for out in outs:
        line = out.rstrip("\n")
        assert "\n" not in line
        result.append([w for w in line.rstrip().split(" ") if w and w not in PUNCTUATIONS])
    return result


def iu_reports() -> list[str]:
    """All IU X-ray reports of the sample (skip when the data is absent)."""
    if not IU.is_file():
        pytest.skip(f"IU X-ray sample not found at {IU}")
    ann = json.loads(IU.read_text(encoding="utf-8"))
    return [e["report"] for split in ann.values() for e in split]


TRICKY = [
    # a single letter and a period before a sentence opener loses its period (CoreNLP 3.4.1)
    "unremarkable. a. There is no effusion. x B. An opacity, e. The heart a. Heart is",
    "x a. There, is x a. Theres is x U.S. There is z. It, a.b. There is a. Mr. Smith",
    "I don't know the patient's \"x-ray\" (3.5 cm) etc.",
    "1.5 cm nodule at T12-L1; x-ray 3.5, XXXX-XXXX, ___ and 10:30 am.",
    "50% vs. 5%-10%... and/or s/p 1/2 5 7/8 w/o ½",
    "'single' quotes, “curly” ones and ‘these’ — dashes – here --- there",
    "Dr. Smith, e.g. the U.S. The heart. Jan. The end etc.",
    "No. 5 Fig. 3 approx. 5 ca. 5 pp. 5 no. The",
    "can't won't cannot gonna it's dogs' y'all '90s o'clock",
    "[1] {2} <3> <b>bold</b> (a) b) ±2 ° × µm ≥ 5 ~ 10^5 a=b",
    "effusion.No acute disease.The heart... is normal.. ok",
    "http://x.org/a www.abc.com a@b.com @user #tag C3-C4 T2-weighted 1.2x3.4 cm",
    "1. Left pleural effusion. 2. Cardiomegaly.",
    "a.m. p.m. A. B. i.e., e.g.: Ph.D. Jr. Inc.",
    # "No." keeps its period only before a digit; sentence pieces split at ". " and rejoined
    "No. 5 No.  5 No. acute disease. Nos. 3 and nos. 4. NO. 7 no. No. The no.5 mm No.",
    "Size 3. 5 mm. Level 3.  5 mm.. . Effusion. 2. Heart.. 3 cm. .5 cm. ",
    ". Leading period.  Two spaces. 10. 2 views. Trailing. ",
    # lone punctuation and clitics, hyphen-initial words, abbreviations after a slash
    "normal , the patient 's. 3 's 5 x , 5 ,. The -like. -etc. The -No. 5 -a. The -cannot",
    "Cannot be excluded. x cannot. The CANNOT, 5 a cannot 5 3 Cannot 4 cannots xcannot Cannot.",
    "XXXX/CT. the a/b. The x/Mr. Smith a/No. 5 XXXX/CT. 5 a/Jan. 5 -xx-yy -Mr. Smith , 's",
]


@needs_java
def test_every_iu_report_matches_java() -> None:
    reports = iu_reports()
    expected = java_tokenize(reports)
    mismatches = [
        (r, e, ptb_tokenize(r))
        for r, e in zip(reports, expected, strict=True)
        if ptb_tokenize(r) != e
    ]
    assert mismatches == []
    assert len(reports) == 150


@needs_java
def test_chexpert_samples_and_tricky_strings_match_java() -> None:
    texts = list(TRICKY)
    if CHEXPERT.is_file():
        with CHEXPERT.open(newline="", encoding="utf-8") as f:
            texts += [row[0].replace("\n", " ") for row in csv.reader(f)]
    expected = java_tokenize(texts)
    for text, exp in zip(texts, expected, strict=True):
        assert ptb_tokenize(text) == exp, text


def test_known_outputs_without_java() -> None:
    assert ptb_tokenize("I don't know the patient's \"x-ray\" (3.5 cm).") == [
        "i", "do", "n't", "know", "the", "patient", "'s", "x-ray", "-lrb-", "3.5", "cm", "-rrb-",
    ]  # fmt: skip
    assert ptb_tokenize("Heart size normal, t12-l1 XXXX.") == [
        "heart",
        "size",
        "normal",
        "t12-l1",
        "xxxx",
    ]
    assert ptb_tokenize_raw("etc.") == ["etc.", "."]
    assert ptb_tokenize("5 7/8") == ["5\u00a07/8"]
    assert ptb_tokenize("") == []
    assert ptb_tokenize("...") == []


def test_line_separators_are_whitespace() -> None:
    base = ptb_tokenize("No effusion. Heart normal.")
    for sep in ["\n", "\r", "\r\n", "\u2028", "\u2029", "\x0b", "\x0c", "\x85"]:
        assert ptb_tokenize(f"No effusion.{sep}Heart normal.") == base


def test_rejects_non_string() -> None:
    with pytest.raises(ValueError, match="expects a str"):
        ptb_tokenize(b"bytes")  # type: ignore[arg-type]


@needs_java
def test_pycocoevalcap_misaligns_on_line_separators_medmine_does_not() -> None:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    caps = {
        "a": [{"caption": "Heart normal.\rLungs clear."}],
        "b": [{"caption": "No effusion\u2028seen."}],
        "c": [{"caption": "Bones intact."}],
    }
    coco = PTBTokenizer().tokenize(caps)
    ours = {k: [" ".join(ptb_tokenize(c["caption"])) for c in v] for k, v in caps.items()}
    assert ours == {
        "a": ["heart normal lungs clear"],
        "b": ["no effusion seen"],
        "c": ["bones intact"],
    }
    assert coco != ours
    assert coco["c"] != ["bones intact"]  # report "c" received another report's tokens


def perturbed_reports(reports: list[str], n: int = 3000) -> list[str]:
    """Reports with the edits the fast path must get right (or hand to the full lexer)."""
    rng = random.Random(7)
    extras = [",", ".", "..", "...", ".,", ",,", ",.", "-like", ".-like", ",-like", "'s", ".'s"]
    extras += [" (XXXX)", " 3.5 cm", " 6th", " T10", "/CT", "/a/b", " 5 7/8", " No.", " etc."]
    extras += [" Dr.", " cannot", " -LRB-", " a-LRB-b", " 12-345-6789", " (12)", " e.g."]
    extras += [" pro-", " 1990's", " well-aerated's", " x-ray.,", ":)", " ;(", " 3..", " 4.5."]
    texts = []
    for i in range(n):
        words = reports[i % len(reports)].split(" ")
        if i % 3 == 0:
            rng.shuffle(words)
        for _ in range(1 + i % 3):
            j = rng.randrange(len(words))
            words[j] = words[j] + rng.choice(extras)
        texts.append(" ".join(words))
    return texts


def test_fast_path_equals_full_lexer() -> None:
    reports = iu_reports()
    texts = reports + perturbed_reports(reports) + TRICKY
    fast_hits = 0
    for text in texts:
        fast = _fast_tokens(text)
        full = [t for t in ptb_tokenize_raw(text) if t not in PUNCTUATIONS]
        if fast is not None:
            fast_hits += 1
            assert fast == full, text
        assert tokenize_uncached(text) == full == ptb_tokenize(text)
    # sentence pieces (split at ". ") joined with odd spacing, digits and "No." at the seams
    rng = random.Random(3)
    seams = [". ", ".  ", ". . ", ".. ", ". 3. ", " 2. ", ". No. ", ". No. 4 ", ".\t", " , "]
    seams += [
        " 's ",
        " -like ",
        " -a. ",
        "/CT. ",
        "/CT. 4 ",
        " 's. ",
        " -No. 3 ",
        " ,. ",
        " cannot ",
        ". Cannot ",
    ]
    joined = []
    for _ in range(400):
        parts = [rng.choice(reports).rstrip(".") for _ in range(3)]
        joined.append(rng.choice(seams).join(parts) + rng.choice(["", ".", ". ", " 5."]))
    joined_fast = 0
    for text in joined:
        fast = _fast_tokens(text)
        full = [t for t in ptb_tokenize_raw(text) if t not in PUNCTUATIONS]
        if fast is not None:
            joined_fast += 1
            assert fast == full, text
    assert joined_fast >= 0.3 * len(joined)
    # the fast path must cover plain report prose, or the metrics lose their speed
    assert sum(_fast_tokens(r) is not None for r in reports) >= 0.9 * len(reports)
    assert fast_hits >= 0.25 * len(texts)


@needs_java
def test_perturbed_reports_match_java() -> None:
    texts = perturbed_reports(iu_reports())
    expected = java_tokenize(texts)
    for text, exp in zip(texts, expected, strict=True):
        assert ptb_tokenize(text) == exp, text


@needs_java
def test_resampled_sentences_match_java() -> None:
    """New reports made of sentences from other reports (word-shuffled ones included)."""
    rng = random.Random(11)
    pool = sorted(
        {s.strip() for t in perturbed_reports(iu_reports()) for s in t.split(".") if s.strip()}
    )
    texts = [
        ". ".join(rng.sample(pool, 5)) + f". Measures {rng.randint(2, 60)} mm." for _ in range(3000)
    ]
    expected = java_tokenize(texts)
    for text, exp in zip(texts, expected, strict=True):
        assert ptb_tokenize(text) == exp, text
