"""`tallrec evaluate | predict` and `tallrec paper icl`: P(Yes) of a base model with or without an adapter."""

from __future__ import annotations

from pathlib import Path

import typer

from ..core.config import load_config
from ..core.errors import TallrecError
from . import app
from .config_flags import config_flags
from .options import ScoringFlags
from .paper import paper_command


def scoring_setup(data: Path, out: Path, out_is_folder: bool, flags: ScoringFlags, limit: int | None = None):
    """Validate every input (options, samples, adapter, prompt style, output location), then load
    the model: a mistake costs no model load and writes nothing."""
    from ..core.defaults import DEFAULT_MODEL
    from ..core.io import check_writable
    from ..data import load_samples
    from ..llm.adapters import check_adapter_prompt, find_adapter, load_base, with_adapter
    from ..llm.scoring import ScoreOptions

    adapter = find_adapter(flags.adapter) if flags.adapter else None  # a run folder or its adapter/
    if (adapter is None) == (not flags.no_adapter):
        raise TallrecError("give exactly one of --adapter DIR or --no-adapter")
    if adapter is not None:
        check_adapter_prompt(adapter, flags.prompt)
    base = _base_model(flags.model, adapter) or DEFAULT_MODEL
    from ..data.user_ids import attach_users

    samples = load_samples(data)
    samples, _ = attach_users(samples[:limit] if limit else samples)  # for UAUC/GAUC, when they can be known
    check_writable(out, folder=out_is_folder)
    lm = with_adapter(load_base(base, [adapter], flags.precision), adapter, prompt=flags.prompt)
    options = ScoreOptions(batch_size=flags.batch_size, cutoff=flags.cutoff, compile=flags.compile)
    return lm, samples, options, None if adapter is None else str(adapter)


@app.command()
@config_flags(ScoringFlags, default_label="default")
def evaluate(
    data: Path = typer.Option(..., "--data", help="Labelled samples (authors' JSON)."),
    out: Path = typer.Option(..., "--out", help="Folder for metrics.json and scores.jsonl."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Score only the first N samples."),
    plot: bool = typer.Option(False, "--plot", help="Also write reliability.png (the reliability diagram)."),
    uncalibrated: bool = typer.Option(False, "--uncalibrated", help="Ignore the adapter's calibration.json."),
    overrides: dict = None,
):
    """AUC, UAUC/GAUC, log-loss, Brier and ECE of P(Yes) on labelled samples (writes metrics.json +
    scores.jsonl). An adapter's calibration.json (`tallrec calibrate`) is applied."""
    from ..llm.evaluation import evaluate as run_eval

    flags = load_config(ScoringFlags, None, overrides)
    lm, samples, options, adapter = scoring_setup(data, out, True, flags, limit)
    rec = run_eval(lm, samples, out, data=str(data), adapter=adapter, options=options, plot=plot,
                   calibration=None if uncalibrated else "auto")
    typer.echo(f"AUC {rec['auc']:.4f} on {rec['n']} samples ({rec['seconds']:.0f} s) -> {out / 'metrics.json'}")
    typer.echo(_figures_line(rec))


def _figures_line(rec: dict) -> str:
    """UAUC (or why not), and the calibration figures (with the uncalibrated ones when calibrated)."""
    uauc = (f"UAUC {rec['uauc']:.4f} over {rec['uauc_users']} users ({rec['uauc_users_left_out']} with one class "
            f"left out), GAUC {rec['gauc']:.4f}" if rec.get("uauc") is not None else f"UAUC: {rec.get('uauc_note')}")
    cal = f"log-loss {rec['logloss']:.4f}, Brier {rec['brier']:.4f}, ECE {rec['ece']:.4f}"
    if rec.get("calibrated"):
        u = rec["uncalibrated"]
        cal += (f" ({rec['calibration']['method']}-calibrated; uncalibrated: log-loss {u['logloss']:.4f}, "
                f"Brier {u['brier']:.4f}, ECE {u['ece']:.4f})")
    return f"{uauc}; {cal}; mean P(Yes) {rec['pred_yes_rate']:.3f} vs Yes share {rec['true_yes_rate']:.3f}"


@app.command()
@config_flags(ScoringFlags, default_label="default")
def predict(
    data: Path = typer.Option(..., "--data", help="Samples (output may be empty)."),
    out: Path = typer.Option(..., "--out", help="JSON file of P(Yes) per sample."),
    overrides: dict = None,
):
    """P(Yes) for each sample, labelled or not."""
    from ..llm.evaluation import predict as run_predict

    flags = load_config(ScoringFlags, None, overrides)
    lm, samples, options, adapter = scoring_setup(data, out, False, flags)
    run_predict(lm, samples, out, options=options, adapter=adapter, data=str(data))
    typer.echo(f"{len(samples)} predictions -> {out}")


def _base_model(model: str | None, adapter: Path | None) -> str | None:
    """The base model: --model, else the one recorded beside the adapter by `tallrec train`."""
    from ..llm.adapters import adapter_meta, require_adapter_dir

    if adapter is not None:
        require_adapter_dir(adapter)
    if model or adapter is None:
        return model
    return adapter_meta(adapter).get("name")


@paper_command("icl")
@config_flags(ScoringFlags, exclude=("adapter", "no_adapter", "cutoff"), default_label="default")
def icl(
    train: Path = typer.Option(..., "--train", help="Pool the demonstrations are drawn from."),
    test: Path = typer.Option(..., "--test", help="Labelled test samples."),
    out: Path = typer.Option(..., "--out", help="Folder for metrics.json and scores.jsonl."),
    k: int = typer.Option(0, "--k", min=0, help="Demonstrations (0 = zero-shot); drawn class-balanced with the seed."),
    seed: int = typer.Option(0, "--seed", min=0),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Score only the first N test samples."),
    overrides: dict = None,
):
    """In-context baseline: the untuned model, zero-shot or with k demonstrations, same P(Yes) scorer."""
    from ..baselines.icl import ICL_CUTOFF, run_icl
    from ..core.defaults import DEFAULT_MODEL
    from ..core.io import check_writable
    from ..data import load_samples
    from ..llm.adapters import with_adapter
    from ..llm.models import load_model
    from ..llm.scoring import ScoreOptions

    flags = load_config(ScoringFlags, None, overrides)
    pool, samples = load_samples(train), load_samples(test)
    samples = samples[:limit] if limit else samples
    check_writable(out)
    lm = with_adapter(load_model(flags.model or DEFAULT_MODEL, flags.precision), None, prompt=flags.prompt)
    options = ScoreOptions(batch_size=flags.batch_size, cutoff=ICL_CUTOFF, compile=flags.compile)
    rec = run_icl(lm, pool, samples, k, seed, out, data=str(test), options=options)
    typer.echo(f"in-context k={k}: AUC {rec['auc']:.4f} on {rec['n']} samples -> {out / 'metrics.json'}")
