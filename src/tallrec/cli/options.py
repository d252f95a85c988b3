"""Options shared by several commands: one `Annotated` alias each, so an option has one name, one
meaning and one check wherever it appears (tests/cli/test_option_names.py walks every command).

Vocabulary: `--adapter RUN` (a run folder or its adapter/; `none` is the untuned base model),
`--catalogue FOLDER` (a recommender folder), `--batch-size N` (sequences scored in one forward
pass; `train`'s is the optimizer batch, its scoring batch `--eval-batch-size`), `--limit N`,
`--model`, `--device`, `--precision` (checked before any model loads) and `--data-dir`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from ..core.defaults import DEFAULT_BATCH_SIZE, DEFAULT_CUTOFF
from ..tuning.config import PRECISIONS

NO_ADAPTER = "none"
"""`--adapter none`: the untuned base model."""

def _precision(value: str | None) -> str | None:
    if value is not None and value not in PRECISIONS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(PRECISIONS)}")
    return value

def _device(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"cpu|mps|cuda(:\d+)?", value):
        raise typer.BadParameter(f"{value!r} is not cpu, mps, cuda or cuda:N")
    return value

def _batch(value: int) -> int:
    if value < 1:
        raise typer.BadParameter(f"{value} is not 1 or more")
    return value

def adapter_path(value: str | Path | None) -> Path | None:
    """The run or adapter folder of `--adapter`, None for `none` (the untuned base model)."""
    return None if value is None or str(value) == NO_ADAPTER else Path(value)

AdapterOpt = Annotated[str, typer.Option(
    "--adapter", help="Run folder (holding adapter/) or adapter folder; `none`: the untuned base model.")]
MaybeAdapterOpt = Annotated[str | None, typer.Option(
    "--adapter", help="Run folder (holding adapter/) or adapter folder; `none`: the untuned base model "
    "(default: the catalogue folder's).")]
ModelOpt = Annotated[str | None, typer.Option(
    "--model", help="Registry name (smollm2-135m, gemma3-270m), HF folder or .gguf file "
    "(default: the adapter's base model, else smollm2-135m).")]
DeviceOpt = Annotated[str | None, typer.Option(
    "--device", callback=_device, help="cpu, cuda, cuda:1, mps (default: cuda if present, else cpu).")]
PrecisionOpt = Annotated[str, typer.Option(
    "--precision", callback=_precision, help="auto (bf16 where the hardware runs it) | fp32 | bf16 | fp16.")]
BatchSizeOpt = Annotated[int, typer.Option(
    "--batch-size", callback=_batch, help="Sequences scored in one forward pass.")]
CutoffOpt = Annotated[int | None, typer.Option(
    "--cutoff", min=64, help=f"Most tokens per prompt (default: the adapter's training cutoff, else "
    f"{DEFAULT_CUTOFF}); the oldest history items are dropped to fit, never the question.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="Use only the first N samples, users or lists.")]
DataDirOpt = Annotated[Path | None, typer.Option(
    "--data-dir", help="Data folder (default: $TALLREC_DATA_DIR, else ~/.cache/tallrec/data).")]
CatalogueOpt = Annotated[Path | None, typer.Option(
    "--catalogue", help="Recommender folder (`tallrec recommend build`).")]
CompileOpt = Annotated[bool, typer.Option(
    "--compile", help="Experimental: torch.compile the forward pass (a ~2 minute compile on a 2-core CPU; "
    "1.0-1.4x faster scoring there afterwards).")]
PromptOpt = Annotated[str | None, typer.Option(
    "--prompt", help="Prompt style (alpaca, chat, stats, ...); with an adapter it must be the style the "
    "adapter was trained with (default: that style, else alpaca).")]

DEFAULTS = {"batch_size": DEFAULT_BATCH_SIZE, "precision": "auto"}

def check_prompt(prompt: str | None) -> None:
    """--prompt is a known style (checked before a model loads)."""
    from ..core.errors import TallrecError
    from ..prompts.registry import list_styles

    if prompt is not None and prompt not in list_styles():
        raise TallrecError(f"--prompt: unknown prompt style {prompt!r} (known: {', '.join(list_styles())})")
