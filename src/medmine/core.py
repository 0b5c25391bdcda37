"""The types every part of medmine speaks: samples, targets, requests, responses, predictions.

They are small frozen dataclasses (cheap to create, to hash and to store) rather than pydantic
models: the runner creates one of each per sample and its overhead budget is well under a
millisecond. User-facing configuration (suites, presets) is validated with pydantic elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable


class TaskKind(StrEnum):
    """The six task kinds of the study."""

    CLASSIFICATION = "classification"
    SEGMENTATION = "segmentation"
    LOCALIZATION = "localization"
    DETECTION = "detection"
    DIAGNOSIS = "diagnosis"
    REPORT_GENERATION = "report_generation"
    VQA = "vqa"


class ParseStatus(StrEnum):
    """How a model's answer was read. Anything but ok/repaired is scored as a failure."""

    OK = "ok"
    REPAIRED = "repaired"
    REFUSED = "refused"
    UNPARSEABLE = "unparseable"
    TRUNCATED = "truncated"  # cut by the token limit: neither the model's answer nor parseable
    ERROR = "error"  # the provider failed after retries: there is no answer to parse


class Outcome(StrEnum):
    """How one sample of one job ended. Every sample ends in exactly one of these.

    Scores are computed over the samples the model was asked (the first six outcomes); the
    others are counted next to the score and never folded into it.
    """

    OK = "ok"
    REPAIRED = "repaired"
    REFUSED = "refused"
    UNPARSEABLE = "unparseable"
    TRUNCATED = "truncated"
    PROVIDER_ERROR = "provider_error"
    NOT_SENT_BUDGET = "not_sent_budget"
    NOT_SENT_KEY = "not_sent_key"  # a credential, endpoint or data-use permission is missing
    NOT_SENT_STOP = "not_sent_stop"  # the user stopped the run
    PENDING = "pending"  # a batch job has not returned it yet
    UNREADABLE = "unreadable"  # the sample's input could not be read
    MEDMINE_ERROR = "medmine_error"  # a bug in medmine, never the model's fault

    @property
    def asked(self) -> bool:
        """True when the model was asked and answered (or failed to): the scored outcomes."""
        return self in _ASKED


_ASKED = frozenset(
    {
        Outcome.OK,
        Outcome.REPAIRED,
        Outcome.REFUSED,
        Outcome.UNPARSEABLE,
        Outcome.TRUNCATED,
        Outcome.PROVIDER_ERROR,
    }
)


