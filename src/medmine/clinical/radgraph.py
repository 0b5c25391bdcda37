"""RadGraph F1 from a local RadGraph checkpoint: annotation by the ``radgraph`` package (the
reference implementation, a DyGIE++ model), scoring by :mod:`medmine.metrics.clinical.radgraph_f1`.

The folder is an extracted ``radgraph.tar.gz`` / ``radgraph-xl.tar.gz`` (``config.json``,
``vocabulary/``, ``weights.th``); its config names the BERT encoder, whose tokenizer and config
must already be in the local Hugging Face cache (loading runs with ``HF_HUB_OFFLINE=1``:
nothing downloads; the encoder's weights are in ``weights.th``). With transformers 5 the
package runs through :mod:`medmine.clinical.radgraph_compat` (two removed tokenizer methods).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medmine.clinical import radgraph_compat
from medmine.clinical.weights import RADGRAPH, fingerprint, locate, require_modules
from medmine.metrics.clinical.radgraph_f1 import LEVELS, radgraph_f1
from medmine.tasks.report_scorers import ScorerResult

MODEL_TYPES = ("radgraph", "radgraph-xl")


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    old = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({k: "1" for k in old})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@functools.lru_cache(maxsize=2)
def _annotator(folder: str, model_type: str) -> Any:
    """The radgraph package's RadGraph on this folder (linked where it looks for weights)."""
    from radgraph import RadGraph

    radgraph_compat.install()
    home = Path(tempfile.mkdtemp(prefix="medmine-radgraph-"))
    (home / model_type).symlink_to(Path(folder).resolve(), target_is_directory=True)
    with _offline(), contextlib.redirect_stdout(io.StringIO()):
        return RadGraph(model_type=model_type, model_cache_dir=str(home), cuda=-1)


def annotate(folder: Path, model_type: str, texts: Sequence[str]) -> list[dict[str, Any]]:
    """RadGraph annotations of each text (an empty text has no entities, not sent)."""
    todo = [t for t in texts if t.strip()]
    if not todo:
        return [{"entities": {}} for _ in texts]
    with _offline(), contextlib.redirect_stdout(io.StringIO()):
        found = _annotator(str(folder), model_type)(todo)
    out, k = [], 0
    for t in texts:
        if t.strip():
            out.append(found.get(str(k), {"entities": {}}))
            k += 1
        else:
            out.append({"entities": {}})
    return out


class RadGraphScorer:
    """RadGraph F1 at the entity, relation-exists and relation levels (mean over reports)."""

    name = "radgraph"

    def __init__(self, folder: Path, model_type: str) -> None:
        """A checked folder; the model loads on first use."""
        self.folder, self.model_type = folder, model_type

    def describe(self) -> dict[str, Any]:
        """The recipe of this metric."""
        from importlib.metadata import version

        return {
            "metric": "RadGraph F1 (simple=entity, partial, complete=relation)",
            "model_type": self.model_type,
            "weights": str(self.folder),
            "checkpoint_sha": fingerprint(self.folder / "weights.th"),
            "radgraph": version("radgraph"),
            "transformers": version("transformers"),
            "tokenizer_shim": radgraph_compat.needed(),
        }

    def score(self, refs: Sequence[str], hyps: Sequence[str]) -> ScorerResult:
        """Annotate both sides, compare each pair; an empty side scores 0 (as the package)."""
        ann = annotate(self.folder, self.model_type, [*hyps, *refs])
        n = len(hyps)
        rows = [
            radgraph_f1(ann[i], ann[n + i]) if hyps[i].strip() and refs[i].strip()
            else dict.fromkeys(LEVELS, 0.0)
            for i in range(n)
        ]  # fmt: skip
        per = {f"radgraph_{lvl}_f1": [r[lvl] for r in rows] for lvl in LEVELS}
        metrics = {k: float(np.mean(v)) for k, v in per.items()}
        return ScorerResult(metrics, per, self.describe())


def make_radgraph(options: Mapping[str, Any]) -> RadGraphScorer:
    """Factory: checks the radgraph package and the folder."""
    require_modules("radgraph", "torch", "transformers", "radgraph")
    model_type = str(options.get("radgraph_model", "radgraph"))
    if model_type not in MODEL_TYPES:
        raise ValueError(f"radgraph_model={model_type!r}: expected one of {MODEL_TYPES}")
    return RadGraphScorer(locate(RADGRAPH, options), model_type)
