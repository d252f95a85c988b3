"""`tallrec train | evaluate | predict | quickstart`: the LLM path."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from ..config import TrainConfig, load_config
from ..errors import TallrecError

ModelOpt = typer.Option(None, "--model", help="Registry name (smollm2-135m, gemma3-270m), HF folder or .gguf file.")
PrecisionOpt = typer.Option(None, "--precision", help="auto | fp32 | bf16 | fp16 (auto: bf16 where the hardware runs it).")


@app.command()
def train(
    train: Path = typer.Option(..., "--train", help="Training pool (authors' JSON); K samples are drawn from it."),
    valid: Path = typer.Option(..., "--valid", help="Validation samples for early stopping on AUC."),
    out: Path = typer.Option(..., "--out", help="Run folder: adapter/, config.yaml, history.json."),
    shots: Optional[int] = typer.Option(None, "--shots", help="K samples drawn from the pool (0 = all). Default 64."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for the draw, LoRA init and data order."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file of settings (see configs/)."),
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
    from ..data import load_samples
    from ..training import rec_tune

    cfg = load_config(TrainConfig, config, {
        "model": model, "precision": precision, "shots": shots, "seed": seed, "lr": lr, "epochs": epochs,
        "batch_size": batch_size, "micro_batch_size": micro_batch_size, "loss_on": loss_on,
        "eval_every": eval_every, "patience": patience, "valid_size": valid_size, "cutoff": cutoff,
        "init_adapter": str(init_adapter) if init_adapter else None, "balanced": balanced})
    result = rec_tune(cfg, load_samples(train), load_samples(valid), out, overwrite=overwrite)
    typer.echo(f"best validation AUC {result.best_valid_auc:.4f} at step {result.best_step} "
               f"({result.steps} steps, {result.seconds:.0f} s); adapter: {result.adapter}")


CompileOpt = typer.Option(False, "--compile", help="Experimental: torch.compile the forward pass (a ~2 minute "
                          "compile on a 2-core CPU; 1.0-1.4x faster scoring there afterwards).")


def _score_options(batch_size: int, cutoff: int, compile: bool = False):
    from ..scoring import ScoreOptions

    return ScoreOptions(batch_size=batch_size, cutoff=cutoff, compile=compile)


@app.command()
def evaluate(
    data: Path = typer.Option(..., "--data", help="Labelled samples (authors' JSON)."),
    out: Path = typer.Option(..., "--out", help="Folder for metrics.json and scores.jsonl."),
    adapter: Optional[Path] = typer.Option(None, "--adapter", help="LoRA adapter folder."),
    no_adapter: bool = typer.Option(False, "--no-adapter", help="Evaluate the untuned base model."),
    model: Optional[str] = ModelOpt,
    precision: Optional[str] = PrecisionOpt,
    batch_size: int = typer.Option(16, "--batch-size"),
    cutoff: int = typer.Option(512, "--cutoff"),
    compile: bool = CompileOpt,
    limit: Optional[int] = typer.Option(None, "--limit", help="Score only the first N samples."),
):
    """AUC of P(Yes) on labelled samples (writes metrics.json + scores.jsonl)."""
    from ..data import load_samples
    from ..evaluation import evaluate as run_eval, with_adapter
    from ..models import DEFAULT_MODEL, load_model

    if (adapter is None) == (not no_adapter):
        raise TallrecError("give exactly one of --adapter DIR or --no-adapter")
    samples = load_samples(data)[:limit] if limit else load_samples(data)
    lm = with_adapter(load_model(_base_model(model, adapter) or DEFAULT_MODEL, precision or "auto"), adapter)
    rec = run_eval(lm, samples, out, data=str(data), adapter=adapter, options=_score_options(batch_size, cutoff, compile))
    typer.echo(f"AUC {rec['auc']:.4f} on {rec['n']} samples ({rec['seconds']:.0f} s) -> {out / 'metrics.json'}")


@app.command()
def predict(
    data: Path = typer.Option(..., "--data", help="Samples (output may be empty)."),
    out: Path = typer.Option(..., "--out", help="JSON file of P(Yes) per sample."),
    adapter: Optional[Path] = typer.Option(None, "--adapter", help="LoRA adapter folder (omit for the base model)."),
    model: Optional[str] = ModelOpt,
    precision: Optional[str] = PrecisionOpt,
    batch_size: int = typer.Option(16, "--batch-size"),
    cutoff: int = typer.Option(512, "--cutoff"),
    compile: bool = CompileOpt,
):
    """P(Yes) for each sample, labelled or not."""
    from ..data import load_samples
    from ..evaluation import predict as run_predict, with_adapter
    from ..models import DEFAULT_MODEL, load_model

    samples = load_samples(data)
    lm = with_adapter(load_model(_base_model(model, adapter) or DEFAULT_MODEL, precision or "auto"), adapter)
    run_predict(lm, samples, out, options=_score_options(batch_size, cutoff, compile), adapter=None if adapter is None else str(adapter))
    typer.echo(f"{len(samples)} predictions -> {out}")


def _base_model(model: str | None, adapter: Path | None) -> str | None:
    """The base model: --model, else the one recorded beside the adapter by `tallrec train`."""
    import json

    from ..models import require_adapter_dir

    if adapter is not None:
        require_adapter_dir(adapter)
    if model or adapter is None:
        return model
    meta = Path(adapter) / "tallrec-base.json"
    if meta.exists():
        return json.loads(meta.read_text()).get("name")
    return None


@app.command()
def quickstart(
    out: Path = typer.Option(Path("runs/quickstart"), "--out", help="Run folder."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Data folder (default $TALLREC_DATA_DIR)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Training settings (default: the packaged CPU recipe)."),
    model: Optional[str] = ModelOpt,
    shots: int = typer.Option(64, "--shots"),
    seed: int = typer.Option(0, "--seed"),
    test_limit: Optional[int] = typer.Option(None, "--test-limit", help="Score only the first N test samples."),
    overwrite: bool = typer.Option(False, "--overwrite"),
):
    """The main job: prepare MovieLens-100K, rec-tune on 64 samples, evaluate untuned vs tuned."""
    from ..experiments.quickstart import run_quickstart

    res = run_quickstart(out, data_dir=data_dir, config=config, model=model, shots=shots, seed=seed,
                         test_limit=test_limit, overwrite=overwrite)
    typer.echo(f"untuned AUC {res['untuned']['auc']:.4f} | tuned AUC {res['tuned']['auc']:.4f} "
               f"on {res['tuned']['n']} test samples ({res['seconds']:.0f} s) -> {out / 'quickstart.json'}")


@app.command()
def icl(
    train: Path = typer.Option(..., "--train", help="Pool the demonstrations are drawn from."),
    test: Path = typer.Option(..., "--test", help="Labelled test samples."),
    out: Path = typer.Option(..., "--out", help="Folder for metrics.json and scores.jsonl."),
    k: int = typer.Option(0, "--k", help="Demonstrations (0 = zero-shot); drawn class-balanced with the seed."),
    seed: int = typer.Option(0, "--seed"),
    model: Optional[str] = ModelOpt,
    precision: Optional[str] = PrecisionOpt,
    batch_size: int = typer.Option(16, "--batch-size"),
    compile: bool = CompileOpt,
    limit: Optional[int] = typer.Option(None, "--limit", help="Score only the first N test samples."),
):
    """In-context baseline: the untuned model, zero-shot or with k demonstrations, same P(Yes) scorer."""
    from ..data import load_samples
    from ..icl import ICL_CUTOFF, run_icl
    from ..models import DEFAULT_MODEL, load_model
    from ..scoring import ScoreOptions

    if k < 0:
        raise TallrecError(f"--k must be 0 or more, got {k}")
    pool, samples = load_samples(train), load_samples(test)
    samples = samples[:limit] if limit else samples
    lm = load_model(model or DEFAULT_MODEL, precision or "auto")
    rec = run_icl(lm, pool, samples, k, seed, out, data=str(test), options=ScoreOptions(batch_size=batch_size, cutoff=ICL_CUTOFF,
                                                                                           compile=compile))
    typer.echo(f"in-context k={k}: AUC {rec['auc']:.4f} on {rec['n']} samples -> {out / 'metrics.json'}")
