"""`tallrec quickstart` (the main job) and `tallrec paper ablation | cross-domain` (the paper's experiments)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..core.defaults import DEFAULT_RECIPE
from ..core.errors import TallrecError
from . import app
from .options import DataDirOpt, ModelOpt, PrecisionOpt, TestLimitOpt
from .paper import paper_command


@app.command()
def quickstart(
    out: Path = typer.Option(Path("runs/quickstart"), "--out", help="Run folder."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data folder (default $TALLREC_DATA_DIR)."),
    config: Path | None = typer.Option(None, "--config", help="Training settings (default: the packaged cpu-augment recipe)."),
    model: str | None = ModelOpt,
    shots: int = typer.Option(64, "--shots"),
    seed: int = typer.Option(0, "--seed"),
    test_limit: int | None = typer.Option(None, "--test-limit", help="Score only the first N test samples."),
    overwrite: bool = typer.Option(False, "--overwrite"),
):
    """The main job: MovieLens-100K, rec-tune on 64 samples; untuned, tuned, like-share floor and hybrid
    AUC on the same test samples."""
    from ..experiments.quickstart import run_quickstart

    res = run_quickstart(out, data_dir=data_dir, config=config, model=model, shots=shots, seed=seed,
                         test_limit=test_limit, overwrite=overwrite)
    rows = [("untuned", "untuned LLM"), ("tuned", "rec-tuned LLM (paper prompt)"),
            ("like_share", "like-share floor (no training)"), ("hybrid", "hybrid: tuned LLM + history"),
            ("hist_valid", "hybrid without the LLM"), ("hist_cf", "hist-cf: CF signals, no LLM")]
    for key, label in rows:
        typer.echo(f"{label:<32} AUC {res[key]['auc']:.4f}")
    typer.echo(f"best tallrec method: {res['best_tallrec_method']}; {res['tuned']['n']} test samples "
               f"({res['seconds']:.0f} s) -> {out / 'quickstart.json'}")


@paper_command("ablation")
def ablation(
    domain: str = typer.Option(..., "--domain", help="movie | book"),
    out: Path = typer.Option(..., "--out", help="Grid folder (results.jsonl, cells/, report.md; resumable: finished cells are skipped)."),
    shots: str = typer.Option("16,64", "--shots", help="Comma-separated K values."),
    seeds: str = typer.Option("0", "--seeds", help="Comma-separated seeds."),
    instruct_adapter: Path | None = typer.Option(None, "--instruct-adapter", help="A stage-1 adapter (tune-instruct's adapter/)."),
    alpaca: Path | None = typer.Option(None, "--alpaca", help="Alpaca records: train the stage-1 adapter here, once."),
    config: str | None = typer.Option(None, "--config", help=f"Rec-tuning settings (default: packaged {DEFAULT_RECIPE})."),
    instruct_config: str | None = typer.Option(
        None, "--instruct-config", help="Stage-1 settings with --alpaca (default: packaged alpaca-cpu)."),
    model: str | None = ModelOpt,
    precision: str | None = PrecisionOpt,
    test_limit: int | None = TestLimitOpt,
    data_dir: Path | None = DataDirOpt,
):
    """AT (stage 1 only) vs R (rec-tuning only) vs TALLRec (both), per K and seed, on one domain."""
    from ..experiments.presets import run_ablation

    if domain.strip().lower() not in ("movie", "book"):
        raise TallrecError(f"--domain {domain!r}: expected movie or book")
    if instruct_config is not None and alpaca is None:
        raise TallrecError("--instruct-config only applies with --alpaca (training the stage-1 adapter here)")
    summary = run_ablation(out, domain.strip().lower(), shots, seeds, model=model, rec_config=config,
                           rec_overrides={"precision": precision}, instruct_adapter=instruct_adapter, alpaca=alpaca,
                           instruct_config=instruct_config, test_limit=test_limit, data_dir=data_dir, log=typer.echo)
    typer.echo((out / "ablation.md").read_text().rstrip())
    typer.echo(f"{len(summary['cells'])} cells -> {out / 'ablation.json'}; full report: {out / 'report.md'}")


@paper_command("cross-domain")
def cross_domain(
    out: Path = typer.Option(..., "--out", help="Grid folder (results.jsonl, cells/, report.md; resumable: finished cells are skipped)."),
    shots: int = typer.Option(64, "--shots", help="K samples from each domain."),
    seed: int = typer.Option(0, "--seed"),
    valid_from: str = typer.Option(
        "both", "--valid-from", help="Early stopping of the movie+book row on the validation set of the first "
                                     "domain (movie) or of both."),
    config: str | None = typer.Option(None, "--config", help=f"Rec-tuning settings (default: packaged {DEFAULT_RECIPE})."),
    model: str | None = ModelOpt,
    precision: str | None = PrecisionOpt,
    test_limit: int | None = TestLimitOpt,
    data_dir: Path | None = DataDirOpt,
    init_adapter: Path | None = typer.Option(
        None, "--init-adapter", help="Start every row from this stage-1 adapter (TALLRec, as in the paper's Fig. 4); "
                                     "default: a fresh LoRA."),
):
    """Train on movie, on book and on both; test each adapter on both test sets (3x2 AUC matrix)."""
    from ..experiments.presets import run_cross_domain

    run_cross_domain(out, shots, seed, model=model, rec_config=config, rec_overrides={"precision": precision},
                     valid_from=valid_from, test_limit=test_limit, init_adapter=init_adapter, data_dir=data_dir,
                     log=typer.echo)
    typer.echo((out / "matrix.md").read_text().rstrip())
    typer.echo(f"-> {out / 'matrix.json'}; full report: {out / 'report.md'}")
