"""`tallrec train | tune-instruct`: rec-tuning (stage 2) and Alpaca tuning (stage 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..core.config import packaged_configs
from ..core.defaults import DEFAULT_RECIPE
from ..tuning.config import InstructConfig, TrainConfig
from . import app
from .config_flags import config_flags


@app.command()
@config_flags(TrainConfig, exclude=("init_adapter",))
def train(
    train: Annotated[Path, typer.Option("--train", help="Training pool (authors' JSON); K samples are drawn "
                                        "from it.")],
    valid: Annotated[Path, typer.Option("--valid", help="Validation samples for early stopping on AUC.")],
    out: Annotated[Path, typer.Option("--out", help="Run folder: adapter/, config.yaml, history.json.")],
    config: Annotated[str | None, typer.Option(
        "--config", help=f"YAML settings file, or a packaged one: {', '.join(packaged_configs('rec'))} "
        f"(default: TrainConfig(), spelled out in {DEFAULT_RECIPE}; the paper's recipe: paper).")] = None,
    init_adapter: Annotated[Path | None, typer.Option("--init-adapter", help="Continue from a stage-1 "
                                                      "adapter.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Allow reusing a folder that holds another "
                                            "run.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Train even when `tallrec plan` says it will not "
                                        "fit.")] = False,
    overrides: dict = None,
):
    """Rec-tune (stage 2): LoRA on K samples, early stopping on validation AUC, best adapter kept.

    Every setting of TrainConfig (configs/rec/cpu-augment.yaml lists them; configs/rec/paper.yaml has the paper's
    values) is also a flag; a flag wins over the file. `tallrec.train(...)` is the Python twin."""
    from ..tuning.api import rec_tune_run

    given = {k: v for k, v in overrides.items() if v is not None}
    result = rec_tune_run(config, train=train, valid=valid, out=out, overwrite=overwrite, force=force,
                          log=typer.echo, **given, init_adapter=str(init_adapter) if init_adapter else None)
    typer.echo(f"best validation AUC {result.best_valid_auc:.4f} at step {result.best_step} "
               f"({result.steps} steps, {result.seconds:.0f} s); adapter: {result.adapter}")


@app.command("tune-instruct")
@config_flags(InstructConfig)
def tune_instruct_cmd(
    data: Annotated[Path, typer.Option("--data", help="Alpaca records: a JSON list of {instruction, input, "
                                       "output}.")],
    out: Annotated[Path, typer.Option("--out", help="Run folder: adapter/, config.yaml, instruct.json.")],
    config: Annotated[str | None, typer.Option(
        "--config", help=f"YAML settings file, or a packaged one: {', '.join(packaged_configs('instruct'))}. "
        "Default: the paper's recipe (alpaca-lora).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Allow reusing a folder that holds another "
                                            "run.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Train even when `tallrec plan` says it will not "
                                        "fit.")] = False,
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
