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


RADGRAPH_ENTITIES = ("ANAT-DP", "OBS-DP", "OBS-DA", "OBS-U")
RADGRAPH_RELATIONS = ("modify", "located_at", "suggestive_of")


def _radgraph_config(encoder: Path) -> dict:
    """config.json of a RadGraph (DyGIE++) archive, the fields the radgraph package reads,
    shrunk (span width 3, feature size 8, feedforward 16) and naming a local encoder."""
    bert = {
        "type": "pretrained_transformer_mismatched",
        "model_name": str(encoder),
        "max_length": 512,
    }
    return {
        "dataset_reader": {"type": "dygie", "max_span_width": 3, "token_indexers": {"bert": bert}},
        "model": {
            "type": "dygie",
            "embedder": {"token_embedders": {"bert": bert}},
            "initializer": {
                "regexes": [["_span_width_embedding.weight", {"type": "xavier_normal"}]]
            },
            "module_initializer": {"regexes": [[".*weight", {"type": "xavier_normal"}]]},
            "feature_size": 8,
            "max_span_width": 3,
            "target_task": "relation",
            "feedforward_params": {"num_layers": 2, "hidden_dims": 16, "dropout": 0.4},
            "loss_weights": {"ner": 0.2, "relation": 1.0, "coref": 0.0, "events": 0.0},
            "modules": {
                "coref": {"spans_per_word": 0.3, "max_antecedents": 100, "coref_prop": 0},
                "ner": {},
                "relation": {"spans_per_word": 0.5},
                "events": {
                    "trigger_spans_per_word": 0.3,
                    "argument_spans_per_word": 0.8,
                    "loss_weights": {"trigger": 0.2, "arguments": 1.0},
                },
            },
        },
    }


def write_radgraph(folder: Path, model_type: str = "radgraph", seed: int = 0) -> Path:
    """A tiny extracted RadGraph archive (``config.json``, ``vocabulary/``, ``weights.th``, the
    state dict of the radgraph package's DyGIE model); its encoder is a tiny BERT folder next
    to it. Needs the radgraph package (its DyGIE builds the state dict) and the shim."""
    import json

    import torch
    from radgraph.allennlp.data import Vocabulary
    from radgraph.allennlp.modules import text_field_embedders, token_embedders
    from radgraph.dygie.models import dygie

    from medmine.clinical import radgraph_compat

    radgraph_compat.install()
    encoder = write_encoder(folder.parent / f"{folder.name}-encoder", seed=seed, layers=2)
    vocab_dir = folder / "vocabulary"
    vocab_dir.mkdir(parents=True, exist_ok=True)
    (vocab_dir / "non_padded_namespaces.txt").write_text("*tags\n*labels\n", encoding="utf-8")
    for space, labels in (("ner", RADGRAPH_ENTITIES), ("relation", RADGRAPH_RELATIONS)):
        text = "\n".join(["", *labels]) + "\n"  # index 0 is the null label
        (vocab_dir / f"{model_type}__{space}_labels.txt").write_text(text, encoding="utf-8")
    config = _radgraph_config(encoder)
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    embedder = text_field_embedders.BasicTextFieldEmbedder({
        "bert": token_embedders.PretrainedTransformerMismatchedEmbedder(
            model_name=str(encoder), max_length=512
        )
    })  # fmt: skip
    kwargs = {k: v for k, v in config["model"].items() if k not in _NOT_DYGIE_ARGS}
    torch.manual_seed(seed)
    model = dygie.DyGIE(vocab=Vocabulary.from_files(str(vocab_dir)), embedder=embedder, **kwargs)
    with torch.no_grad():  # wide scores so labels and relations vary between spans
        for name, p in model.named_parameters():
            if name.startswith(("_ner.", "_relation.")):
                p.normal_(std=1.5)
    torch.save(model.state_dict(), folder / "weights.th")
    return folder


_NOT_DYGIE_ARGS = ("type", "embedder", "initializer", "module_initializer")


RATE_TYPES = ("ABNORMALITY", "NON-ABNORMALITY", "DISEASE", "NON-DISEASE", "ANATOMY")
RATE_LABELS = ("O", *(f"{p}-{t}" for t in RATE_TYPES for p in ("B", "I")))


def _sentencepiece_vocab() -> list[tuple[str, float]]:
    """A Unigram vocabulary (piece, log-probability) over the report words and single letters,
    the form of DeBERTa-v3's spm.model / tokenizer.json."""
    special = [(t, 0.0) for t in ("[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]")]
    words = [(f"\u2581{w}", -1.0 - i / 100) for i, w in enumerate(dict.fromkeys(WORDS))]
    letters = [(c, -6.0) for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"]
    return [*special, *words, ("\u2581", -3.0), *letters]


def write_ratescore(folder: Path, seed: int = 0) -> Path:
    """A tiny RaTEScore folder: ``ner/`` (a DeBERTa-v2 token classifier with the 11 RaTE-NER
    labels and a sentencepiece-style tokenizer, as Angelakeke/RaTE-NER-Deberta) and
    ``embedder/`` (an MPNet encoder with a WordPiece tokenizer, as BioLORD-2023-C)."""
    import torch
    from transformers import (
        DebertaV2Config,
        DebertaV2ForTokenClassification,
        DebertaV2Tokenizer,
        MPNetConfig,
        MPNetModel,
        MPNetTokenizer,
    )

    torch.manual_seed(seed)
    ner = folder / "ner"
    ner.mkdir(parents=True, exist_ok=True)
    tok = DebertaV2Tokenizer(vocab=_sentencepiece_vocab(), unk_id=3)
    config = DebertaV2Config(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=512, pad_token_id=0,
        id2label=dict(enumerate(RATE_LABELS)), label2id={k: i for i, k in enumerate(RATE_LABELS)},
    )  # fmt: skip
    model = DebertaV2ForTokenClassification(config)
    with torch.no_grad():  # wide logits so labels vary between tokens
        model.classifier.weight.normal_(std=3.0)
    model.save_pretrained(str(ner))
    tok.save_pretrained(str(ner))
    emb = folder / "embedder"
    emb.mkdir(parents=True, exist_ok=True)
    vocab = emb / "vocab.txt"
    vocab.write_text("\n".join(["<s>", "<pad>", "</s>", "<unk>", *VOCAB[5:], "<mask>"]) + "\n")
    MPNetTokenizer(
        str(vocab), do_lower_case=True, bos_token="<s>", eos_token="</s>", sep_token="</s>",
        cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
    ).save_pretrained(str(emb))  # fmt: skip
    MPNetModel(
        MPNetConfig(
            vocab_size=len(VOCAB) + 1, hidden_size=32, num_hidden_layers=2,
            num_attention_heads=2, intermediate_size=37, max_position_embeddings=514,
        )
    ).save_pretrained(str(emb))  # fmt: skip
    return folder
