"""`tallrec train-collm`: collm's stage 2 (the projector of the collaborative soft tokens) on a
rec-tuned run, its LoRA frozen (tuning/collm.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..tuning.collm import CollmConfig
from . import app
from .config_flags import config_flags
from .options import DataDirOpt


@app.command("train-collm")
@config_flags(CollmConfig)
def train_collm_cmd(
    adapter: Path = typer.Option(..., "--adapter", help="The text-only rec-tuned run (stage 1): a `tallrec train` "
                                 "folder."),
    valid: Path = typer.Option(..., "--valid", help="Validation samples (the run's early-stopping subset is drawn "
                               "from them)."),
    out: Path = typer.Option(..., "--out", help="The collm run folder: adapter/ (LoRA, projector.pt, collm.json), "
                             "train.json."),
    data_dir: Path | None = DataDirOpt,
    overrides: dict = None,
):
    """Train CoLLM's projector: each sample's leak-free collaborative signals (MF with biases on the
    latest snapshot before its time, like rates and counts) become one user and one item soft token
    in the `collm` prompt; the run's LoRA stays frozen. `tallrec evaluate --adapter OUT` then scores
    with the soft tokens, with no extra flag."""
    from ..core.config import load_config
    from ..data import load_samples
    from ..tuning.collm import train_collm

    cfg = load_config(CollmConfig, None, overrides)
    rec = train_collm(adapter, load_samples(valid), out, cfg, data_dir=data_dir, log=typer.echo)
    typer.echo(f"collm: best validation AUC {rec['best_valid_auc']:.4f} at epoch {rec['best_epoch']} "
               f"({rec['seconds']:.0f} s) -> {out}/adapter")
