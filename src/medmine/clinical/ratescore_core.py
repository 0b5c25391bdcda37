"""RaTEScore's scoring rules, free of models: entity spans from BIO labels, the type-weighted
similarity with its negation penalty, and the per-report F1 (Zhao et al. 2024, "RaTEScore: A
Metric for Radiology Report Generation"; reference package ``RaTEScore`` 0.6.0 on PyPI).

- Entities: each sentence's wordpiece labels (``B-TYPE`` / ``I-TYPE`` / ``O``) become spans by
  the reference's rules, which look one label ahead and keep its quirks (:func:`entity_spans`).
- For each entity of one report, its most similar entity of the other report (cosine of the
  embeddings, top 1); the match counts its similarity times the affinity weight of the type
  pair, times the negation weight when the pair is a disease or abnormality against its
  negation; the sum is divided by the sum of the weights (:func:`weighted_similarity`).
- Per report: F1 of the two directions; 0.5 when either side has no entity (as published).

The two published affinity matrices (``long`` for reports, ``short`` for sentences) are the
reference package's ``DEFAULT_MATRIX_LONG`` / ``DEFAULT_MATRIX_SHORT``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from medmine.clinical.ratescore_matrices import MATRICES

#: Type pairs (reference type, matched type) that are a finding against its negation.
NEGATION_PAIRS = frozenset({
    ("NON-DISEASE", "DISEASE"),
    ("NON-ABNORMALITY", "ABNORMALITY"),
    ("DISEASE", "NON-DISEASE"),
    ("ABNORMALITY", "NON-ABNORMALITY"),
    ("NON-DISEASE", "ABNORMALITY"),
    ("NON-ABNORMALITY", "DISEASE"),
    ("DISEASE", "NON-ABNORMALITY"),
    ("ABNORMALITY", "NON-DISEASE"),
})  # fmt: skip
#: Score of a report pair where one side has no entity (published rule).
NO_ENTITY_SCORE = 0.5

Affinity = dict[tuple[str, str], float]


def load_affinity(name: str) -> Affinity:
    """The affinity matrix ``long``, ``short`` or a JSON file of the reference's form
    (``{"abnormality_anatomy": w, ..., "neg_weight": w}``), keyed by upper-case type pairs."""
    if name.lower() in MATRICES:
        raw: Mapping[str, float] = MATRICES[name.lower()]
    else:
        path = Path(name).expanduser()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"ratescore_matrix={name!r}: not 'long' or 'short' and not a readable JSON "
                f"matrix ({exc})"
            ) from None
    out: Affinity = {}
    for key, value in raw.items():
        a, _, b = key.partition("_")
        out[(a.upper(), b.upper())] = float(value)
    if ("NEG", "WEIGHT") not in out:
        raise ValueError(f"ratescore_matrix={name!r}: no neg_weight entry")
    return out


def entity_spans(tokens: Sequence[str], labels: Sequence[str]) -> list[tuple[int, int, str]]:
    """(first, last, type) token spans of one sentence, by the reference's rules.

    ``labels`` may be longer than ``tokens`` (labels of padding in a batch); the look-ahead
    reads them, as the reference does. A B- followed by I- opens a span that the last I-
    (followed by B- or O) closes; a lone B- is a one-token span. A span still open at the end
    closes before the final token, except when the span before it ended at a label followed
    by B- (the reference then still holds that end and drops the open span).
    """
    spans: list[tuple[int, int, str]] = []
    start: int | None = None
    end: int | None = None
    kind: str | None = None
    for i, (token, label) in enumerate(zip(tokens, labels[: len(tokens)], strict=False)):
        if token in ("[CLS]", "[SEP]") or label == "O" or i >= len(labels) - 1:
            continue
        nxt = labels[i + 1]
        if label.startswith("B-"):
            if nxt.startswith("I-"):
                start, kind = i, label[2:]
            elif nxt.startswith("B-"):
                spans.append((i, i, label[2:]))
                start, end, kind = i, i, label[2:]
            elif nxt.startswith("O"):
                spans.append((i, i, label[2:]))
                start = end = kind = None
        elif label.startswith("I-"):
            if nxt.startswith("B-"):
                end = i
                if start is not None:
                    spans.append((start, end, str(kind)))
                start, kind = i, label[2:]
            elif nxt.startswith("O"):
                end = i
                if start is not None:
                    spans.append((start, end, str(kind)))
                start = end = kind = None
    if start is not None and end is None:
        spans.append((start, len(tokens) - 2, str(kind)))
    return spans


#: For each entity of one side, (index, cosine) of its most similar entity on the other side.
Top1 = Callable[[Any, Any], list[tuple[int, float]]]


def weighted_similarity(
    matches: Sequence[tuple[int, float]],
    a_types: Sequence[str],
    b_types: Sequence[str],
    affinity: Affinity,
) -> float:
    """The affinity- and negation-weighted mean of the best-match similarities of side a's
    entities (``matches[i]`` = index in b, cosine); 0 when every weight is 0."""
    neg = affinity[("NEG", "WEIGHT")]
    total = weight_sum = 0.0
    for i, (j, sim) in enumerate(matches):
        pair = (a_types[i], b_types[j])
        w = affinity[pair]
        total += sim * w * (neg if pair in NEGATION_PAIRS else 1.0)
        weight_sum += w
    return total / weight_sum if weight_sum != 0 else 0.0


def report_score(
    ref: tuple[Any, Sequence[str]],
    hyp: tuple[Any, Sequence[str]],
    affinity: Affinity,
    top1: Top1,
) -> float:
    """RaTEScore of one generated report against its reference: the F1 of both directions.
    ``ref`` and ``hyp`` are (entity embeddings, entity types); ``top1`` finds best matches."""
    (r_emb, r_types), (h_emb, h_types) = ref, hyp
    if len(r_types) == 0 or len(h_types) == 0:
        return NO_ENTITY_SCORE
    p = weighted_similarity(top1(r_emb, h_emb), r_types, h_types, affinity)
    r = weighted_similarity(top1(h_emb, r_emb), h_types, r_types, affinity)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)
