"""`tallrec tune-instruct | ablation | cross-domain`: stage 1 and the paper's experiments."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from ..errors import TallrecError

ModelOpt = typer.Option(None, "--model", help="Registry name (smollm2-135m, gemma3-270m), HF folder or .gguf file.")
PrecisionOpt = typer.Option(None, "--precision", help="auto | fp32 | bf16 | fp16.")
DataDirOpt = typer.Option(None, "--data-dir", help="Data folder (default $TALLREC_DATA_DIR, else ~/.cache/tallrec/data).")
TestLimitOpt = typer.Option(None, "--test-limit", help="Score only the first N test samples (of each domain).")


def _rec_config(config: Optional[str], model: Optional[str], precision: Optional[str]):
    from ..config import TrainConfig, load_config
    from ..experiments.cells import DEFAULT_REC_CONFIG, resolve_config

    return load_config(TrainConfig, resolve_config(config, DEFAULT_REC_CONFIG), {"model": model, "precision": precision})


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
    from ..config import load_config
    from ..experiments.cells import resolve_config
    from ..instruct import InstructConfig, file_sha256, load_alpaca_records, tune_instruct

    cfg = load_config(InstructConfig, resolve_config(config), {
        "model": model, "precision": precision, "lr": lr, "epochs": epochs, "cutoff": cutoff,
        "batch_size": batch_size, "micro_batch_size": micro_batch_size, "limit": limit, "seed": seed,
        "loss_on": loss_on})
    records = load_alpaca_records(data)
    res = tune_instruct(cfg, records, out, overwrite=overwrite, source=f"{data} (sha256 {file_sha256(data)[:12]})",
                        log=typer.echo)
    typer.echo(f"{res.steps} steps on {res.used} of {res.records} records ({res.skipped} longer than the cutoff "
               f"skipped) in {res.seconds:.0f} s; adapter: {res.adapter}")


@app.command()
def ablation(
    domain: str = typer.Option(..., "--domain", help="movie | book"),
    out: Path = typer.Option(..., "--out", help="Experiment folder (resumable: finished cells are skipped)."),
    shots: str = typer.Option("16,64", "--shots", help="Comma-separated K values."),
    seeds: str = typer.Option("0", "--seeds", help="Comma-separated seeds."),
    instruct_adapter: Optional[Path] = typer.Option(None, "--instruct-adapter", help="A stage-1 adapter (tune-instruct's adapter/)."),
    alpaca: Optional[Path] = typer.Option(None, "--alpaca", help="Alpaca records: train the stage-1 adapter here, once."),
    config: Optional[str] = typer.Option(None, "--config", help="Rec-tuning settings (default: packaged cpu-quick)."),
    instruct_config: Optional[str] = typer.Option(
        None, "--instruct-config", help="Stage-1 settings with --alpaca (default: packaged alpaca-cpu)."),
    model: Optional[str] = ModelOpt,
    precision: Optional[str] = PrecisionOpt,
    test_limit: Optional[int] = TestLimitOpt,
    data_dir: Optional[Path] = DataDirOpt,
):
    """AT (stage 1 only) vs R (rec-tuning only) vs TALLRec (both), per K and seed, on one domain."""
    from ..config import load_config
    from ..experiments.ablation import run_ablation
    from ..experiments.cells import DEFAULT_INSTRUCT_CONFIG, resolve_config
    from ..instruct import InstructConfig

    if domain.strip().lower() not in ("movie", "book"):
        raise TallrecError(f"--domain {domain!r}: expected movie or book")
    if instruct_config is not None and alpaca is None:
        raise TallrecError("--instruct-config only applies with --alpaca (training the stage-1 adapter here)")
    cfg = _rec_config(config, model, precision)
    icfg = (load_config(InstructConfig, resolve_config(instruct_config, DEFAULT_INSTRUCT_CONFIG))
            if alpaca is not None else None)
    summary = run_ablation(out, domain.strip().lower(), shots, seeds, rec_config=cfg,
                           instruct_adapter=instruct_adapter, alpaca=alpaca, instruct_config=icfg,
                           test_limit=test_limit, data_dir=data_dir, log=typer.echo)
    typer.echo((out / "summary.md").read_text().rstrip())
    typer.echo(f"{len(summary['cells'])} cells -> {out / 'summary.json'}")


@app.command("cross-domain")
def cross_domain(
    out: Path = typer.Option(..., "--out", help="Experiment folder (resumable: finished cells are skipped)."),
    shots: int = typer.Option(64, "--shots", help="K samples from each domain."),
    seed: int = typer.Option(0, "--seed"),
    valid_from: str = typer.Option(
        "both", "--valid-from", help="Early stopping of the movie+book row on the validation set of the first "
                                     "domain (movie) or of both."),
    config: Optional[str] = typer.Option(None, "--config", help="Rec-tuning settings (default: packaged cpu-quick)."),
    model: Optional[str] = ModelOpt,
    precision: Optional[str] = PrecisionOpt,
    test_limit: Optional[int] = TestLimitOpt,
    data_dir: Optional[Path] = DataDirOpt,
    init_adapter: Optional[Path] = typer.Option(
        None, "--init-adapter", help="Start every row from this stage-1 adapter (TALLRec, as in the paper's Fig. 4); "
                                     "default: a fresh LoRA."),
):
    """Train on movie, on book and on both; test each adapter on both test sets (3x2 AUC matrix)."""
    from dataclasses import replace

    from ..experiments.cross_domain import run_cross_domain

    cfg = _rec_config(config, model, precision)
    if init_adapter is not None:
        cfg = replace(cfg, init_adapter=str(init_adapter))
    run_cross_domain(out, shots, seed, rec_config=cfg, valid_from=valid_from, test_limit=test_limit,
                     data_dir=data_dir, log=typer.echo)
    typer.echo((out / "matrix.md").read_text().rstrip())
    typer.echo(f"-> {out / 'matrix.json'}")
