"""Start-up speed of the command line: commands whose modules are imported only when needed.

Typer reads a command's signature when it builds the click command tree, not when the command
is registered, so a command defined in a heavy module (``mine``, ``review``, ``doctor``) can be
registered late. :class:`LazyTyper` runs such registrations the first time anyone reads its
command list (``typer.main.get_command``, ``CliRunner.invoke``), so ``app`` still holds every
command for tests and library users; :func:`eager_only` lets the entry point skip them when the
invoked command is one that does not need them (``medmine models list`` imports no mining or
review code).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer


class LazyTyper(typer.Typer):
    """A Typer app with commands registered on first use of its command list."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Same arguments as :class:`typer.Typer`."""
        self._pending: list[Callable[[], None]] = []
        self._deferred = False
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def registered_commands(self) -> list[Any]:
        """The registered commands, after running the pending lazy registrations (unless
        deferred by :func:`eager_only`)."""
        if self._pending and not self._deferred:
            pending, self._pending = self._pending, []
            for register in pending:
                register()
        return self._commands

    @registered_commands.setter
    def registered_commands(self, value: list[Any]) -> None:
        """Typer's own ``__init__`` assigns the list."""
        self._commands = value

    def lazy(self, register: Callable[[], None]) -> None:
        """Run ``register`` (which imports a module and calls ``self.command``) when the command
        list is first read; order among lazy registrations is kept."""
        self._pending.append(register)


@contextmanager
def eager_only(app: LazyTyper) -> Iterator[None]:
    """Build and run ``app`` without its lazy commands (the caller knows none is invoked)."""
    app._deferred = True
    try:
        yield
    finally:
        app._deferred = False


def needs_lazy(argv: list[str], eager_names: set[str]) -> bool:
    """Whether the command line may reach a lazily registered command: anything but a first
    argument naming an eagerly registered command (or group) does."""
    return not argv or argv[0] not in eager_names


def add_heavy_commands(app: LazyTyper) -> None:
    """Register ``mine`` (image folders, DICOM trees, report archives: mine/cli_command.py),
    ``review`` (check and correct a run's labels: review/command.py) and ``doctor`` (integrity
    check and salvage: cli_run.py) lazily, in that order."""

    def mine() -> None:
        from medmine.mine.cli_command import mine_command

        app.command("mine")(mine_command)

    def review() -> None:
        from medmine.review.command import review_command

        app.command("review")(review_command)

    def doctor() -> None:
        from medmine.cli_run import doctor_command

        app.command("doctor")(doctor_command)

    for register in (mine, review, doctor):
        app.lazy(register)
