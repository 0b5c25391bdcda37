"""``medmine review RUN_DIR``: the command-line entry (options -> session -> server or export)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from medmine.review.plan import PlanSpec
from medmine.review.session import ReviewError, ReviewSession


def review_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (mining or evaluation).")],
    port: Annotated[
        int | None, typer.Option(help="Port on 127.0.0.1 (default: a free one).")
    ] = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a browser.")
    ] = False,
    export: Annotated[
        Path | None,
        typer.Option(help="Write the reviewed labels, masks and precision table here and exit."),
    ] = None,
    reviewer: Annotated[
        str | None, typer.Option(help="Who reviews (saved with each decision; default: login).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="The model whose answers are reviewed (default: first).")
    ] = None,
    width: Annotated[
        float, typer.Option(help="Target 95% interval width of each label's precision.")
    ] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed of the random sample.")] = 0,
    disagreements_first: Annotated[
        bool, typer.Option("--disagreements-first", help="Show disagreeing answers first.")
    ] = False,
    all_items: Annotated[
        bool, typer.Option("--all", help="Review every item, not a sample.")
    ] = False,
    replan: Annotated[
        bool, typer.Option("--replan", help="Draw a new plan (decisions are kept).")
    ] = False,
    data_root: Annotated[
        Path | None, typer.Option(help="Where an evaluation run's datasets live.")
    ] = None,
) -> None:
    """Check and correct a run's labels in a local web page; --export writes what was reviewed."""
    from medmine.review.export import export as write_export
    from medmine.review.server import serve

    spec = PlanSpec(width, seed, disagreements_first, all_items)
    try:
        session = ReviewSession(
            run_dir,
            reviewer=reviewer or getpass.getuser(),
            model=model,
            spec=spec,
            replan=replan,
            keep_plan=export is not None,
            data_root=data_root,
        )
    except (ReviewError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        if export is not None:
            for path in write_export(session, export):
                typer.echo(f"wrote {path}")
            return
        serve(session, port=port, open_browser=not no_browser, say=typer.echo)
    except ImportError as exc:
        typer.echo(
            f"error: the review page needs its web framework ({exc.name} is missing): "
            "pip install 'medmine[review]'",
            err=True,
        )
        raise typer.Exit(2) from None
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        session.close()
