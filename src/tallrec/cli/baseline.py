"""`tallrec baseline NAME ...`: train a classic or simple baseline on K shots and score the test data.

`tallrec baseline list` prints the baselines. torch and scikit-learn are only imported when a
baseline actually runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..baselines import BASELINES, SEQ_OPTIONS, check_name, run_baseline
from ..core.errors import TallrecError
from . import app

_LIST = "\n".join(f"  {name:<11} {desc}" for name, (_, desc) in BASELINES.items())


def _help() -> str:
    rows = "\n\n".join(f"{name}: {desc}" for name, (_, desc) in BASELINES.items())
    return (
        "Train baseline NAME on K shots drawn from --train (as the LLM draws them), early-stop on "
        "--valid, and write metrics.json + scores.jsonl for --test into --out. "
        "`tallrec baseline list` lists the baselines.\n\n" + rows
    )


@app.command("baseline", help=_help(), no_args_is_help=True)
def baseline(
    name: str = typer.Argument(..., metavar="NAME", help="Baseline name, or `list`."),
    train: Optional[Path] = typer.Option(None, "--train", help="Few-shot pool (authors' JSON format)."),
    valid: Optional[Path] = typer.Option(None, "--valid", help="Validation data for early stopping."),
    test: Optional[Path] = typer.Option(None, "--test", help="Labelled test data."),
    shots: int = typer.Option(64, "--shots", "-k", help="K: samples drawn from --train (0 = all)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draw, the model init and the batch order."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (metrics.json, scores.jsonl)."),
    epochs: int = typer.Option(SEQ_OPTIONS["epochs"], "--epochs", help="Most epochs (sequential models)."),
    patience: int = typer.Option(SEQ_OPTIONS["patience"], "--patience", help="Early-stopping patience."),
    lr: float = typer.Option(SEQ_OPTIONS["lr"], "--lr", help="Adam learning rate."),
    batch_size: int = typer.Option(SEQ_OPTIONS["batch_size"], "--batch-size", help="Minibatch size."),
    valid_size: int = typer.Option(SEQ_OPTIONS["valid_size"], "--valid-size", help="Seeded validation subset (0 = all)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    balanced: bool = typer.Option(False, "--balanced", help="Draw K/2 liked and K/2 not-liked shots."),
    head: str = typer.Option(
        SEQ_OPTIONS["head"], "--head", help="Scorer of the sequential models: dot+user (dot product + user bias) or dot."
    ),
    encoder: Optional[str] = typer.Option(
        None, "--encoder", help="Text encoder folder for the -bert baselines (default: packaged all-MiniLM-L6-v2)."
    ),
) -> None:
    if name == "list":
        typer.echo(_LIST)
        return
    check_name(name)
    missing = [flag for flag, v in (("--train", train), ("--test", test), ("--out", out)) if v is None]
    if BASELINES[name][0] == "seq" and valid is None:
        missing.append("--valid")
    if missing:
        raise TallrecError(f"baseline {name} needs {', '.join(missing)}")
    from ..data.samples import load_samples

    pool, test_samples = load_samples(train), load_samples(test)
    valid_samples = load_samples(valid) if valid is not None else None
    options = dict(
        epochs=epochs, patience=patience, lr=lr, batch_size=batch_size, valid_size=valid_size,
        device=device, balanced=balanced,
    )
    if BASELINES[name][0] == "seq":
        options["head"] = head
        if encoder is not None:
            options["encoder"] = encoder
    rec = run_baseline(name, pool, valid_samples, test_samples, shots, seed, out=out, data=test, **options)
    extra = f", best epoch {rec['best_epoch']}" if "best_epoch" in rec else ""
    typer.echo(f"{name}: AUC {rec['auc']:.4f} on {rec['n']} samples ({rec['shots']} shots{extra}) -> {out}/metrics.json")
