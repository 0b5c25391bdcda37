"""Tiny randomly initialised models saved in the published formats (for the clinical tests).

- :func:`write_chexbert`: a folder like CheXbert's: ``chexbert.pth`` ({"model_state_dict":
  ...} from an ``nn.DataParallel``-wrapped bert_labeler, so keys start with ``module.``, with
  the ``position_ids`` buffer transformers 2.x checkpoints carry), ``config.json``,
  ``vocab.txt``.
- :func:`write_encoder`: a Hugging Face BERT folder (``save_pretrained``) for BERTScore.
"""

from __future__ import annotations

from pathlib import Path

WORDS = [
    "no",
    "pleural",
    "effusion",
    "pneumothorax",
    "cardiomegaly",
    "heart",
    "size",
    "normal",
    "lungs",
    "clear",
    "mild",
    "edema",
    "consolidation",
    "left",
    "right",
    "lower",
    "lobe",
    "atelectasis",
    "there",
    "is",
    "a",
    "small",
    "large",
    "of",
    "the",
    "and",
    "with",
    "stable",
    "opacity",
    "tube",
    "in",
    "place",
    ".",
    ",",
    ":",
    "findings",
    "impression",
    "unchanged",
    "since",
    "prior",
]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(WORDS), "##s", "##ed"]


def _config(layers: int = 2) -> object:
    from transformers import BertConfig

    return BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=512,
    )


def write_chexbert(folder: Path, seed: int = 0) -> Path:
    """A tiny CheXbert folder; returns it."""
    import torch
    from transformers import BertModel

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = _config()
    bert = BertModel(config)
    heads = [torch.nn.Linear(32, 4) for _ in range(13)] + [torch.nn.Linear(32, 2)]
    for h in heads:  # wide logits so the argmax differs between texts
        torch.nn.init.normal_(h.weight, std=3.0)
    state = {f"module.bert.{k}": v for k, v in bert.state_dict().items()}
    state["module.bert.embeddings.position_ids"] = torch.arange(512).unsqueeze(0)
    for i, h in enumerate(heads):
        state[f"module.linear_heads.{i}.weight"] = h.weight.detach()
        state[f"module.linear_heads.{i}.bias"] = h.bias.detach()
    torch.save({"epoch": 1, "model_state_dict": state}, folder / "chexbert.pth")
    config.to_json_file(str(folder / "config.json"))
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return folder


def write_encoder(folder: Path, seed: int = 0, layers: int = 3) -> Path:
    """A tiny BERT encoder folder saved with save_pretrained (weights + tokenizer)."""
    import torch
    from transformers import BertModel, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    BertModel(_config(layers)).save_pretrained(str(folder))
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    BertTokenizer(str(vocab), do_lower_case=True, model_max_length=512).save_pretrained(str(folder))
    return folder
