"""Suites: which models run which tasks on which datasets, from YAML or a built-in name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from medmine.datasets.spec import DEMO_CATEGORIES, DatasetSpec


def all_tasks() -> list[str]:
    """Every registered task kind, for the built-in suites: the study's kinds in
    ``core.TaskKind``'s order, then any other registered task (a new task module joins the
    built-in suites without a line here)."""
    from medmine.core import TaskKind
    from medmine.tasks.registry import task_names

    order = {kind.value: i for i, kind in enumerate(TaskKind)}
    return sorted(task_names(), key=lambda name: (order.get(name, len(order)), name))


PROMPT_STRATEGIES = ("zero_shot", "few_shot", "cot")


class TaskSpec(BaseModel):
    """One task of a suite, with its options (e.g. ``ask_probabilities``)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class Settings(BaseModel):
    """Generation settings applied to every request of the suite."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = None
    structured: bool = False


class SuiteConfig(BaseModel):
    """A suite as written in YAML (unknown keys are errors, so typos are caught)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    models: list[str] = Field(min_length=1)
    tasks: list[TaskSpec] = Field(min_length=1)
    datasets: list[DatasetSpec] = Field(min_length=1)
    settings: Settings = Field(default_factory=Settings)
    repeats: int = Field(default=1, ge=1)
    seed: int = 0
    acknowledge_data_use: list[str] = Field(default_factory=list)
    skip_missing_datasets: bool = False
    presets: list[Path] = Field(default_factory=list)  # user preset YAML files
    # LLM judge of generated reports (medmine.run.judge): a preset or local server's name.
    judge: str | None = None
    judge_repeats: int = Field(default=2, ge=1)
    judge_temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    judge_truth: Path | None = None  # human ratings CSV: model, sample_id, rating
    shots: int = Field(default=0, ge=0, le=32)  # worked examples of the few_shot strategy
    prompt: list[str] = Field(default_factory=lambda: ["zero_shot"])  # strategies, one column each

    @field_validator("prompt")
    @classmethod
    def _known_strategies(cls, value: list[str]) -> list[str]:
        """Only the known prompt strategies (tasks/prompting.py)."""
        unknown = [v for v in value if v not in PROMPT_STRATEGIES]
        if unknown:
            raise ValueError(f"unknown prompt strategy {unknown}; known: {PROMPT_STRATEGIES}")
        return value

    def strategies(self) -> list[str]:
        """The prompt strategies to run: the ``prompt`` list, plus few_shot when shots > 0."""
        out = list(dict.fromkeys(self.prompt))
        if self.shots and "few_shot" not in out:
            out.append("few_shot")
        if "few_shot" in out and not self.shots:
            raise SuiteError("prompt strategy few_shot needs `shots: K` (or --shots K)")
        return out

    @field_validator("tasks", mode="before")
    @classmethod
    def _task_names(cls, value: Any) -> Any:
        """Allow plain task names in YAML: ``tasks: [classification]``."""
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("datasets", mode="before")
    @classmethod
    def _dataset_names(cls, value: Any) -> Any:
        """Allow plain dataset names in YAML: ``datasets: [demo]``."""
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value


def demo_suite() -> dict[str, Any]:
    """The offline demo: every task on the synthetic cases of the five categories."""
    return {
        "name": "demo",
        "description": "Offline demo on synthetic cases of all five categories and template "
        "reports (SYNTHETIC data: checks the pipeline, not clinical skill).",
        "models": ["auto"],
        "tasks": all_tasks(),
        "datasets": [f"demo-{c}" for c in DEMO_CATEGORIES],
    }


class SuiteError(ValueError):
    """A suite file or name that cannot be used; the message names the key or file."""


def study_suite() -> dict[str, Any]:
    """The study's design: every catalogued dataset with the tasks it serves; datasets not
    found under the data root are skipped with the reason listed."""
    from medmine.datasets.catalog import list_entries

    return {
        "name": "study",
        "description": "arXiv 2407.05758's design: every catalogued dataset found under the "
        "data root, on every task it serves.",
        "models": ["auto"],
        "tasks": all_tasks(),
        "datasets": [e.name for e in list_entries()],
        "skip_missing_datasets": True,
    }


# Built-in suites by name, built when asked for (the task registry is read only then).
BUILTIN_SUITES: dict[str, Callable[[], dict[str, Any]]] = {
    "demo": demo_suite,
    "study": study_suite,
}


def load_suite(name_or_path: str) -> SuiteConfig:
    """A built-in suite by name, or a YAML file; validation errors name the offending key."""
    if name_or_path in BUILTIN_SUITES:
        return SuiteConfig.model_validate(BUILTIN_SUITES[name_or_path]())
    path = Path(name_or_path)
    if not path.exists():
        known = ", ".join(sorted(BUILTIN_SUITES))
        raise SuiteError(f"no built-in suite or file named {name_or_path!r} (built-in: {known})")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: a suite is a mapping with keys name, models, tasks, datasets")
    raw.setdefault("name", path.stem)
    try:
        suite = SuiteConfig.model_validate(raw)
    except ValidationError as exc:
        raise SuiteError(format_validation_error(path, exc)) from None
    return _resolve_paths(suite, path.parent)


def _resolve_paths(suite: SuiteConfig, base: Path) -> SuiteConfig:
    """Paths in a suite file (dataset roots, preset files) are relative to that file; ``~``
    is the user's home."""

    def resolve(p: Path) -> Path:
        p = p.expanduser()
        return p if p.is_absolute() else base / p

    for ds in suite.datasets:
        if ds.folder is not None:
            ds.root = resolve(ds.folder)
        if ds.truth is not None:
            ds.truth = resolve(ds.truth)
    suite.presets = [resolve(p) for p in suite.presets]
    if suite.judge_truth is not None:
        suite.judge_truth = resolve(suite.judge_truth)
    return suite


def with_prompting(suite: SuiteConfig, shots: int | None, prompts: list[str]) -> SuiteConfig:
    """The suite with the command line's ``--shots K`` and ``--prompt S`` added to its prompt
    strategies (each strategy runs as its own column next to the suite's own)."""
    unknown = [p for p in prompts if p not in PROMPT_STRATEGIES]
    if unknown:
        raise SuiteError(f"--prompt {', '.join(unknown)}: known strategies {PROMPT_STRATEGIES}")
    if shots is not None:
        if shots < 0:
            raise SuiteError("--shots must be >= 0")
        suite.shots = shots
    for p in prompts:
        if p not in suite.prompt:
            suite.prompt.append(p)
    suite.strategies()  # raises when few_shot has no shots
    return suite


def format_validation_error(path: Path | str, exc: ValidationError) -> str:
    """One line per problem: ``file: key.path: message``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{path}: {loc}: {err['msg']}")
    return "\n".join(lines)
