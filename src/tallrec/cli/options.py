"""Options shared by several commands (one definition each)."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from ..core.config import setting
from ..core.defaults import DEFAULT_CUTOFF
from ..tuning.config import PRECISIONS

ModelOpt = typer.Option(None, "--model", help="Registry name (smollm2-135m, gemma3-270m), HF folder or .gguf file.")
PrecisionOpt = typer.Option(None, "--precision", help="auto | fp32 | bf16 | fp16 (auto: bf16 where the hardware runs it).")
DataDirOpt = typer.Option(None, "--data-dir", help="Data folder (default $TALLREC_DATA_DIR, else ~/.cache/tallrec/data).")
TestLimitOpt = typer.Option(None, "--test-limit", help="Score only the first N test samples (of each domain).")
CompileOpt = typer.Option(False, "--compile", help="Experimental: torch.compile the forward pass (a ~2 minute "
                          "compile on a 2-core CPU; 1.0-1.4x faster scoring there afterwards).")


@dataclass
class ModelFlags:
    """The model of every command that scores: a base model and, maybe, an adapter
    (`@config_flags(...)`: one definition, the same names and checks everywhere)."""

    adapter: str | None = setting(None, "LoRA adapter folder (a run's adapter/; the ranking commands also take the run "
                                  "folder)")
    no_adapter: bool = setting(False, "use the untuned base model")
    model: str | None = setting(None, "registry name (smollm2-135m, gemma3-270m), HF folder or .gguf file "
                                "(default: the adapter's base model, else smollm2-135m)")
    precision: str = setting("auto", "auto (bf16 where the hardware runs it) | fp32 | bf16 | fp16",
                             choices=PRECISIONS)


@dataclass
class ScoringFlags(ModelFlags):
    """evaluate, predict and icl."""

    batch_size: int = setting(16, "samples per scoring batch", min=1)
    cutoff: int = setting(DEFAULT_CUTOFF, "most tokens per prompt; the oldest history items are dropped to fit, never the "
                          "question", min=64)
    compile: bool = setting(False, "experimental: torch.compile the forward pass (a ~2 minute compile on a "
                            "2-core CPU; 1.0-1.4x faster scoring there afterwards)")
    prompt: str | None = setting(None, "prompt style (alpaca, chat, stats, ...); with --adapter it must be the "
                                 "style the adapter was trained with (default: that style, else alpaca)")

    def check(self) -> list[str]:
        from ..prompts.registry import list_styles

        if self.prompt is not None and self.prompt not in list_styles():
            return [f"--prompt: unknown prompt style {self.prompt!r} (known: {', '.join(list_styles())})"]
        return []


def check_precision(precision: str | None) -> None:
    """--precision is one of the known names (checked before a model loads)."""
    from ..core.errors import TallrecError

    if precision is not None and precision not in PRECISIONS:
        raise TallrecError(f"--precision: {precision!r} is not one of {', '.join(PRECISIONS)}")


@dataclass
class RankFlags(ModelFlags):
    """The ranking commands (`rank`, `evaluate-ranking`)."""

    batch_size: int = setting(256, "candidates per forward pass (split attention keeps long packs cheap)", min=1)
    cutoff: int | None = setting(None, f"prompt token limit (default: the run's training cutoff, else {DEFAULT_CUTOFF})", min=64)
