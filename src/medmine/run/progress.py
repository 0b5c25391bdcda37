"""Progress bars: one per model, with samples/s, ETA and the error count."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Samples per second (blank until rich has measured a speed)."""

    def render(self, task: Task) -> Text:
        """The rate text for one bar."""
        speed = task.finished_speed or task.speed
        return Text(f"{speed:6.1f} samples/s" if speed else " " * 16)


class ModelBar:
    """One model's bar; ``advance`` counts a finished sample and, if it failed, an error.

    The bar is told at most every ``every_s`` seconds (and at :meth:`close`): updating rich's
    task for every sample would cost more than a fast model's answer.
    """

    def __init__(
        self,
        progress: Progress | None,
        task_id: TaskID | None,
        name: str,
        every_s: float = 0.1,
    ) -> None:
        self.progress = progress
        self.task_id = task_id
        self.name = name
        self.errors = 0
        self.every_s = every_s
        self._unshown = 0
        self._shown_at = 0.0

    def advance(self, error: bool) -> None:
        """Count one finished sample."""
        if error:
            self.errors += 1
        if self.progress is None:
            return
        self._unshown += 1
        now = time.monotonic()
        if now - self._shown_at >= self.every_s:
            self._show(now)

    def _show(self, now: float) -> None:
        if self.progress is not None and self.task_id is not None and self._unshown:
            self.progress.update(self.task_id, advance=self._unshown, errors=self.errors)
        self._unshown, self._shown_at = 0, now

    def close(self) -> None:
        """Show the samples counted since the last update."""
        self._show(time.monotonic())


class ProgressBoard:
    """All models' bars (disabled in tests and when output is not a terminal)."""

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.progress: Progress | None = None
        if enabled:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                RateColumn(),
                TimeRemainingColumn(),
                TextColumn("errors: {task.fields[errors]}"),
                console=console or Console(stderr=True),
                transient=False,
            )

    def add(self, name: str, total: int) -> ModelBar:
        """A new bar for a model."""
        if self.progress is None:
            return ModelBar(None, None, name)
        task_id = self.progress.add_task(name, total=total, errors=0)
        return ModelBar(self.progress, task_id, name)

    def __enter__(self) -> ProgressBoard:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.progress is not None:
            self.progress.stop()


class StatusLine:
    """Status lines for phases without a bar (loading, checking images, scoring, reporting).

    A line is printed when a new phase starts (its first word changes) or when the last line
    is ``every_s`` seconds old, so a long phase keeps showing where it is without flooding
    a log. Always on stderr, so tables on stdout stay clean.
    """

    def __init__(self, console: Console | None = None, every_s: float = 1.5) -> None:
        self.console = console or Console(stderr=True, soft_wrap=True)
        self.every_s = every_s
        self._last = -1e9
        self._phase = ""

    def __call__(self, message: str) -> None:
        """Show ``message`` if it starts a phase or the last line is old enough."""
        now = time.monotonic()
        phase = message.split(" ", 1)[0]
        if phase != self._phase or now - self._last >= self.every_s:
            self.console.print(f"[dim]{escape(message)}[/]", highlight=False)
            self._last, self._phase = now, phase
