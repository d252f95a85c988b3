"""`tallrec data ...`: prepare, download and inspect datasets."""

from __future__ import annotations

import typer

from . import app

data_app = typer.Typer(help="Prepare, download and inspect datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
