"""The `tallrec` command. Thin: parses options and calls the package's modules.

Subcommand groups live in their own modules (cli/data.py, cli/llm.py, ...) and register on `app`.
A `TallrecError` anywhere becomes one line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer

from ..core.errors import TallrecError

app = typer.Typer(
    name="tallrec",
    help="TALLRec: LoRA-tune a causal LLM to answer 'will this user like this item?'.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    # Imported for their side effect of adding commands to `app`.
    from . import data  # noqa: F401

    for name in ("train", "score", "baseline", "experiments", "reproduce", "serve"):
        importlib.import_module(f"{__name__}.{name}")


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code (tests call it directly)."""
    from ..core.runtime import keep_freed_memory

    keep_freed_memory()
    try:
        app(args=argv, prog_name="tallrec", standalone_mode=True)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if argv is None:
            raise
        return code
    except TallrecError as e:
        print(f"tallrec: error: {e}", file=sys.stderr)
        if argv is None:
            sys.exit(1)
        return 1
    return 0
