"""CheXbert F1: scoring equals scikit-learn; the labeler loads the published checkpoint format,
batches without changing labels, and fails on wrong folders with the expected files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from medmine.metrics.clinical.chexbert_f1 import (
    CHEXBERT_CONDITIONS,
    FIVE_CONDITIONS,
    chexbert_f1,
    decode_heads,
)

sys.path.insert(0, str(Path(__file__).parent))


def test_f1_equals_scikit_learn_on_14_and_5_observations() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    ref = rng.choice([1.0, 0.0, -1.0, np.nan], size=(40, 14), p=[0.3, 0.3, 0.1, 0.3])
    hyp = rng.choice([1.0, 0.0, -1.0, np.nan], size=(40, 14), p=[0.3, 0.3, 0.1, 0.3])
    hyp[:, 10] = np.nan  # one observation never predicted: macro counts it as 0
    out = chexbert_f1(ref, hyp)
    t, p = (ref == 1).astype(int), (hyp == 1).astype(int)
    five = [CHEXBERT_CONDITIONS.index(c) for c in FIVE_CONDITIONS]
    for prefix, cols in (("chexbert", slice(None)), ("chexbert_5", five)):
        for avg in ("micro", "macro"):
            f1 = metrics.f1_score(t[:, cols], p[:, cols], average=avg, zero_division=0)
            pr = metrics.precision_score(t[:, cols], p[:, cols], average=avg, zero_division=0)
            rc = metrics.recall_score(t[:, cols], p[:, cols], average=avg, zero_division=0)
            assert out[f"{prefix}_{avg}_f1"] == pytest.approx(f1, abs=1e-12)
            assert out[f"{prefix}_{avg}_precision"] == pytest.approx(pr, abs=1e-12)
            assert out[f"{prefix}_{avg}_recall"] == pytest.approx(rc, abs=1e-12)
    per = metrics.f1_score(t, p, average=None, zero_division=0)
    assert [out["per_observation"][c]["f1"] for c in CHEXBERT_CONDITIONS] == pytest.approx(per)
    samples = metrics.f1_score(t, p, average="samples", zero_division=1)
    assert float(np.mean(out["per_sample_f1"])) == pytest.approx(samples)


def test_decode_follows_chexbert_class_order() -> None:
    logits = [np.array([[0, 9, 0, 0], [0, 0, 9, 0], [0, 0, 0, 9], [9, 0, 0, 0]])] * 13
    logits.append(np.array([[0, 9], [9, 0], [0, 9], [9, 0]]))
    out = decode_heads(logits)
    assert out[:, 0].tolist()[:3] == [1.0, 0.0, -1.0] and np.isnan(out[3, 0])
    assert out[0, 13] == 1.0 and np.isnan(out[1, 13])
    with pytest.raises(ValueError, match="head 13"):
        decode_heads([*logits[:13], np.zeros((4, 4))])


def test_tiny_checkpoint_loads_batches_and_scores(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tiny_weights import write_chexbert
    from transformers import BertModel

    from medmine.clinical.chexbert import CheXbertLabeler, make_chexbert

    folder = write_chexbert(tmp_path / "chexbert")
    texts = [
        "No pleural effusion. Heart size normal.",
        "Mild cardiomegaly with small left pleural effusion and lower lobe atelectasis.",
        "",
        "Lungs clear.\n\n  Tube in place.",
        "large right pneumothorax " * 200,  # over 512 word pieces: cut, ends in [SEP]
    ]
    one = CheXbertLabeler(folder, batch_size=1).label(texts)
    many = CheXbertLabeler(folder, batch_size=4).label(texts)
    np.testing.assert_array_equal(np.nan_to_num(one, nan=9), np.nan_to_num(many, nan=9))
    # The reference's own forward: DataParallel keys stripped, BERT + heads on [CLS].
    state = torch.load(folder / "chexbert.pth", weights_only=True)["model_state_dict"]
    bert = BertModel.from_pretrained(None, config=str(folder / "config.json"), state_dict={
        k[12:]: v for k, v in state.items() if k.startswith("module.bert.")
        and "position_ids" not in k})  # fmt: skip
    bert.eval()
    labeler = CheXbertLabeler(folder)
    ids = torch.tensor([labeler.encode(texts[1])])
    cls = bert(ids)[0][:, 0, :]
    heads = []
    for i in range(14):
        w, b = state[f"module.linear_heads.{i}.weight"], state[f"module.linear_heads.{i}.bias"]
        heads.append((cls @ w.T + b).detach().numpy())
    np.testing.assert_array_equal(
        np.nan_to_num(decode_heads(heads)[0], nan=9), np.nan_to_num(one[1], nan=9)
    )
    assert len(labeler.encode(texts[4])) == 512
    assert labeler.encode("") == [2, 3]
    scorer = make_chexbert({"weights": {"chexbert": str(folder)}})
    result = scorer.score(texts[:4], [texts[1], texts[0], "", texts[3]])
    assert result.per_sample["chexbert_f1"][2] == 1.0  # both empty: nothing claimed
    assert 0.0 <= result.metrics["chexbert_micro_f1"] <= 1.0
    assert scorer.describe()["checkpoint_sha"]


def test_wrong_or_missing_folder_fails_with_expected_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    from medmine.clinical.chexbert import CheXbertLabeler, make_chexbert
    from medmine.tasks.report_scorers import ScorerUnavailable

    monkeypatch.delenv("MEDMINE_CHEXBERT_WEIGHTS", raising=False)
    with pytest.raises(ScorerUnavailable, match=r"MEDMINE_CHEXBERT_WEIGHTS.*chexbert\.pth"):
        make_chexbert({})
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "config.json").write_text("{}")
    monkeypatch.setenv("MEDMINE_CHEXBERT_WEIGHTS", str(tmp_path / "w"))
    with pytest.raises(ValueError, match=r"lacks chexbert.pth, vocab.txt; expected: .*CheXbert"):
        make_chexbert({})
    from tiny_weights import write_chexbert

    folder = write_chexbert(tmp_path / "bad")
    (folder / "chexbert.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"cannot read .*chexbert.pth"):
        CheXbertLabeler(folder)
