"""BERTScore from a local encoder folder: embeddings here, matching in
:mod:`medmine.metrics.clinical.bertscore`.

As the ``bert_score`` package (v0.3.x): the text is stripped and encoded with the model's
special tokens (RoBERTa/GPT-2 tokenizers with a leading space, as bert_score asks for; cut
at the tokenizer's maximum length; an empty text is only the special tokens); token
embeddings are hidden state ``layers`` (0 is the embedding layer); no baseline rescaling.
The model and layer are stated in the recipe:
BERTScore values are only comparable with the same model, layer and IDF setting.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medmine.clinical.weights import BERTSCORE, locate, require_modules
from medmine.metrics.clinical.bertscore import greedy_match, idf_weights, token_weights
from medmine.tasks.report_scorers import ScorerResult

#: bert_score's default layers for common encoders (its utils.model2layers).
DEFAULT_LAYERS = {
    "roberta-large": 17,
    "roberta-base": 10,
    "distilroberta-base": 5,
    "bert-base-uncased": 9,
    "distilbert-base-uncased": 5,
    "microsoft/deberta-xlarge-mnli": 40,
}


#: Byte-level BPE tokenizers bert_score encodes with a leading space.
BYTE_BPE = ("GPT2Tokenizer", "RobertaTokenizer")


class Encoder:
    """A Hugging Face encoder and tokenizer from a local folder (eval mode, CPU)."""

    def __init__(self, folder: Path, batch_size: int = 16) -> None:
        """Load the folder offline; nothing is fetched from a hub."""
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        if type(self.tokenizer).__name__.removesuffix("Fast") in BYTE_BPE:
            # bert_score encodes RoBERTa/GPT-2 text with a leading space (add_prefix_space),
            # which published roberta-large scores rely on. transformers 5 ignores that
            # argument in encode(), so it is set when the tokenizer is built.
            self.tokenizer = AutoTokenizer.from_pretrained(
                str(folder), local_files_only=True, add_prefix_space=True
            )
        self.model = AutoModel.from_pretrained(str(folder), local_files_only=True)
        self.model.eval()
        self.batch_size = batch_size
        # Only [CLS] and [SEP] weigh 0 (bert_score); [UNK] counts like any token.
        self.special = {self.tokenizer.cls_token_id, self.tokenizer.sep_token_id}
        # A tokenizer saved without model_max_length reports ~1e30: cap at the positions.
        positions = getattr(self.model.config, "max_position_embeddings", None) or 512
        self.max_length = min(int(self.tokenizer.model_max_length), int(positions))

    def encode(self, text: str) -> list[int]:
        """Token ids with special tokens, as bert_score's sent_encode."""
        text = text.strip()
        if not text:
            return list(self.tokenizer.encode("", add_special_tokens=True))
        return list(
            self.tokenizer.encode(
                text,
                add_special_tokens=True,
                max_length=self.max_length,
                truncation=True,
            )
        )

    def embed(self, ids: Sequence[list[int]], layer: int) -> list[np.ndarray]:
        """Hidden state ``layer`` of each token sequence (padded in batches, unpadded out)."""
        import torch

        pad = self.tokenizer.pad_token_id or 0
        out: list[np.ndarray] = []
        with torch.inference_mode():
            for start in range(0, len(ids), self.batch_size):
                batch = ids[start : start + self.batch_size]
                width = max(len(b) for b in batch)
                x = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for i, b in enumerate(batch):
                    x[i, : len(b)] = torch.tensor(b)
                    mask[i, : len(b)] = 1
                hidden = self.model(x, attention_mask=mask, output_hidden_states=True)
                states = hidden.hidden_states[layer]
                out.extend(states[i, : len(b)].double().numpy() for i, b in enumerate(batch))
        return out


@functools.lru_cache(maxsize=2)
def _encoder(folder: str) -> Encoder:
    return Encoder(Path(folder))


class BERTScorer:
    """BERTScore P/R/F1 (F1 is the one reported) with a stated model, layer and IDF setting."""

    name = "bertscore"

    def __init__(self, folder: Path, layers: int, idf: bool, model_name: str) -> None:
        """A checked folder; the model loads on first use."""
        self.folder, self.layers, self.idf, self.model_name = folder, layers, idf, model_name

    def describe(self) -> dict[str, Any]:
        """The recipe: model, layer, IDF, folder."""
        return {
            "metric": "BERTScore F1 (no baseline rescaling)",
            "model": self.model_name,
            "layer": self.layers,
            "idf": self.idf,
            "weights": str(self.folder),
        }

    def score(self, refs: Sequence[str], hyps: Sequence[str]) -> ScorerResult:
        """Per-report P/R/F1; the corpus figures are their means (as bert_score reports)."""
        enc = _encoder(str(self.folder))
        ref_ids = [enc.encode(r) for r in refs]
        hyp_ids = [enc.encode(h) for h in hyps]
        idf = idf_weights(ref_ids) if self.idf else None
        ref_emb = enc.embed(ref_ids, self.layers)
        hyp_emb = enc.embed(hyp_ids, self.layers)
        rows = [
            greedy_match(
                he, token_weights(hi, enc.special, idf), re_, token_weights(ri, enc.special, idf)
            )
            for he, hi, re_, ri in zip(hyp_emb, hyp_ids, ref_emb, ref_ids, strict=True)
        ]
        arr = np.array(rows, dtype=float).reshape(-1, 3)
        metrics = {
            "bertscore_precision": float(arr[:, 0].mean()),
            "bertscore_recall": float(arr[:, 1].mean()),
            "bertscore_f1": float(arr[:, 2].mean()),
        }
        return ScorerResult(metrics, {"bertscore_f1": arr[:, 2].tolist()}, self.describe())


def make_bertscore(options: Mapping[str, Any]) -> BERTScorer:
    """Factory: checks the extra and folder; the layer comes from ``bertscore_layers`` or the
    bert_score default for the model named in config.json, else it must be given."""
    require_modules("bertscore", "torch", "transformers")
    folder = locate(BERTSCORE, options)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    name = str(options.get("bertscore_model") or config.get("_name_or_path") or folder.name)
    layers = options.get("bertscore_layers") or DEFAULT_LAYERS.get(name)
    total = int(config.get("num_hidden_layers") or config.get("n_layers") or 0)
    if layers is None:
        raise ValueError(
            f"bertscore: no default layer for model {name!r} in {folder}: give the task option "
            f"bertscore_layers (1..{total or '?'}); bert_score defaults: {DEFAULT_LAYERS}"
        )
    if total and not 0 <= int(layers) <= total:
        raise ValueError(f"bertscore: bertscore_layers={layers} but {name} has {total} layers")
    return BERTScorer(folder, int(layers), bool(options.get("bertscore_idf", False)), name)
