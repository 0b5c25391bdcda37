"""BERTScore: the same numbers as the bert_score package on the same tiny encoder."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from medmine.metrics.clinical.bertscore import greedy_match, idf_weights, token_weights

sys.path.insert(0, str(Path(__file__).parent))

REFS = [
    "No pleural effusion or pneumothorax. Heart size normal.",
    "Mild cardiomegaly with small left pleural effusion.",
    "Lungs clear.",
    "Stable tube in place, unchanged since prior.",
]
HYPS = [
    "Heart size normal. No pneumothorax.",
    "Small left pleural effusion and lower lobe atelectasis.",
    "",
    "Stable tube in place.",
]


def test_greedy_match_by_hand() -> None:
    h = np.array([[1.0, 0.0], [0.0, 1.0]])
    r = np.array([[1.0, 0.0], [1.0, 1.0]])
    p, rc, f = greedy_match(h, np.array([1.0, 1.0]), r, np.array([1.0, 1.0]))
    s = 1 / np.sqrt(2)
    assert p == pytest.approx((1 + s) / 2) and rc == pytest.approx((1 + s) / 2)
    assert f == pytest.approx(p)
    assert greedy_match(h, np.zeros(2), r, np.ones(2)) == (0.0, 0.0, 0.0)
    idf = idf_weights([[1, 2], [2, 3]])
    assert idf(2) == pytest.approx(np.log(3 / 3)) and idf(1) == pytest.approx(np.log(3 / 2))
    assert idf(99) == pytest.approx(np.log(3))
    assert token_weights([0, 1, 2], {0}, None).tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("idf", [False, True])
def test_equals_bert_score_package_on_tiny_weights(tmp_path: Path, idf: bool) -> None:
    pytest.importorskip("torch")
    bert_score = pytest.importorskip("bert_score")
    from tiny_weights import write_encoder

    from medmine.clinical.bertscore import make_bertscore

    folder = write_encoder(tmp_path / "enc")
    scorer = make_bertscore(
        {"weights": {"bertscore": str(folder)}, "bertscore_layers": 2, "bertscore_idf": idf}
    )
    ours = scorer.score(REFS, HYPS)
    # One pair per call: bert_score pads a batch with zero similarities, which only
    # matters when all of a token's similarities are negative; single pairs have no padding.
    for i, (ref, hyp) in enumerate(zip(REFS, HYPS, strict=True)):
        if not hyp:
            continue  # bert_score warns and scores an empty candidate 0, as we do
        _p, _r, f = bert_score.score(
            [hyp], [ref], model_type=str(folder), num_layers=2, idf=(idf and [ref]) or False,
            batch_size=1,
        )  # fmt: skip
        if idf:
            # bert_score computes IDF over the refs it is given; ours over the whole corpus
            ours_i = make_bertscore(
                {"weights": {"bertscore": str(folder)}, "bertscore_layers": 2,
                 "bertscore_idf": True}
            ).score([ref], [hyp])  # fmt: skip
            assert ours_i.per_sample["bertscore_f1"][0] == pytest.approx(float(f[0]), abs=1e-6)
        else:
            assert ours.per_sample["bertscore_f1"][i] == pytest.approx(float(f[0]), abs=1e-6)
    assert ours.per_sample["bertscore_f1"][2] == 0.0
    assert scorer.describe()["layer"] == 2


def test_layer_must_be_stated_for_unknown_models(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from tiny_weights import write_encoder

    from medmine.clinical.bertscore import make_bertscore

    folder = write_encoder(tmp_path / "enc")
    with pytest.raises(ValueError, match="bertscore_layers"):
        make_bertscore({"weights": {"bertscore": str(folder)}})
    with pytest.raises(ValueError, match="has 3 layers"):
        make_bertscore({"weights": {"bertscore": str(folder)}, "bertscore_layers": 7})


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table (to write a tiny byte-level BPE vocab)."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


def test_roberta_text_is_encoded_with_a_leading_space(tmp_path: Path) -> None:
    """bert_score's sent_encode asks RoBERTa for add_prefix_space=True (what published
    roberta-large scores used); the first word must get its "Ġ"-prefixed token."""
    pytest.importorskip("torch")
    import json

    import torch
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizer

    from medmine.clinical.bertscore import Encoder

    folder = tmp_path / "roberta"
    folder.mkdir()
    vocab = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", *_bytes_to_unicode().values(), "Ġp", "Ġpl"]
    ids = {t: i for i, t in enumerate(vocab)}
    (folder / "vocab.json").write_text(json.dumps(ids))
    (folder / "merges.txt").write_text("#version: 0.2\nĠ p\nĠp l\n")
    tok = RobertaTokenizer(
        str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=512
    )
    tok.save_pretrained(str(folder))
    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=2, intermediate_size=37,
                           max_position_embeddings=520, pad_token_id=1)  # fmt: skip
    RobertaModel(config).save_pretrained(str(folder))
    enc = Encoder(folder)
    assert enc.encode("pleural effusion")[:2] == [0, ids["Ġpl"]]
    assert enc.special == {0, 2}
