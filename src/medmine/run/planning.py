"""Preparing a run: which questions each job still has to ask, checked before any is sent.

Every image a request would send is checked to decode and hashed, every request is keyed,
and a question is pending unless the store holds an answer to the very same request. Only a
compact record of each pending question is kept (:mod:`medmine.run.pending`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence

from medmine.core import BadSample, Fittable, Model, Outcome, Sample
from medmine.core.secrets import redact
from medmine.run.image_precheck import PreCheck
from medmine.run.pending import Pending
from medmine.run.store import RunStore
from medmine.run.units import Executor, Job, RunSummary, Unit, sample_paths
from medmine.run.validate import ImageChecks, cannot_take, too_many_images

# A job is prepared this many samples at a time: each chunk looks up only its own samples'
# stored answers, so preparing holds one chunk's answers, never a whole job's.
CHUNK_LOOKUP = 5000


class Planning:
    """The runner's preparing half (the runner sets these attributes)."""

    store: RunStore
    summary: RunSummary
    repeats: int
    executor: Executor | None
    blocked: Callable[[str, str], str | None]
    status: Callable[[str], None] | None

    def _fitted(self, job: Job, samples: Sequence[Sample]) -> tuple[Model | None, str | None]:
        """The model ready to answer the job (fitted on the support set when it learns),
        or None and the reason it cannot run (recorded, shown in the report)."""
        model = job.model
        if isinstance(model, Fittable):
            support = [s for s in job.support if job.task.applies_to(s)]
            try:
                model = model.fit(support, job.task)
            except (OSError, ValueError) as exc:
                return None, f"cannot fit: {exc}"
        if self.executor is not None:
            model = self.executor.wrap(model)
        return model, None

    def prepare(self, jobs: Sequence[Job]) -> tuple[list[Unit], list[Job]]:
        """Pending units (all built) and the jobs after fitting and skipping rules: for
        callers that need every unit at once (provider batches, cost estimates)."""
        pending, ready = self.plan(jobs)
        units = [u for p in pending for u in p.units(self._bad_later)]
        return units, ready

    def plan(self, jobs: Sequence[Job]) -> tuple[list[Pending], list[Job]]:
        """Each job's pending questions (compact, see :mod:`medmine.run.pending`) and the
        jobs after fitting and skipping rules.

        A unit is pending unless the store holds an answer to the very same request (same
        hash): a changed prompt, setting or image is asked again, an unchanged one never is.
        Images a request would send are checked to decode first; a text-only model is not
        sent requests that carry images (those samples are skipped for it, with the count).
        """
        precheck = PreCheck()
        try:
            return self._plan(jobs, precheck)
        finally:
            precheck.close()

    def _plan(self, jobs: Sequence[Job], precheck: PreCheck) -> tuple[list[Pending], list[Job]]:
        pending: list[Pending] = []
        ready: list[Job] = []
        for job in jobs:
            samples = [s for s in job.samples if job.task.applies_to(s)]
            if self.status is not None and samples:
                self.status(
                    f"preparing {job.model.name} on {job.task.name}/{job.dataset}: "
                    f"{len(samples)} samples (checking images, reusing stored answers)"
                )
            supported = getattr(job.model, "tasks", None)
            base = getattr(job.task, "base_name", job.task.name)  # prompt strategies wrap tasks
            if not samples or (supported is not None and base not in supported):
                continue  # nothing to do, or a specialised baseline not meant for this task
            name = job.model.name
            why_not = self.blocked(name, job.dataset)
            if why_not is not None:
                self._not_sent(job, samples, why_not)
                ready.append(dataclasses.replace(job, samples=samples))
                continue
            model, reason = self._fitted(job, samples)
            if model is None:
                self.store.put_skipped(name, job.task.name, job.dataset, str(reason), len(samples))
                continue
            todo = Pending(job, model, samples)
            kept: list[Sample] = []
            left_out: Counter[str] = Counter()
            for start in range(0, len(samples), CHUNK_LOOKUP):
                self._pending(todo, start, kept, left_out, precheck)
            for why, n in left_out.items():
                self.store.put_skipped(name, job.task.name, job.dataset, why, n)
            if kept:
                ready.append(dataclasses.replace(job, model=model, samples=kept))
                if todo:
                    pending.append(todo)
        return pending, ready

    def _not_sent(self, job: Job, samples: Sequence[Sample], why: str) -> None:
        """Record a model that cannot run (preflight): its pending samples end as
        not_sent_key with the reason; answers stored by earlier runs are kept."""
        name = job.model.name
        self.summary.blocked.setdefault(name, why)
        n = 0
        for start in range(0, len(samples), CHUNK_LOOKUP):
            chunk = samples[start : start + CHUNK_LOOKUP]
            done = self.store.answered(name, job.task.name, job.dataset, [s.id for s in chunk])
            ends = [
                (s.id, rep, Outcome.NOT_SENT_KEY, why)
                for s in chunk
                for rep in range(self.repeats)
                if (s.id, rep) not in done
            ]
            self.store.ledger.put(name, job.task.name, job.dataset, ends)
            n += len(ends)
        self.summary.not_sent += n
        self.store.put_skipped(name, job.task.name, job.dataset, why, n)

    def _not_sendable(self, job: Job, sample: Sample, why: str) -> None:
        """Record a sample whose request the provider would reject before it is sent (too
        many images): a medmine_error outcome with the reason, in every repeat."""
        ends = [(sample.id, rep, Outcome.MEDMINE_ERROR, why) for rep in range(self.repeats)]
        self.store.ledger.put(job.model.name, job.task.name, job.dataset, ends)
        self.store.event("medmine_error", f"{job.model.name} on {job.task.name}: {why}")
        self.summary.medmine_errors += len(ends)

    def _pending(
        self,
        todo: Pending,
        start: int,
        kept: list[Sample],
        left_out: Counter[str],
        precheck: PreCheck,
    ) -> None:
        """Check the samples of one chunk of the job (from ``start``), note their pending
        questions in ``todo``, add those it keeps to ``kept`` and count the samples the model
        could not be sent, by reason (text-only, too many images); bad samples are stored.
        The chunk's image files are checked and hashed in worker processes first when there
        are many (``precheck``)."""
        job, model, name = todo.job, todo.model, todo.job.model.name
        chunk = todo.samples[start : start + CHUNK_LOOKUP]
        if cannot_take(job.model, 1) is None:  # a text-only model is sent no image
            precheck.check(im for s in chunk for im in s.images)
        done = self.store.answered(name, job.task.name, job.dataset, [s.id for s in chunk])
        bad: list[BadSample] = []
        checks = ImageChecks()  # each image file checked and hashed once per chunk
        for pos, s in enumerate(chunk, start):
            try:
                base = job.task.request(s)
            except (OSError, ValueError) as exc:
                bad.append(BadSample(s.id, job.dataset, sample_paths(s), _why(exc)))
                continue
            images = base.images()
            why = cannot_take(job.model, len(images))
            if why is not None:
                left_out[why] += 1  # "not run" for this model and setting, not failed
                continue
            over = too_many_images(job.model, len(images))
            if over is not None:  # recorded per sample, named; never sent, never scored
                self._not_sendable(job, s, f"sample {s.id}: {over}")
                kept.append(s)
                continue
            problem = next(filter(None, (checks.problem(im) for im in images)), None)
            if problem is not None:
                bad.append(BadSample(s.id, job.dataset, sample_paths(s), problem))
                continue
            try:
                keys = [base.key(model.cache_id, checks.content_hash)]
                keys += [
                    dataclasses.replace(base, repeat=r).key(model.cache_id, checks.content_hash)
                    for r in range(1, self.repeats)
                ]
            except (OSError, ValueError) as exc:
                bad.append(BadSample(s.id, job.dataset, sample_paths(s), _why(exc)))
                continue
            kept.append(s)
            for rep, key in enumerate(keys):
                if done.get((s.id, rep)) == key:
                    self.summary.resumed += 1
                else:
                    todo.add(pos, rep, key)
        if bad:
            self.store.put_bad_samples(bad)
            self.summary.bad_samples += len(bad)

    def _bad_later(self, bad: BadSample) -> None:
        """Store a sample found bad when its request was built again to be sent."""
        self.store.put_bad_samples([bad])
        self.summary.bad_samples += 1


def _why(exc: BaseException) -> str:
    return redact(f"{type(exc).__name__}: {exc}")
