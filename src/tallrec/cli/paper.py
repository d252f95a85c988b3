"""`tallrec paper ...`: the paper's experiment verbs, grouped apart from the product verbs.

`@paper_command(NAME)` registers a command in the group. (Their old top-level spellings, kept
hidden for one release, are gone: `tallrec reproduce` is an unknown command.)
"""

from __future__ import annotations

import typer

from . import app

paper_app = typer.Typer(
    help="The paper's experiments: reproduce, ablation, cross-domain, report, baseline, icl.", no_args_is_help=True
)
app.add_typer(paper_app, name="paper")


def paper_command(name: str, **settings):
    """Register the decorated function as `tallrec paper NAME`."""

    def register(f):
        paper_app.command(name, **settings)(f)
        return f

    return register
