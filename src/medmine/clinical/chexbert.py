"""The CheXbert labeler from a local checkpoint, and the CheXbert-F1 scorer.

Architecture (stanfordmlgroup/CheXbert ``src/models/bert_labeler.py``): BERT-base, dropout and
14 linear heads on the final hidden state of [CLS]; the checkpoint ``chexbert.pth`` is a dict
whose ``model_state_dict`` was saved from ``nn.DataParallel`` (keys ``module.bert.*`` and
``module.linear_heads.{0..13}.*``). Text is prepared as CheXbert's ``label.py`` does: stripped,
newlines and runs of whitespace collapsed, WordPiece-tokenised with bert-base-uncased, cut to
512 ids ending in [SEP]; an empty report is [CLS] [SEP].
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medmine.clinical.weights import CHEXBERT, fingerprint, locate, require_modules
from medmine.metrics.clinical.chexbert_f1 import CHEXBERT_CONDITIONS, chexbert_f1, decode_heads
from medmine.tasks.report_scorers import ScorerResult

MAX_LEN = 512
_SPACES = re.compile(r"\s+")


def prepare(text: str) -> str:
    """The report as CheXbert reads it: whitespace collapsed, stripped."""
    return _SPACES.sub(" ", text.replace("\n", " ")).strip()


class CheXbertLabeler:
    """Labels reports with the 14 CheXbert heads (CPU, batched, eval mode)."""

    def __init__(self, folder: Path, batch_size: int = 16) -> None:
        """Load ``chexbert.pth`` with the BERT config and vocabulary of ``folder``."""
        import torch
        from transformers import BertConfig, BertModel, BertTokenizer

        self.folder = folder
        self.batch_size = batch_size
        self.tokenizer = BertTokenizer(str(folder / "vocab.txt"), do_lower_case=True)
        config = BertConfig.from_json_file(str(folder / "config.json"))
        self.bert = BertModel(config, add_pooling_layer=True)
        hidden = config.hidden_size
        self.heads = torch.nn.ModuleList(
            [torch.nn.Linear(hidden, 4) for _ in range(13)] + [torch.nn.Linear(hidden, 2)]
        )
        self._load(folder / "chexbert.pth")
        self.bert.eval()
        self.heads.eval()

    def _load(self, path: Path) -> None:
        import torch

        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a truncated or foreign file: say which and why
            raise ValueError(f"chexbert: cannot read {path}: {type(exc).__name__}: {exc}") from None
        state = checkpoint.get("model_state_dict") if isinstance(checkpoint, dict) else None
        if not isinstance(state, Mapping):
            raise ValueError(
                f"chexbert: {path} has no 'model_state_dict' (not a CheXbert checkpoint)"
            )
        state = {k.removeprefix("module."): v for k, v in state.items()}
        bert = {k[5:]: v for k, v in state.items() if k.startswith("bert.")}
        heads = {k[13:]: v for k, v in state.items() if k.startswith("linear_heads.")}
        # Checkpoints from transformers 2.x carry the position_ids buffer newer BERTs lack.
        own = self.bert.state_dict()
        bert = {k: v for k, v in bert.items() if k in own or not k.endswith("position_ids")}
        missing = sorted(set(own) - set(bert) - {"embeddings.position_ids"})
        extra = sorted(set(bert) - set(own))
        if missing or extra or not heads:
            raise ValueError(
                f"chexbert: {path} does not match BERT + 14 heads of {self.folder / 'config.json'}"
                f" (missing {missing[:5]}, unexpected {extra[:5]}, heads {len(heads) // 2})"
            )
        self.bert.load_state_dict(bert, strict=False)
        try:
            self.heads.load_state_dict(heads, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"chexbert: {path}: heads do not match: {exc}") from None

    def encode(self, text: str) -> list[int]:
        """Token ids of one report, as CheXbert's tokenize()."""
        tokens = self.tokenizer.tokenize(prepare(text))
        if not tokens:
            return [self.tokenizer.cls_token_id, self.tokenizer.sep_token_id]
        # = encode_plus(tokens)["input_ids"] of the reference (gone from transformers 5)
        tok = self.tokenizer
        ids = [tok.cls_token_id, *tok.convert_tokens_to_ids(tokens), tok.sep_token_id]
        if len(ids) > MAX_LEN:
            ids = [*ids[: MAX_LEN - 1], self.tokenizer.sep_token_id]
        return ids

    def label(self, texts: Sequence[str]) -> np.ndarray:
        """An (n, 14) array of CheXpert values (1, 0, -1, NaN) in CheXbert head order."""
        import torch

        encoded = [self.encode(t) for t in texts]
        logits: list[list[np.ndarray]] = [[] for _ in CHEXBERT_CONDITIONS]
        with torch.inference_mode():
            for start in range(0, len(encoded), self.batch_size):
                batch = encoded[start : start + self.batch_size]
                width = max(len(b) for b in batch)
                ids = torch.zeros((len(batch), width), dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for i, b in enumerate(batch):
                    ids[i, : len(b)] = torch.tensor(b)
                    mask[i, : len(b)] = 1
                cls = self.bert(ids, attention_mask=mask)[0][:, 0, :]
                for h, head in enumerate(self.heads):
                    logits[h].append(head(cls).numpy())
        if not encoded:
            return np.zeros((0, len(CHEXBERT_CONDITIONS)))
        return decode_heads([np.concatenate(x) for x in logits])


@functools.lru_cache(maxsize=2)
def _labeler(folder: str) -> CheXbertLabeler:
    return CheXbertLabeler(Path(folder))


class CheXbertScorer:
    """CheXbert F1 of generated vs reference reports (see :mod:`...chexbert_f1`)."""

    name = "chexbert"

    def __init__(self, folder: Path) -> None:
        """Remember the checked folder; the model loads on first use."""
        self.folder = folder

    def describe(self) -> dict[str, Any]:
        """The recipe of this metric."""
        import transformers

        return {
            "metric": "CheXbert F1 (positive-only, f1chexbert rrg convention)",
            "weights": str(self.folder),
            "checkpoint_sha": fingerprint(self.folder / "chexbert.pth"),
            "transformers": transformers.__version__,
        }

    def score(self, refs: Sequence[str], hyps: Sequence[str]) -> ScorerResult:
        """Label both sides and compare."""
        labeler = _labeler(str(self.folder))
        both = labeler.label([*refs, *hyps])
        out = chexbert_f1(both[: len(refs)], both[len(refs) :])
        per = out.pop("per_sample_f1")
        table = out.pop("per_observation")
        assert isinstance(per, np.ndarray)
        metrics = {k: float(v) for k, v in out.items() if isinstance(v, float)}
        return ScorerResult(metrics, {"chexbert_f1": per.tolist()}, {"per_observation": table})


def make_chexbert(options: Mapping[str, Any]) -> CheXbertScorer:
    """Factory for the registry: checks the extra and the folder, loads nothing yet."""
    require_modules("chexbert", "torch", "transformers")
    return CheXbertScorer(locate(CHEXBERT, options))
