"""The `tallrec` command. Thin: parses options and calls the package's modules.

The product verbs (data, train, evaluate, rank, serve, ...) sit at the top level; the paper's
experiment verbs sit under `tallrec paper` (cli/paper.py). Each module of COMMAND_MODULES adds its
commands to `app` when imported, so a new verb is one `@app.command()` in a module listed there.
A `TallrecError` anywhere becomes one line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer

from ..core.errors import TallrecError

try:  # recent typer releases carry their own copy of click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer on plain click
    from click import exceptions as click_errors

app = typer.Typer(
    name="tallrec",
    help="TALLRec: LoRA-tune a causal LLM to answer 'will this user like this item?'.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


# Imported in this order for their side effect of adding commands to `app` (the order of --help).
COMMAND_MODULES = ("data", "train", "collm", "score", "calibrate", "plan", "rank", "recommend", "serve", "experiments",
                   "paper", "reproduce", "baseline")

for _name in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code (tests call it directly).

    A TallrecError and a usage error (unknown option, a value of the wrong type) are one
    `tallrec: error:` line and exit code 1; --help and a bare `tallrec` print help and exit 0.
    """
    from ..core.runtime import keep_freed_memory

    keep_freed_memory()
    try:
        result = app(args=argv, prog_name="tallrec", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except click_errors.NoArgsIsHelpError as e:
        typer.echo(e.ctx.get_help() if e.ctx else "")
        code = 0
    except (TallrecError, click_errors.ClickException) as e:
        code = _error(e)
    except typer.Abort:
        code = _error(TallrecError("interrupted"))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    if argv is None:
        sys.exit(code)
    return code


def _error(e: Exception) -> int:
    if isinstance(e, click_errors.ClickException):
        message = e.format_message().splitlines()[0] if e.format_message() else type(e).__name__
        ctx = getattr(e, "ctx", None)
        if isinstance(e, click_errors.UsageError) and ctx is not None:
            message += f" (see: {ctx.command_path} --help)"
    else:
        message = str(e)
    print(f"tallrec: error: {message}", file=sys.stderr)
    return 1
