"""`tallrec paper ...`: the paper's experiment verbs, grouped apart from the product verbs.

`@paper_command(NAME)` registers a command in the group and, for one release, under its old
top-level spelling as well: the same callback (one option list), hidden from `tallrec --help`,
and one notice line on stderr before it parses its arguments.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperCommand

from . import app

paper_app = typer.Typer(
    help="The paper's experiments: reproduce, ablation, cross-domain, report, baseline, icl.", no_args_is_help=True
)
app.add_typer(paper_app, name="paper")


def old_spelling_notice(name: str) -> str:
    return (f"tallrec: notice: 'tallrec {name}' is now 'tallrec paper {name}'; "
            "the old spelling goes in the next release")


class _OldSpelling(TyperCommand):
    """A top-level alias of a `paper` command: says where the command moved, then runs it."""

    def parse_args(self, ctx, args):
        print(old_spelling_notice(self.name), file=sys.stderr)
        return super().parse_args(ctx, args)


def paper_command(name: str, **settings):
    """Register the decorated function as `tallrec paper NAME` and as the hidden `tallrec NAME`."""

    def register(f):
        paper_app.command(name, **settings)(f)
        app.command(name, hidden=True, cls=_OldSpelling, **settings)(f)
        return f

    return register
