"""`tallrec quickstart` (the main job) and `tallrec paper ablation | cross-domain` (the paper's experiments)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..core.defaults import DEFAULT_RECIPE
from ..core.errors import TallrecError
from . import app
from .options import DataDirOpt, LimitOpt, ModelOpt, PrecisionOpt
from .paper import paper_command


@app.command()
def quickstart(
    out: Annotated[Path, typer.Option("--out", help="Run folder.")] = Path("runs/quickstart"),
    data_dir: DataDirOpt = None,
    config: Annotated[Path | None, typer.Option("--config", help="Training settings (default: TrainConfig(), "
                                                f"the packaged {DEFAULT_RECIPE} recipe).")] = None,
    model: ModelOpt = None,
    shots: Annotated[int, typer.Option("--shots")] = 64,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    limit: LimitOpt = None,
    overwrite: Annotated[bool, typer.Option("--overwrite")] = False,
):
    """The main job: MovieLens-100K, rec-tune on 64 samples; untuned, tuned, like-share floor and hybrid
    AUC on the same test samples."""
    from ..experiments.quickstart import run_quickstart

    res = run_quickstart(out, data_dir=data_dir, config=config, model=model, shots=shots, seed=seed,
                         test_limit=limit, overwrite=overwrite)
    rows = [("untuned", "untuned LLM"), ("tuned", "rec-tuned LLM (paper prompt)"),
            ("like_share", "like-share floor (no training)"), ("hybrid", "hybrid: tuned LLM + history"),
            ("hist_valid", "hybrid without the LLM"), ("hist_cf", "hist-cf: CF signals, no LLM")]
    for key, label in rows:
        typer.echo(f"{label:<32} AUC {res[key]['auc']:.4f}")
    typer.echo(f"best tallrec method: {res['best_tallrec_method']}; {res['tuned']['n']} test samples "
               f"({res['seconds']:.0f} s) -> {out / 'quickstart.json'}")


@paper_command("ablation")
def ablation(
    domain: Annotated[str, typer.Option("--domain", help="movie | book")],
    out: Annotated[Path, typer.Option("--out", help="Grid folder (results.jsonl, cells/, report.md; resumable: "
                                      "finished cells are skipped).")],
    shots: Annotated[str, typer.Option("--shots", help="Comma-separated K values.")] = "16,64",
    seeds: Annotated[str, typer.Option("--seeds", help="Comma-separated seeds.")] = "0",
    instruct_adapter: Annotated[Path | None, typer.Option(
        "--instruct-adapter", help="A stage-1 adapter (tune-instruct's adapter/).")] = None,
    alpaca: Annotated[Path | None, typer.Option(
        "--alpaca", help="Alpaca records: train the stage-1 adapter here, once.")] = None,
    config: Annotated[str | None, typer.Option(
        "--config", help=f"Rec-tuning settings (default: packaged {DEFAULT_RECIPE}).")] = None,
    instruct_config: Annotated[str | None, typer.Option(
        "--instruct-config", help="Stage-1 settings with --alpaca (default: packaged alpaca-cpu).")] = None,
    model: ModelOpt = None,
    precision: PrecisionOpt = "auto",
    limit: LimitOpt = None,
    data_dir: DataDirOpt = None,
):
    """AT (stage 1 only) vs R (rec-tuning only) vs TALLRec (both), per K and seed, on one domain."""
    from ..experiments.presets import run_ablation

    if domain.strip().lower() not in ("movie", "book"):
        raise TallrecError(f"--domain {domain!r}: expected movie or book")
    if instruct_config is not None and alpaca is None:
        raise TallrecError("--instruct-config only applies with --alpaca (training the stage-1 adapter here)")
    summary = run_ablation(out, domain.strip().lower(), shots, seeds, model=model, rec_config=config,
                           rec_overrides={"precision": precision}, instruct_adapter=instruct_adapter, alpaca=alpaca,
                           instruct_config=instruct_config, test_limit=limit, data_dir=data_dir, log=typer.echo)
    typer.echo((out / "ablation.md").read_text().rstrip())
    typer.echo(f"{len(summary['cells'])} cells -> {out / 'ablation.json'}; full report: {out / 'report.md'}")


@paper_command("cross-domain")
def cross_domain(
    out: Annotated[Path, typer.Option("--out", help="Grid folder (results.jsonl, cells/, report.md; resumable: "
                                      "finished cells are skipped).")],
    shots: Annotated[int, typer.Option("--shots", help="K samples from each domain.")] = 64,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    valid_from: Annotated[str, typer.Option(
        "--valid-from", help="Early stopping of the movie+book row on the validation set of the first "
                             "domain (movie) or of both.")] = "both",
    config: Annotated[str | None, typer.Option(
        "--config", help=f"Rec-tuning settings (default: packaged {DEFAULT_RECIPE}).")] = None,
    model: ModelOpt = None,
    precision: PrecisionOpt = "auto",
    limit: LimitOpt = None,
    data_dir: DataDirOpt = None,
    init_adapter: Annotated[Path | None, typer.Option(
        "--init-adapter", help="Start every row from this stage-1 adapter (TALLRec, as in the paper's Fig. 4); "
                               "default: a fresh LoRA.")] = None,
):
    """Train on movie, on book and on both; test each adapter on both test sets (3x2 AUC matrix)."""
    from ..experiments.presets import run_cross_domain

    run_cross_domain(out, shots, seed, model=model, rec_config=config, rec_overrides={"precision": precision},
                     valid_from=valid_from, test_limit=limit, init_adapter=init_adapter, data_dir=data_dir,
                     log=typer.echo)
    typer.echo((out / "matrix.md").read_text().rstrip())
    typer.echo(f"-> {out / 'matrix.json'}; full report: {out / 'report.md'}")

