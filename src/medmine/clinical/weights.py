"""Local weights folders of the model-based metrics: where they are, what they must hold.

Nothing is ever downloaded. Each metric reads one folder, named by a task option
(``weights: {chexbert: DIR}``) or else by an environment variable. An unset folder makes the
metric unavailable (listed with the reason); a folder that is set but wrong fails before the
run, with the files expected and where the weights are published.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medmine.tasks.report_scorers import ScorerUnavailable


@dataclass(frozen=True)
class WeightsSpec:
    """What one metric's folder must contain: every file of ``required`` and, for each group
    of ``one_of``, at least one of its files."""

    metric: str
    env_var: str
    required: tuple[str, ...]
    one_of: tuple[tuple[str, ...], ...]
    published: str

    def expected(self) -> str:
        """The expected file list, for messages."""
        parts = list(self.required) + [" or ".join(g) for g in self.one_of]
        return ", ".join(parts)


CHEXBERT = WeightsSpec(
    "chexbert",
    "MEDMINE_CHEXBERT_WEIGHTS",
    ("chexbert.pth", "config.json", "vocab.txt"),
    (),
    "chexbert.pth: the CheXbert checkpoint linked from https://github.com/stanfordmlgroup/"
    "CheXbert (README, 'Checkpoint download'; also in the StanfordAIMI/RRG_scorers Hugging Face "
    "repository); config.json and vocab.txt: https://huggingface.co/bert-base-uncased",
)
BERTSCORE = WeightsSpec(
    "bertscore",
    "MEDMINE_BERTSCORE_WEIGHTS",
    ("config.json",),
    (
        ("model.safetensors", "pytorch_model.bin"),
        ("tokenizer.json", "vocab.txt", "vocab.json"),
    ),
    "any Hugging Face encoder saved with save_pretrained, e.g. https://huggingface.co/"
    "roberta-large (bert_score's English default, layer 17) or distilroberta-base (layer 5)",
)
RADGRAPH = WeightsSpec(
    "radgraph",
    "MEDMINE_RADGRAPH_WEIGHTS",
    ("config.json", "weights.th", "vocabulary"),
    (),
    "radgraph.tar.gz or radgraph-xl.tar.gz of the StanfordAIMI/RRG_scorers Hugging Face "
    "repository (extracted), used by the radgraph package (pip install radgraph)",
)

RATESCORE = WeightsSpec(
    "ratescore",
    "MEDMINE_RATESCORE_WEIGHTS",
    ("ner/config.json", "embedder/config.json"),
    (
        ("ner/model.safetensors", "ner/pytorch_model.bin"),
        ("ner/tokenizer.json", "ner/spm.model"),
        ("embedder/model.safetensors", "embedder/pytorch_model.bin"),
        ("embedder/tokenizer.json", "embedder/vocab.txt"),
    ),
    "ner/: https://huggingface.co/Angelakeke/RaTE-NER-Deberta, embedder/: https://"
    "huggingface.co/FremyCompany/BioLORD-2023-C (each folder as downloaded), the models the "
    "RaTEScore package (pip install RaTEScore) loads by default",
)


def require_modules(metric: str, *modules: str, extra: str = "clinical") -> None:
    """ScorerUnavailable when a module of the metric's extra is not installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ScorerUnavailable(f"needs {', '.join(missing)} (pip install 'medmine[{extra}]')")


def locate(spec: WeightsSpec, options: Mapping[str, Any]) -> Path:
    """The metric's weights folder, checked.

    The task option ``weights: {metric: DIR}`` wins over ``$ENV_VAR``. Unset: ScorerUnavailable.
    Set but missing files: ValueError naming the folder, what is missing and what is expected.
    """
    given = (options.get("weights") or {}).get(spec.metric)
    source = "option weights." + spec.metric
    if not given:
        given, source = os.environ.get(spec.env_var), "$" + spec.env_var
    if not given:
        raise ScorerUnavailable(
            f"weights folder not set (set ${spec.env_var} or the task option "
            f"weights: {{{spec.metric}: DIR}}); expected files: {spec.expected()}; "
            f"published: {spec.published}"
        )
    folder = Path(str(given)).expanduser()
    if not folder.is_dir():
        raise ValueError(
            f"{spec.metric}: {source}={folder} is not a folder; expected a folder with "
            f"{spec.expected()}; published: {spec.published}"
        )
    missing = [f for f in spec.required if not (folder / f).exists()]
    missing += [" or ".join(g) for g in spec.one_of if not any((folder / f).exists() for f in g)]
    if missing:
        raise ValueError(
            f"{spec.metric}: {source}={folder} lacks {', '.join(missing)}; expected: "
            f"{spec.expected()}; published: {spec.published}"
        )
    return folder


def fingerprint(path: Path) -> str:
    """A short content hash of a weights file (first and last MiB plus the size), for the
    recipe: it tells two checkpoints apart without reading gigabytes."""
    h = hashlib.sha256()
    size = path.stat().st_size
    h.update(str(size).encode())
    with path.open("rb") as f:
        h.update(f.read(1 << 20))
        if size > 2 << 20:
            f.seek(-(1 << 20), os.SEEK_END)
            h.update(f.read(1 << 20))
    return h.hexdigest()[:16]
