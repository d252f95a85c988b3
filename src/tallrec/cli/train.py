"""`tallrec train | tune-instruct`: rec-tuning (stage 2) and Alpaca tuning (stage 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from .options import ModelOpt, PrecisionOpt


@app.command()
def train(
    train: Path = typer.Option(..., "--train", help="Training pool (authors' JSON); K samples are drawn from it."),
    valid: Path = typer.Option(..., "--valid", help="Validation samples for early stopping on AUC."),
    out: Path = typer.Option(..., "--out", help="Run folder: adapter/, config.yaml, history.json."),
    shots: Optional[int] = typer.Option(None, "--shots", help="K samples drawn from the pool (0 = all). Default 64."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for the draw, LoRA init and data order."),
    config: Optional[str] = typer.Option(None, "--config", help="YAML settings file, or a packaged one: cpu-quick, paper."),
    model: Optional[str] = ModelOpt,
    precision: Optional[str] = PrecisionOpt,
    lr: Optional[float] = typer.Option(None, "--lr"),
    epochs: Optional[int] = typer.Option(None, "--epochs"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Effective batch size."),
    micro_batch_size: Optional[int] = typer.Option(None, "--micro-batch-size"),
    loss_on: Optional[str] = typer.Option(None, "--loss-on", help="all (paper) | answer"),
    eval_every: Optional[int] = typer.Option(None, "--eval-every", help="Optimizer steps between validation checks."),
    patience: Optional[int] = typer.Option(None, "--patience"),
    valid_size: Optional[int] = typer.Option(None, "--valid-size", help="Validation samples used (default all)."),
    cutoff: Optional[int] = typer.Option(None, "--cutoff", help="Max tokens; oldest history items are dropped to fit."),
    init_adapter: Optional[Path] = typer.Option(None, "--init-adapter", help="Continue from a stage-1 adapter."),
    balanced: Optional[bool] = typer.Option(None, "--balanced/--no-balanced", help="Draw K/2 liked, K/2 not liked."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Allow reusing a folder that holds another run."),
):
    """Rec-tune (stage 2): LoRA on K samples, early stopping on validation AUC, best adapter kept."""
    from ..core.config import load_config, resolve_config
    from ..data import load_samples
    from ..tuning.config import TrainConfig
    from ..tuning.rec_tune import rec_tune

    cfg = load_config(TrainConfig, resolve_config(config, "rec"), {
        "model": model, "precision": precision, "shots": shots, "seed": seed, "lr": lr, "epochs": epochs,
        "batch_size": batch_size, "micro_batch_size": micro_batch_size, "loss_on": loss_on,
        "eval_every": eval_every, "patience": patience, "valid_size": valid_size, "cutoff": cutoff,
        "init_adapter": str(init_adapter) if init_adapter else None, "balanced": balanced})
    result = rec_tune(cfg, load_samples(train), load_samples(valid), out, overwrite=overwrite)
    typer.echo(f"best validation AUC {result.best_valid_auc:.4f} at step {result.best_step} "
               f"({result.steps} steps, {result.seconds:.0f} s); adapter: {result.adapter}")


@app.command("tune-instruct")
def tune_instruct_cmd(
    data: Path = typer.Option(..., "--data", help="Alpaca records: a JSON list of {instruction, input, output}."),
    out: Path = typer.Option(..., "--out", help="Run folder: adapter/, config.yaml, instruct.json."),
    config: Optional[str] = typer.Option(
        None, "--config", help="YAML settings file, or a packaged one: alpaca-cpu (CPU recipe), alpaca-paper. "
                               "Default: the paper's recipe (alpaca-lora)."),
    model: Optional[str] = ModelOpt,
    precision: Optional[str] = PrecisionOpt,
    lr: Optional[float] = typer.Option(None, "--lr"),
    epochs: Optional[int] = typer.Option(None, "--epochs"),
    cutoff: Optional[int] = typer.Option(None, "--cutoff", help="Max tokens; longer records are skipped (counted)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Effective batch size."),
    micro_batch_size: Optional[int] = typer.Option(None, "--micro-batch-size"),
    limit: Optional[int] = typer.Option(None, "--limit", help="Train on N records, drawn with --seed from those that fit the cutoff."),
    seed: Optional[int] = typer.Option(None, "--seed"),
    loss_on: Optional[str] = typer.Option(None, "--loss-on", help="all (alpaca-lora's train_on_inputs) | answer"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Allow reusing a folder that holds another run."),
):
    """Stage 1: LoRA-tune on Alpaca instruction records (the final adapter is kept)."""
    from ..core.config import load_config, resolve_config
    from ..core.io import sha256_file
    from ..tuning.instruct import InstructConfig, load_alpaca_records, tune_instruct

    cfg = load_config(InstructConfig, resolve_config(config, "instruct"), {
        "model": model, "precision": precision, "lr": lr, "epochs": epochs, "cutoff": cutoff,
        "batch_size": batch_size, "micro_batch_size": micro_batch_size, "limit": limit, "seed": seed,
        "loss_on": loss_on})
    records = load_alpaca_records(data)
    res = tune_instruct(cfg, records, out, overwrite=overwrite, source=f"{data} (sha256 {sha256_file(data)[:12]})",
                        log=typer.echo)
    typer.echo(f"{res.steps} steps on {res.used} of {res.records} records ({res.skipped} longer than the cutoff "
               f"skipped) in {res.seconds:.0f} s; adapter: {res.adapter}")
