"""RaTEScore from local weights: sentence split (medspaCy's PyRuSH, as the reference), medical
NER over each sentence (RaTE-NER-Deberta), entity embeddings (BioLORD-2023-C, the [CLS] state),
then the type-weighted matching of :mod:`medmine.clinical.ratescore_core`.

The folder (``$MEDMINE_RATESCORE_WEIGHTS`` or ``weights: {ratescore: DIR}``) holds two
``save_pretrained`` folders: ``ner/`` (huggingface.co/Angelakeke/RaTE-NER-Deberta) and
``embedder/`` (huggingface.co/FremyCompany/BioLORD-2023-C). As the reference package, sentences
are labelled ``batch_size`` at a time (default 1, the reference's): the span rules read one
label past each sentence's last token, which in a batch is a padding position's label, so
other batch sizes can change the entities found.

One deliberate difference: a report with no sentence (empty, or only fragments under 3
characters) has no entities here and its pair scores 0.5 (the published rule for a side
without entities). The reference package instead drops it from its entity list, so every
later report is paired with the wrong reference and fewer scores than pairs come back
(RaTEScore 0.6.0: ``compute_score(["", b], [x, y])`` returns one score, of ``b`` against
``x``). The equality tests use reports that all have a sentence.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medmine.clinical.ratescore_core import entity_spans, load_affinity, report_score
from medmine.clinical.weights import RATESCORE, fingerprint, locate, require_modules
from medmine.tasks.report_scorers import ScorerResult

Entities = list[tuple[str, str]]


@functools.lru_cache(maxsize=1)
def _sentencizer() -> Any:
    """medspaCy's pipeline with its PyRuSH sentence splitter (its debug log silenced)."""
    import medspacy
    from loguru import logger

    logger.disable("PyRuSH")
    return medspacy.load(medspacy_enable=["medspacy_pyrush"])


def split_sentences(texts: Sequence[str]) -> list[tuple[int, str]]:
    """(report index, sentence) of every sentence with a word and at least 3 characters."""
    nlp = _sentencizer()
    out = []
    for k, text in enumerate(texts):
        for sent in nlp(text).sents:
            s = str(sent).strip()
            if s.split() and len(s) >= 3:
                out.append((k, s))
    return out


class RaTEModels:
    """The NER model and the entity encoder of one folder (eval mode, CPU)."""

    def __init__(self, folder: Path, batch_size: int) -> None:
        """Load both models offline; nothing is fetched from a hub."""
        from transformers import AutoModel, AutoModelForTokenClassification, AutoTokenizer

        ner, emb = str(folder / "ner"), str(folder / "embedder")
        self.ner_tok = AutoTokenizer.from_pretrained(ner, local_files_only=True)
        self.ner = AutoModelForTokenClassification.from_pretrained(ner, local_files_only=True)
        self.emb_tok = AutoTokenizer.from_pretrained(emb, local_files_only=True)
        self.emb = AutoModel.from_pretrained(emb, local_files_only=True)
        self.ner.eval()
        self.emb.eval()
        self.id2label = self.ner.config.id2label
        self.batch_size = batch_size

    def entities(self, texts: Sequence[str]) -> list[Entities]:
        """(entity text, type) of each report, sentence by sentence."""
        import torch

        sents = split_sentences(texts)
        out: list[Entities] = [[] for _ in texts]
        for i in range(0, len(sents), self.batch_size):
            batch = sents[i : i + self.batch_size]
            enc = self.ner_tok(
                [s for _, s in batch], max_length=512, padding=True, truncation=True,
                return_tensors="pt",
            )  # fmt: skip
            with torch.no_grad():
                best = self.ner(**enc).logits.argmax(dim=2).tolist()
            for (k, _), ids, mask, labels in zip(
                batch, enc["input_ids"], enc["attention_mask"], best, strict=True
            ):
                tokens = self.ner_tok.convert_ids_to_tokens(ids[: int(mask.sum())].tolist())
                names = [self.id2label[j] for j in labels]
                for a, b, kind in entity_spans(tokens, names):
                    text = self.ner_tok.convert_tokens_to_string(tokens[a : b + 1])
                    out[k].append((text, kind))
        return out

    def embed(self, entities: Entities) -> Any:
        """[CLS] embedding of each entity text (cut at 30 tokens, as the reference): a tensor."""
        import torch

        if not entities:
            return torch.zeros((0, 0))
        enc = self.emb_tok(
            [t for t, _ in entities], truncation=True, padding=True, max_length=30,
            return_tensors="pt",
        )  # fmt: skip
        with torch.no_grad():
            return self.emb(**enc).last_hidden_state[:, 0, :]


