"""`tallrec train-collm`: collm's stage 2 (the projector of the collaborative soft tokens) on a
rec-tuned run, its LoRA frozen (tuning/collm.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..core.errors import TallrecError
from ..tuning.collm import CollmConfig
from . import app
from .config_flags import config_flags
from .options import DataDirOpt


@app.command("train-collm")
@config_flags(CollmConfig)
def train_collm_cmd(
    adapter: Annotated[str, typer.Option("--adapter", help="The text-only rec-tuned run folder (stage 1, written by `tallrec "
                                         "train`; `none`, the untuned model, has no LoRA to freeze).")],
    valid: Annotated[Path, typer.Option("--valid", help="Validation samples (the run's early-stopping subset is "
                                        "drawn from them).")],
    out: Annotated[Path, typer.Option("--out", help="The collm run folder: adapter/ (LoRA, projector.pt, "
                                      "collm.json), train.json.")],
    data_dir: DataDirOpt = None,
    overrides: dict = None,
):
    """Train CoLLM's projector: each sample's leak-free collaborative signals (MF with biases on the
    latest snapshot before its time, like rates and counts) become one user and one item soft token
    in the `collm` prompt; the run's LoRA stays frozen. `tallrec evaluate --adapter OUT` then scores
    with the soft tokens, with no extra flag."""
    from ..core.config import load_config
    from ..data import load_samples
    from ..tuning.collm import train_collm

    if adapter == "none":
        raise TallrecError("train-collm trains on a rec-tuned run (--adapter RUN), not on the untuned model")
    cfg = load_config(CollmConfig, None, overrides)
    rec = train_collm(adapter, load_samples(valid), out, cfg, data_dir=data_dir, log=typer.echo)
    typer.echo(f"collm: best validation AUC {rec['best_valid_auc']:.4f} at epoch {rec['best_epoch']} "
               f"({rec['seconds']:.0f} s) -> {out}/adapter")
