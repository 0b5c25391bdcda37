"""The optimised labeler gives exactly the outputs of the labeler before its speed work.

Two references: the golden file written by the earlier implementation (``golden.py``), and
that implementation itself kept as ``reference_labeler.py``, run here on fresh reports.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reference_labeler
from golden import (
    GOLDEN,
    corpus_digest,
    encode,
    generated_corpus,
    real_reports,
    text_key,
)
from report_corpus import (
    distinct_sentences,
    make_archive_reports,
    make_varied_reports,
)

from medmine.chexpert import fast, labeler, rules


def _golden() -> tuple[str, dict[str, tuple[str, str]]]:
    """The golden file's corpus digest and its labels per report key."""
    lines = GOLDEN.read_text(encoding="utf-8").splitlines()
    digest = lines[0].split(" corpus ")[1]
    table = {}
    for line in lines[1:]:
        key, default, compat = line.split("\t")
        table[key] = (default, compat)
    return digest, table


def test_golden_labels_reproduced_on_generated_reports() -> None:
    digest, table = _golden()
    texts = generated_corpus()
    assert corpus_digest(texts) == digest, "the corpus generator changed: golden file is stale"
    assert len(texts) == 6000
    labeler.clear_caches()
    wrong = []
    for index, text in enumerate(texts):
        got = (encode(labeler.label_report(text)), encode(labeler.label_report(text, True)))
        if got != table[f"g:{index}"]:
            wrong.append((index, got, table[f"g:{index}"], text))
    assert not wrong, f"{len(wrong)} reports differ, first: {wrong[0]}"


def test_golden_labels_reproduced_on_real_reports() -> None:
    texts = real_reports()
    if not texts:
        pytest.skip("no real reports under $MEDMINE_REALDATA")
    _, table = _golden()
    for text in texts:
        got = (encode(labeler.label_report(text)), encode(labeler.label_report(text, True)))
        assert got == table[text_key(text)], text


@pytest.mark.parametrize("compat", [False, True])
def test_same_labels_and_mentions_as_reference_on_fresh_reports(compat: bool) -> None:
    archive = make_archive_reports(1500, seed=123)
    texts = archive + distinct_sentences(archive[:500]) + make_varied_reports(2000, seed=321)
    labeler.clear_caches()
    for text in texts:
        assert labeler.label_report(text, compat) == reference_labeler.label_report(text, compat)
        sentences = labeler.split_sentences(labeler.clean_report(text))
        assert labeler.extract_mentions(sentences, compat) == [
            labeler.Mention(m.observation, m.text, m.sentence, m.start, m.end)
            for m in reference_labeler.extract_mentions(sentences, compat)
        ]


ODD_TEXTS = [
    "",
    "   ",
    "No  pneumothorax..And/or effusion/edema, ,, ;: x",
    "CHF. chf? Heart failure! pacer lines line  line line drain drain.",
    "Ünïcödé effusion — naïve ﬁbrosis İstanbul pneumothorax.",
    "1234 5678. 4.5 cm mass. ___ XXXX XXXX.",
    "over the heart over the left heart size in the superior mediastinum contour contours",
    "noncalcified nodule, non-calcified nodule, non calcified nodule, calcified nodule",
    "compatible with effusion; consistent with edema, with atelectasis, which is new",
    "although, aside from, apart from, other than, whereas, while, except, however, but",
    "and the heart and there is and a mass andthe, there effusion",
]


@pytest.mark.parametrize("text", ODD_TEXTS)
@pytest.mark.parametrize("compat", [False, True])
def test_same_labels_as_reference_on_odd_text(text: str, compat: bool) -> None:
    assert labeler.label_report(text, compat) == reference_labeler.label_report(text, compat)
    assert labeler.clean_report(text) == reference_labeler.clean_report(text)


def test_fast_terminators_match_the_rule_pattern() -> None:
    sentences = [
        s
        for text in ODD_TEXTS + make_varied_reports(500, seed=5)
        for s in labeler.split_sentences(labeler.clean_report(text))
    ]
    for sentence in sentences:
        plain = [m.span() for m in rules.SCOPE_TERMINATOR.finditer(sentence)]
        assert [m.span() for m in fast.SCOPE_TERMINATOR.finditer(sentence)] == plain, sentence


def test_phrase_finder_is_exact() -> None:
    phrases = [phrase for _, phrase in labeler._MENTION_PHRASES]
    finder = fast.PhraseFinder(phrases)
    small = fast.PhraseFinder(phrases, cache_limit=50)  # emptied again and again
    texts = ODD_TEXTS + make_varied_reports(300, seed=9)
    for text in texts + distinct_sentences(texts):
        cleaned = labeler.clean_report(text)
        expected = [i for i, p in enumerate(phrases) if p in cleaned]
        assert finder.present(cleaned) == expected
        assert small.present(cleaned) == expected
    # Threads sharing one finder whose index is replaced again and again.
    cleaned = [labeler.clean_report(t) for t in distinct_sentences(texts) * 3]
    shared = fast.PhraseFinder(phrases, cache_limit=200)
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(shared.present, cleaned))
    assert got == [[i for i, p in enumerate(phrases) if p in text] for text in cleaned]
    with pytest.raises(ValueError, match="no letters"):
        fast.PhraseFinder(["1 2"])
