"""How each sample of a job ended, read from the store in one pass in sample-id order.

The job's stored answers and its recorded outcomes are both read in primary-key order and
walked beside the job's samples (sorted by id), so scoring holds, per sample, only what the
task needs to score (its predictions), never a job's responses or its whole ledger. Each
sample gets exactly one outcome; only the asked ones are scored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar

from medmine.core import Outcome, ParseStatus, Prediction, Sample
from medmine.run.efficiency import EfficiencyTally
from medmine.run.ledger import RawOutcome, outcome_of
from medmine.run.store import RunStore

if TYPE_CHECKING:
    from medmine.run.units import Job

_NOT_ASKED = frozenset(o.value for o in Outcome if not o.asked)
USABLE = frozenset({Outcome.OK, Outcome.REPAIRED})
NOT_RUN_TEXT = {
    Outcome.NOT_SENT_BUDGET: "not sent (budget)",
    Outcome.NOT_SENT_KEY: "not sent (cannot run)",
    Outcome.NOT_SENT_STOP: "not sent (stopped)",
    Outcome.PENDING: "pending in a batch",
    Outcome.UNREADABLE: "unreadable input",
    Outcome.MEDMINE_ERROR: "medmine error",
}
STOPPED_FIRST = "not asked yet (the run stopped first)"

T = TypeVar("T")
End = tuple[str, int, Outcome, str | None]  # sample id, repeat, outcome, detail


@dataclass(frozen=True, slots=True)
class Answered:
    """What scoring keeps of one stored answer: its reading and how it ended."""

    prediction: Prediction
    outcome: Outcome
    detail: str | None


@dataclass
class JobEnds:
    """A job's samples as they ended: the asked ones with their predictions per repeat, the
    count of each outcome (in order of first appearance), and the ends not yet recorded."""

    asked: list[Sample] = field(default_factory=list)
    predictions: list[list[Prediction]] = field(default_factory=list)  # per repeat
    counts: Counter[Outcome] = field(default_factory=Counter)
    example: dict[Outcome, str] = field(default_factory=dict)  # first detail of each outcome
    changed: list[End] = field(default_factory=list)
    tally: EfficiencyTally = field(default_factory=EfficiencyTally)
    usable: int = 0

    @property
    def total(self) -> int:
        """How many samples the job has (each ended exactly one way)."""
        return sum(self.counts.values())

    def reason(self) -> str:
        """Why a job has no usable answer: the most common end, with an example detail."""
        top, n = self.counts.most_common(1)[0]
        detail = self.example.get(top, "")
        what = NOT_RUN_TEXT.get(top, top.value.replace("_", " "))
        return f"{what} for {n} of {self.total} samples" + (f": {detail}" if detail else "")


class _Seek(Generic[T]):
    """Rows grouped by sample id, in id order, looked up by ids that only grow."""

    def __init__(self, groups: Iterator[tuple[str, dict[int, T]]]) -> None:
        self._groups = groups
        self._head = next(groups, None)

    def take(self, sample_id: str) -> dict[int, T]:
        """The rows of ``sample_id`` by repeat (empty if none); earlier ids are passed over."""
        while self._head is not None and self._head[0] < sample_id:
            self._head = next(self._groups, None)
        if self._head is None or self._head[0] != sample_id:
            return {}
        found = self._head[1]
        self._head = next(self._groups, None)
        return found

    def drain(self) -> None:
        """Read the rows left (each answer is tallied, even of samples not in the job)."""
        for _ in self._groups:
            pass


def _by_sample(rows: Iterable[tuple[str, int, T]]) -> Iterator[tuple[str, dict[int, T]]]:
    for sid, group in groupby(rows, key=lambda r: r[0]):
        yield sid, {rep: value for _, rep, value in group}


def _answers(
    store: RunStore, job: Job, tally: EfficiencyTally
) -> Iterator[tuple[str, int, Answered]]:
    """The job's stored answers in (sample id, repeat) order, each tallied as it passes."""
    for r in store.results(job.model.name, job.task.name, job.dataset):
        tally.add(r.response, r.cached)
        outcome = outcome_of(r.response, r.prediction)
        detail = r.prediction.detail or r.response.error
        yield r.sample_id, r.repeat, Answered(r.prediction, outcome, detail)


def read_job_ends(store: RunStore, job: Job, samples: Sequence[Sample], repeats: int) -> JobEnds:
    """How each of ``samples`` (sorted by id) ended in repeat 0, with the predictions of the
    asked ones in every repeat. A not-sent mark newer than a stored answer wins (a stale failed
    answer from an earlier run is not this run's answer)."""
    name, task, ds = job.model.name, job.task.name, job.dataset
    store.flush()
    pending = {
        it.sample_id
        for b in store.batch_jobs("submitted")
        if b.model == name
        for it in b.items
        if it.task == task and it.dataset == ds and it.repeat == 0
    }
    unreadable = {b.id: b.reason for b in store.bad_samples() if b.dataset == ds}
    out = JobEnds(predictions=[[] for _ in range(repeats)])
    answers = _Seek(_by_sample(_answers(store, job, out.tally)))
    marked = _Seek(_by_sample(store.ledger.ordered(name, task, ds)))
    last_id: str | None = None
    rows: dict[int, Answered] = {}
    asked = False
    for s in samples:
        if s.id != last_id:  # a sample listed twice ends once, and is scored twice
            last_id, rows = s.id, answers.take(s.id)
            end = _end(s.id, rows.get(0), marked.take(s.id).get(0), unreadable, pending, store, job)
            out.counts[end.outcome] += 1
            if end.detail and end.outcome not in out.example:
                out.example[end.outcome] = end.detail
            if end.changed:  # the runner recorded most ends with their answers
                out.changed.append((s.id, 0, end.outcome, end.detail))
            asked = end.outcome.asked
            out.usable += end.outcome in USABLE
        if asked:
            out.asked.append(s)
            for rep, preds in enumerate(out.predictions):
                preds.append(_prediction(rows.get(rep)))
    answers.drain()
    return out


class _End(NamedTuple):
    outcome: Outcome
    detail: str | None
    changed: bool  # not recorded as such yet


def _end(
    sample_id: str,
    row: Answered | None,
    mark: RawOutcome | None,
    unreadable: dict[str, str],
    pending: set[str],
    store: RunStore,
    job: Job,
) -> _End:
    """How one sample ended in repeat 0, from its stored answer and its recorded mark."""
    if sample_id in unreadable:
        outcome, detail = Outcome.UNREADABLE, unreadable[sample_id]
    elif mark is not None and mark[0] in _NOT_ASKED:
        # Not sent this time (no key, budget, stop): a stale failed answer from an earlier
        # run does not count as this run's answer; an answer newer than the mark does.
        if row is None or mark[2] > store.ledger.answer_time(
            job.model.name, job.task.name, job.dataset, sample_id, 0
        ):
            outcome, detail = Outcome(mark[0]), mark[1]
        else:
            outcome, detail = row.outcome, row.detail
    elif row is not None:
        outcome, detail = row.outcome, row.detail
    elif mark is not None:
        outcome, detail = Outcome(mark[0]), mark[1]
    elif sample_id in pending:
        outcome, detail = Outcome.PENDING, "a batch job holds it"
    else:
        outcome, detail = Outcome.NOT_SENT_STOP, STOPPED_FIRST
    return _End(outcome, detail, mark is None or mark[:2] != (outcome.value, detail))


def _prediction(row: Answered | None) -> Prediction:
    if row is None:
        return Prediction(None, ParseStatus.ERROR, "not answered in this repeat (run incomplete)")
    return row.prediction
