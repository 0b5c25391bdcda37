"""``medmine mine PATH``: ask a model one question about every image (or report) of an archive.

PATH is a folder of images (PNG/JPEG/TIFF/BMP), a DICOM tree, one image file, or a report
source (see :func:`medmine.mine.reports.is_report_source`; a folder counts as reports only when
it holds no image). Images go through :func:`medmine.mine.image_stream.mine_images`, reports
through :func:`medmine.mine.report_source.mine_report_source` (the report miner, with the same
estimate, cap and resume). Both stream: the archive is never held in memory, answers go to the
store as they come, and ``--executor ray`` has the model answer on Ray actors. This module
holds what they share: the model checks, the estimate and confirmation, the manifest.

Before the first request the number of items, the estimated tokens and the estimated cost are
printed (:mod:`medmine.mine.estimate`) and, for a model that is not a built-in baseline, the
user confirms on a terminal (``--yes`` for scripts; without a terminal and without ``--yes``
the command refuses). Answers go through the Runner into ``OUT/run.sqlite`` (response cache,
resume, concurrency, retries, progress bar): rerunning the same command asks nothing again,
and ``--max-cost`` stops cleanly once the recorded spend reaches the cap (a rerun with a higher
cap continues without repeating a request). Outputs: :mod:`medmine.mine.outputs`.

Offline baselines per task: ``otsu-lcc`` (segmentation), ``landmark-intensity``
(localization), ``blob-detector`` (detection), ``normal-report`` (report). Classification has
none: ``majority`` and ``nearest-centroid`` learn from a labelled training split, which an
unlabelled archive does not have. ``chexpert-rules`` reads report text only: use it on a report
source. Patient-data safety: see :mod:`medmine.mine.images` (DICOM pixels only, burned-in
annotations skipped, UIDs only with ``--include-uids``) and ``--local-only``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from medmine.core import Model, Task
from medmine.datasets.datause import is_local_provider
from medmine.mine.estimate import CostEstimate, model_provider
from medmine.mine.images import (
    MiningQuestion,
    MiningTask,
)
from medmine.mine.outputs import FileResult
from medmine.run.runner import RunSummary
from medmine.run.store import RunStore

Say = Callable[[str], None]
Confirm = Callable[[CostEstimate], bool]

OFFLINE_BASELINES = {  # command-line task name -> the baseline that mines it offline
    "segmentation": "otsu-lcc",
    "localization": "landmark-intensity",
    "detection": "blob-detector",
    "report": "normal-report",
}


class MiningCancelled(Exception):
    """The user declined the cost estimate (nothing was sent)."""


@dataclass
class MineOutcome:
    """What a mining run did: where, what it estimated, asked and spent, and the statuses."""

    out_dir: Path
    estimate: CostEstimate | None
    summary: RunSummary
    spent_usd: float
    statuses: Counter[str] = field(default_factory=Counter)
    written: list[Path] = field(default_factory=list)
    stopped: dict[str, str] = field(default_factory=dict)
    results: list[FileResult] = field(default_factory=list)


# ------------------------------------------------------------------------------ models
def resolve_mining_model(name: str, presets: Sequence[Path] = ()) -> Model:
    """A baseline or preset by name; user preset files ($MEDMINE_PRESETS, then ``--presets``)
    add or override presets, as in every other command."""
    from medmine.baselines.registry import baseline_names, make_baseline
    from medmine.models.factory import build_model
    from medmine.models.presets import load_presets, resolve_preset
    from medmine.models.resolve import user_preset_files

    if name in baseline_names():
        return make_baseline(name)
    return build_model(resolve_preset(name, load_presets(user_preset_files(presets))))


def preflight_model(model: Model) -> None:
    """Refuse a model that cannot run (missing key or endpoint) with the fix, before any
    estimate or cost question: nothing is sent to it."""
    from medmine.run.preflight import model_problem

    problem = model_problem(model)
    if problem is not None:
        raise ValueError(problem.line())


def check_local_only(model: Model) -> None:
    """Refuse a model that is not on this machine (per ``datasets.datause.is_local_provider``)."""
    provider, base_url = model_provider(model)
    if not is_local_provider(provider, base_url):
        where = f" at {base_url}" if base_url else ""
        raise ValueError(
            f"--local-only: model {model.name!r} is a cloud backend ({provider}{where}); "
            "nothing was sent. Use a baseline, an hf_local preset, or an OpenAI-compatible "
            "server on 127.0.0.1/localhost."
        )


def check_model_for_task(model: Model, task_name: str) -> None:
    """Refuse, with the reason and the alternatives, a model that cannot mine this task."""
    offline = ", ".join(f"{b} ({t})" for t, b in OFFLINE_BASELINES.items())
    supported = getattr(model, "tasks", None)
    if supported is not None and task_name not in supported:
        raise ValueError(
            f"model {model.name!r} does not do the {task_name} task (it does: "
            f"{', '.join(sorted(supported)) or 'nothing'}). Offline baselines for mining: "
            f"{offline}; other tasks need a vision model preset."
        )
    if callable(getattr(model, "fit", None)):
        raise ValueError(
            f"model {model.name!r} learns from a labelled training split (support set) before "
            "answering; an unlabelled archive has none, so it cannot mine. Use a vision model "
            f"preset, or `medmine run` on a labelled dataset. Offline baselines: {offline}."
        )
    if getattr(model, "modality", "vision") == "text" or (
        getattr(getattr(model, "preset", None), "modality", "vision") == "text"
    ):
        raise ValueError(
            f"model {model.name!r} is text-only and cannot see images; for report text "
            "(CSV/JSON/TXT/XML reports) use --task diagnosis on the report file or folder."
        )


def _task_for(question: MiningQuestion, model: Model) -> MiningTask:
    """The registered task with mining options, in the model's coordinate convention."""
    from medmine.run.execute import _task_for_model
    from medmine.tasks.registry import make_task

    options: dict[str, object] = {"source": "image"} if question.task == "diagnosis" else {}
    task = make_task(question.task_name, **options)
    return MiningTask(_task_for_model(task, model, {}))


def check_numbers(max_cost: float | None, concurrency: int | None) -> None:
    if max_cost is not None and not max_cost >= 0:
        raise ValueError(f"--max-cost must be a number of US dollars >= 0, got {max_cost!r}")
    if concurrency is not None and concurrency < 1:
        raise ValueError(f"--concurrency must be >= 1, got {concurrency!r}")


def _record_manifest(
    store: RunStore,
    root: Path,
    question: MiningQuestion,
    model: Model,
    task: Task,
    allow_burned_in: bool,
    include_uids: bool,
) -> None:
    """What was mined and how (never a secret, never a DICOM header value)."""
    store.set_manifest(
        {
            "command": "mine",
            "source": str(root),
            "question": {
                "task": question.task,
                "labels": list(question.labels),
                "structure": question.structure,
            },
            "model": model.describe(),
            "task": {
                "name": task.name,
                "version": task.version,
                "template_hash": task.template_hash(),
            },
            "allow_burned_in": allow_burned_in,
            "include_uids": include_uids,
            "mining": "targets carry no ground truth; answers are written, never scored",
        }
    )