# --------------------------------------------------------------------------- images


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A reference to one image file, loaded lazily.

    ``frame`` selects a frame of a multi-frame file (DICOM); ``size`` may be filled by a reader
    that already knows it (saves opening the file when a prompt states the image size).
    """

    path: Path
    size: tuple[int, int] | None = None  # (width, height)
    frame: int | None = None

    def content_hash(self) -> str:
        """SHA-256 of the file's bytes: the image's identity in cache keys."""
        return file_sha256(self.path)

    def dimensions(self) -> tuple[int, int]:
        """(width, height) in pixels, reading only the header when not known yet."""
        if self.size is not None:
            return self.size
        return image_size(self.path)


_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, memoised on (path, size, mtime) so a run hashes each image once."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    digest = _HASH_CACHE.get(key)
    if digest is None:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        _HASH_CACHE[key] = digest
    return digest


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file; raises ValueError naming the file when unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{path}: not a readable image ({exc})") from exc


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in pixel coordinates of the original image (x right, y down).

    x1/y1 are exclusive pixel edges: a box covering pixel columns 10..19 has x0=10, x1=20.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    label: str | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True)
class LabelTarget:
    """Ground truth for classification: one label out of the dataset's label set.

    ``names`` maps a canonical label to the words a reader (or a model) may use for it: its
    display name first, then synonyms and abbreviations. Readers share one mapping per dataset.
    """

    label: str
    labels: tuple[str, ...]
    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MaskTarget:
    """Ground truth for segmentation: a mask file, read with an explicit value rule.

    ``value_map`` maps raw grey values to class ids; ``threshold`` binarises (value >= threshold
    is foreground) for JPEG-compressed masks; ``foreground`` selects which class id is scored.
    """

    path: Path
    structure: str = "lesion"
    value_map: Mapping[int, int] | None = None
    threshold: int | None = None
    foreground: int = 1


@dataclass(frozen=True, slots=True)
class LandmarkTarget:
    """Ground truth for anatomical localization: a named structure as a box and/or a point."""

    structure: str
    box: Box | None = None
    point: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class BoxesTarget:
    """Ground truth for detection: every lesion of the listed classes, each a labelled box."""

    boxes: tuple[Box, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ObservationsTarget:
    """Ground truth for diagnosis: CheXpert observations (1 pos, 0 neg, -1 uncertain, None)."""

    values: Mapping[str, float | None]


@dataclass(frozen=True, slots=True)
class ReportTarget:
    """Ground truth for report generation: the reference FINDINGS and/or IMPRESSION."""

    findings: str = ""
    impression: str = ""


Target = LabelTarget | MaskTarget | LandmarkTarget | BoxesTarget | ObservationsTarget | ReportTarget


# --------------------------------------------------------------------------- samples


@dataclass(frozen=True, slots=True)
class Sample:
    """One case: its inputs (images and/or report text), its targets per task kind, metadata."""

    id: str
    dataset: str
    images: tuple[ImageRef, ...] = ()
    text: str | None = None
    targets: Mapping[str, Target] = field(default_factory=dict)
    split: str = "test"
    patient_id: str | None = None
    category: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def target(self, kind: str) -> Target | None:
        """The target for a task kind, or None when this sample cannot serve it."""
        return self.targets.get(kind)


@dataclass(frozen=True, slots=True)
class BadSample:
    """A case a reader could not turn into a Sample: recorded with the file and the reason."""

    id: str
    dataset: str
    path: str
    reason: str


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class TextPart:
    """A text part of a chat message."""

    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image part of a chat message; backends encode it in their own wire format."""

    image: ImageRef
    type: Literal["image"] = "image"


Part = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class Message:
    """One provider-neutral chat message."""

    role: Literal["system", "user", "assistant"]
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        """The message's text parts joined (for text-only consumers)."""
        return "\n".join(p.text for p in self.parts if isinstance(p, TextPart))


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """Sampling settings sent to the model; part of the cache key."""

    temperature: float = 0.0
    max_tokens: int = 1024
    top_p: float | None = None
    seed: int | None = None
    structured: bool = False  # use the provider's native JSON-schema mode when a schema is given


