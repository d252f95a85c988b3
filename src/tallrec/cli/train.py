"""`tallrec train | tune-instruct`: rec-tuning (stage 2) and Alpaca tuning (stage 1)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..core.config import packaged_configs
from ..core.defaults import DEFAULT_RECIPE
from ..tuning.config import InstructConfig, TrainConfig
from . import app
from .config_flags import config_flags


@app.command()
@config_flags(TrainConfig, exclude=("init_adapter",))
def train(
    train: Path = typer.Option(..., "--train", help="Training pool (authors' JSON); K samples are drawn from it."),
    valid: Path = typer.Option(..., "--valid", help="Validation samples for early stopping on AUC."),
    out: Path = typer.Option(..., "--out", help="Run folder: adapter/, config.yaml, history.json."),
    config: str | None = typer.Option(None, "--config", help="YAML settings file, or a packaged one: "
                                      f"{', '.join(packaged_configs('rec'))} (default: {DEFAULT_RECIPE})."),
    init_adapter: Path | None = typer.Option(None, "--init-adapter", help="Continue from a stage-1 adapter."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Allow reusing a folder that holds another run."),
    force: bool = typer.Option(False, "--force", help="Train even when `tallrec plan` says it will not fit."),
    overrides: dict = None,
):
    """Rec-tune (stage 2): LoRA on K samples, early stopping on validation AUC, best adapter kept.

    Every setting of the config (configs/rec/paper.yaml lists them, with the paper's values) is also a flag; a flag wins over the file."""
    from ..core.config import load_config, resolve_config
    from ..core.io import check_writable
    from ..data import load_samples
    from ..llm.adapters import require_adapter_dir
    from ..llm.memory_plan import check_fits
    from ..tuning.rec_tune import rec_tune

    cfg = load_config(TrainConfig, resolve_config(config, "rec", DEFAULT_RECIPE),
                      {**overrides, "init_adapter": str(init_adapter) if init_adapter else None})
    if cfg.init_adapter:
        require_adapter_dir(cfg.init_adapter)
    check_writable(out)
    pool, valid_samples = load_samples(train), load_samples(valid)
    check_fits(cfg, force, log=typer.echo)
    result = rec_tune(cfg, pool, valid_samples, out, overwrite=overwrite)
    typer.echo(f"best validation AUC {result.best_valid_auc:.4f} at step {result.best_step} "
               f"({result.steps} steps, {result.seconds:.0f} s); adapter: {result.adapter}")


@app.command("tune-instruct")
@config_flags(InstructConfig)
def tune_instruct_cmd(
    data: Path = typer.Option(..., "--data", help="Alpaca records: a JSON list of {instruction, input, output}."),
    out: Path = typer.Option(..., "--out", help="Run folder: adapter/, config.yaml, instruct.json."),
    config: str | None = typer.Option(
        None, "--config", help=f"YAML settings file, or a packaged one: {', '.join(packaged_configs('instruct'))}. "
                               "Default: the paper's recipe (alpaca-lora)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Allow reusing a folder that holds another run."),
    force: bool = typer.Option(False, "--force", help="Train even when `tallrec plan` says it will not fit."),
    overrides: dict = None,
):
    """Stage 1: LoRA-tune on Alpaca instruction records (the final adapter is kept).

    Every setting of the config (configs/instruct/alpaca-paper.yaml lists them) is also a flag."""
    from ..core.config import load_config, resolve_config
    from ..core.io import check_writable, sha256_file
    from ..llm.memory_plan import check_fits
    from ..tuning.instruct import load_alpaca_records, tune_instruct

    cfg = load_config(InstructConfig, resolve_config(config, "instruct"), overrides)
    check_writable(out)
    records = load_alpaca_records(data)
    check_fits(cfg, force, log=typer.echo)
    res = tune_instruct(cfg, records, out, overwrite=overwrite, source=f"{data} (sha256 {sha256_file(data)[:12]})",
                        log=typer.echo)
    typer.echo(f"{res.steps} steps on {res.used} of {res.records} records ({res.skipped} longer than the cutoff "
               f"skipped) in {res.seconds:.0f} s; adapter: {res.adapter}")