def top1(a: Any, b: Any) -> list[tuple[int, float]]:
    """For each row of ``a``, (index, cosine) of its most similar row of ``b``.

    Computed as the reference: L2-normalised rows, one matrix-vector product per row, then
    ``torch.topk(k=1)``, whose choice among equal similarities (the same entity text twice
    with two types) is torch's own, so it is called here too rather than an argmax.
    """
    import torch
    import torch.nn.functional as F

    a, b = F.normalize(a, p=2, dim=1), F.normalize(b, p=2, dim=1)
    out = []
    for row in a:
        values, indices = torch.topk(torch.matmul(b, row), 1, largest=True)
        out.append((int(indices[0]), float(values[0])))
    return out


@functools.lru_cache(maxsize=2)
def _models(folder: str, batch_size: int) -> RaTEModels:
    return RaTEModels(Path(folder), batch_size)


class RaTEScoreScorer:
    """RaTEScore per report (mean over reports); an empty side scores 0.5 (published rule)."""

    name = "ratescore"

    def __init__(self, folder: Path, matrix: str, batch_size: int) -> None:
        """A checked folder; the models load on first use."""
        self.folder, self.matrix, self.batch_size = folder, matrix, batch_size
        self.affinity = load_affinity(matrix)

    def describe(self) -> dict[str, Any]:
        """The recipe of this metric."""
        weights = [
            p for p in sorted(self.folder.glob("*/*")) if p.suffix in (".safetensors", ".bin")
        ]
        return {
            "metric": "RaTEScore (NER entities, BioLORD similarity, affinity matrix)",
            "matrix": self.matrix,
            "ner_batch_size": self.batch_size,
            "weights": str(self.folder),
            "checkpoint_sha": {p.parent.name: fingerprint(p) for p in weights},
        }

    def entities(self, texts: Sequence[str]) -> list[Entities]:
        """The entities the NER model finds in each text (for inspection and tests)."""
        return _models(str(self.folder), self.batch_size).entities(texts)

    def score(self, refs: Sequence[str], hyps: Sequence[str]) -> ScorerResult:
        """Entities of both sides, embedded per report, scored pair by pair."""
        models = _models(str(self.folder), self.batch_size)
        ents = models.entities([*refs, *hyps])
        n = len(refs)
        per = []
        for i in range(n):
            r, h = ents[i], ents[n + i]
            ref = (models.embed(r), [t for _, t in r])
            hyp = (models.embed(h), [t for _, t in h])
            per.append(report_score(ref, hyp, self.affinity, top1))
        return ScorerResult({"ratescore": float(np.mean(per))}, {"ratescore": per}, self.describe())


def make_ratescore(options: Mapping[str, Any]) -> RaTEScoreScorer:
    """Factory: checks the packages, the folder and the matrix option."""
    require_modules("ratescore", "torch", "transformers")
    require_modules("ratescore", "medspacy", extra="clinical,ratescore")
    batch_size = int(options.get("ratescore_batch_size") or 1)
    if batch_size < 1:
        raise ValueError(f"ratescore_batch_size={batch_size}: must be at least 1")
    matrix = str(options.get("ratescore_matrix") or "long")
    return RaTEScoreScorer(locate(RATESCORE, options), matrix, batch_size)