@dataclass(frozen=True, slots=True)
class Intent:
    """The task's structured intent, so a non-LLM baseline can answer without reading the prompt.

    LLM backends ignore it; it is not part of the cache key (the prompt carries the same facts).
    """

    task: str
    sample_id: str
    labels: tuple[str, ...] = ()
    structure: str | None = None
    convention: str | None = None
    images: tuple[ImageRef, ...] = ()
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """Everything a model needs to answer one sample, in provider-neutral form."""

    messages: tuple[Message, ...]
    intent: Intent
    settings: GenerationSettings = GenerationSettings()
    json_schema: Mapping[str, Any] | None = None
    repeat: int = 0

    def images(self) -> list[ImageRef]:
        """All images of the request, in message order."""
        return [p.image for m in self.messages for p in m.parts if isinstance(p, ImagePart)]

    def key(self, model_id: str) -> str:
        """The canonical hash of this request for a model: the response-cache key.

        It covers the messages (images by content hash), the model id, the settings and the
        schema. The repeat index is included only when sampling (temperature > 0), so repeats
        of a deterministic request share one cached answer and repeats of a sampled one do not.
        """
        payload = {
            "model": model_id,
            "messages": [
                {
                    "role": m.role,
                    "parts": [
                        {"text": p.text}
                        if isinstance(p, TextPart)
                        else {"image": p.image.content_hash(), "frame": p.image.frame}
                        for p in m.parts
                    ],
                }
                for m in self.messages
            ],
            "settings": asdict(self.settings),
            "schema": self.json_schema,
            "repeat": self.repeat if self.settings.temperature > 0 else 0,
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


def user_request(
    task: str,
    sample_id: str,
    images: Sequence[ImageRef],
    prompt: str,
    settings: GenerationSettings,
    json_schema: Mapping[str, Any] | None = None,
    **intent: Any,
) -> Request:
    """A one-turn request: the image parts first (the order most vision models are tuned on),
    then the instruction; the intent carries the task, the sample, its images and ``intent``."""
    images = tuple(images)
    parts: tuple[Part, ...] = (*(ImagePart(im) for im in images), TextPart(prompt))
    return Request(
        messages=(Message("user", parts),),
        intent=Intent(task=task, sample_id=sample_id, images=images, **intent),
        settings=settings,
        json_schema=json_schema,
    )


# --------------------------------------------------------------------------- responses


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage; ``estimated`` is True when the provider reported none and medmine counted."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class Response:
    """A model's raw answer with its cost and timing. Never discarded.

    ``error`` is set when the provider failed after retries (no usable text); ``refused`` when
    the provider blocked the answer (a scored outcome, not an error).
    """

    text: str
    model: str
    usage: Usage = Usage()
    latency_s: float | None = None
    ttft_s: float | None = None
    cost_usd: float | None = None
    finish_reason: str | None = None
    error: str | None = None
    error_kind: str | None = None
    refused: bool = False
    probabilities: Mapping[str, float] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when there is an answer to parse (refusals included)."""
        return self.error is None

    @property
    def tokens_per_s(self) -> float | None:
        """Output tokens per second of wall time, when both are known."""
        if self.usage.output_tokens is None or not self.latency_s:
            return None
        return self.usage.output_tokens / self.latency_s

    def to_json(self) -> str:
        """Serialise for the store (hand-written: ``asdict`` is the runner's hottest call)."""
        u = self.usage
        d = {
            "text": self.text,
            "model": self.model,
            "usage": {
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "estimated": u.estimated,
            },
            "latency_s": self.latency_s,
            "ttft_s": self.ttft_s,
            "cost_usd": self.cost_usd,
            "finish_reason": self.finish_reason,
            "error": self.error,
            "error_kind": self.error_kind,
            "refused": self.refused,
            "probabilities": dict(self.probabilities) if self.probabilities else None,
            "extra": dict(self.extra),
        }
        return json.dumps(d, separators=(",", ":"), ensure_ascii=False)

    @staticmethod
    def from_json(blob: str) -> Response:
        """Inverse of :meth:`to_json`."""
        d = json.loads(blob)
        d["usage"] = Usage(**d["usage"])
        return Response(**d)


def forced_status(response: Response) -> tuple[ParseStatus, str] | None:
    """The parse status a response settles before any reading of its text, with the reason.

    TRUNCATED when the token limit cut the answer (``error_kind == "truncated"``: the text is
    kept but is not the model's answer), ERROR when there is no usable answer (provider
    error, image dropped by the server). None when the task should read the text (refusals
    included). Tasks (layer 4) and the runner share this one check.
    """
    if response.error is None:
        return None
    if response.error_kind == "truncated":
        return ParseStatus.TRUNCATED, response.error
    return ParseStatus.ERROR, response.error


# --------------------------------------------------------------------------- predictions


@dataclass(frozen=True, slots=True)
class Prediction:
    """What a task read from a response: a value in the task's own form, and how it was read."""

    value: Any
    status: ParseStatus
    detail: str | None = None

    @property
    def usable(self) -> bool:
        """True when the value can be scored as an answer."""
        return self.status in (ParseStatus.OK, ParseStatus.REPAIRED)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric a task reports: where it lives in the scores and how to show it.

    ``key`` names the aggregate in :attr:`TaskScores.metrics`; ``per_sample`` names the
    per-sample value that paired tests and intervals use (None when the metric is corpus-level
    only); ``higher_is_better`` orders leaderboards; ``fmt`` is a format spec for display.
    """

    key: str
    label: str
    higher_is_better: bool = True
    per_sample: str | None = None
    fmt: str = ".3f"


@dataclass(frozen=True, slots=True)
class MetricSet:
    """The metrics a task declares: one headline and the secondary columns, each once.

    Every view (terminal, Markdown, CSV, HTML, LaTeX, statistics) reads this declaration;
    no view keeps its own list of metric names.
    """

    headline: MetricSpec
    secondary: tuple[MetricSpec, ...] = ()

    def all(self) -> tuple[MetricSpec, ...]:
        """Headline first, then the secondary metrics, without duplicates."""
        seen: set[str] = set()
        out: list[MetricSpec] = []
        for spec in (self.headline, *self.secondary):
            if spec.key not in seen:
                seen.add(spec.key)
                out.append(spec)
        return tuple(out)


@dataclass
class TaskScores:
    """Scores of one task on one dataset for one model.

    ``per_sample`` maps sample id to that sample's scores (used for confidence intervals and
    the gallery); ``metrics`` holds the aggregates; ``tables`` holds larger objects such as a
    confusion matrix or per-class figures.
    """

    metrics: dict[str, float]
    per_sample: dict[str, dict[str, float]]
    headline: str
    tables: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- batches

BatchOutcome = Literal["completed", "expired", "cancelled", "failed"]


@dataclass(frozen=True, slots=True)
class BatchStatus:
    """Where a provider batch is. ``outcome`` is set once it has ended (nothing more will come).

    ``completed``/``expired``: fetch the results; requests without one are resubmitted.
    ``cancelled``: fetch the results; requests without one are recorded as cancelled.
    ``failed``: the whole batch was rejected (``message`` says why); every request is an error.
    """

    state: str
    outcome: BatchOutcome | None = None
    message: str = ""
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        """True once the provider will not answer any more of the batch's requests."""
        return self.outcome is not None


@dataclass(frozen=True, slots=True)
class ItemError:
    """A per-request failure inside a batch. ``retry``: resubmit it in the next round."""

    kind: str
    message: str
    retry: bool = False


# --------------------------------------------------------------------------- protocols


@runtime_checkable
class Task(Protocol):
    """A task kind: how to ask, how to read the answer, how to score it."""

    name: str
    kind: TaskKind
    version: str  # bump when the prompt or parser changes: it is part of the recipe
    metrics: MetricSet  # what it reports; every view reads this, none keeps its own list

    def applies_to(self, sample: Sample) -> bool:
        """Whether this sample has what the task needs (inputs and target)."""
        ...

    def request(self, sample: Sample) -> Request:
        """The request asking a model to do this task on the sample."""
        ...

    def parse(self, response: Response, sample: Sample) -> Prediction:
        """Read the model's answer; never raises on any text."""
        ...

    def score(self, predictions: Sequence[Prediction], samples: Sequence[Sample]) -> TaskScores:
        """Score all predictions of one (model, dataset) pair; failures count as wrong."""
        ...

    def template_hash(self) -> str:
        """A hash of the prompt template and parser version, recorded in the recipe."""
        ...


@runtime_checkable
class Model(Protocol):
    """Anything that answers requests: an API backend, a local model or a baseline."""

    name: str
    max_concurrency: int

    @property
    def cache_id(self) -> str:
        """The model's identity in cache keys (model id, plus fitted state for baselines)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Settings recorded in the run manifest (never a secret)."""
        ...

    async def generate(self, request: Request) -> Response:
        """Answer one request. Provider failures come back as a Response with ``error`` set."""
        ...


@runtime_checkable
class Fittable(Protocol):
    """A model that learns from a support set (training split) before answering."""

    def fit(self, support: Sequence[Sample], task: Task) -> Model:
        """A copy of this model prepared from the support samples for the given task."""
        ...


def cache_dir() -> Path:
    """``$MEDMINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/medmine``, else ``~/.cache/medmine``."""
    env = os.environ.get("MEDMINE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "medmine"


def stable_hash(obj: Any) -> str:
    """A short stable hash of a JSON-serialisable object (recipes, fingerprints)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
