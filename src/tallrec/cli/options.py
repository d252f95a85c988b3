"""Options shared by several commands (one definition each)."""

from __future__ import annotations

import typer

ModelOpt = typer.Option(None, "--model", help="Registry name (smollm2-135m, gemma3-270m), HF folder or .gguf file.")
PrecisionOpt = typer.Option(None, "--precision", help="auto | fp32 | bf16 | fp16 (auto: bf16 where the hardware runs it).")
DataDirOpt = typer.Option(None, "--data-dir", help="Data folder (default $TALLREC_DATA_DIR, else ~/.cache/tallrec/data).")
TestLimitOpt = typer.Option(None, "--test-limit", help="Score only the first N test samples (of each domain).")
CompileOpt = typer.Option(False, "--compile", help="Experimental: torch.compile the forward pass (a ~2 minute "
                          "compile on a 2-core CPU; 1.0-1.4x faster scoring there afterwards).")


def check_precision(precision: str | None) -> None:
    """--precision is one of the known names (checked before a model loads)."""
    from ..core.errors import TallrecError
    from ..tuning.config import PRECISIONS

    if precision is not None and precision not in PRECISIONS:
        raise TallrecError(f"--precision: {precision!r} is not one of {', '.join(PRECISIONS)}")
