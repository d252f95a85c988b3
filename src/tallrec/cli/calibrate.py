"""`tallrec calibrate RUN --valid FILE`: fit a calibration of P(Yes) on validation samples, saved beside
the adapter (adapter/calibration.json), then applied by `evaluate` and `predict`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..core.config import load_config
from ..core.errors import TallrecError
from . import app
from .config_flags import config_flags
from .options import ScoringFlags


@app.command()
@config_flags(ScoringFlags, exclude=("adapter", "no_adapter"), default_label="default")
def calibrate(
    run: Path = typer.Argument(..., help="Run folder (holding adapter/) or adapter folder."),
    valid: Path = typer.Option(..., "--valid", help="Labelled validation samples (never the test file)."),
    method: str = typer.Option("platt", "--method", help="platt (sigmoid(a z + b)) | temperature (sigmoid(z / T))."),
    overrides: dict = None,
):
    """Fit Platt or temperature scaling of P(Yes) on validation samples; AUC is unchanged (a monotone map).

    Writes adapter/calibration.json; `tallrec evaluate` and `predict` then report calibrated P(Yes) (uncalibrated figures beside)."""
    from ..llm.adapters import find_adapter
    from ..llm.calibration import METHODS, calibration_path, fit_calibration, samples_fingerprint, save_calibration
    from ..llm.encoding import lm_template
    from ..llm.scoring import Scorer
    from .score import scoring_setup

    if method not in METHODS:
        raise TallrecError(f"--method {method!r}: expected one of {', '.join(METHODS)}")
    adapter = find_adapter(run)
    flags = load_config(ScoringFlags, None, {**overrides, "adapter": str(adapter)})
    lm, samples, options, _ = scoring_setup(valid, calibration_path(adapter), False, flags)
    if any(s.label is None for s in samples):
        raise TallrecError(f"{valid}: calibration needs labelled samples (every output Yes. or No.)")
    raw = Scorer(lm.model, lm.tokenizer, options, lm_template(lm)).score(samples, desc="calibrating")
    cal = fit_calibration([bool(s.label) for s in samples], raw, method, data=str(valid),
                          sha256=samples_fingerprint(samples), prompt=lm.prompt, cutoff=options.cutoff)
    path = save_calibration(adapter, cal)
    b, a = cal.fitted_on["valid_before"], cal.fitted_on["valid_after"]
    params = ", ".join(f"{k} {v:.4g}" for k, v in cal.params.items())
    typer.echo(f"{method} ({params}) on {len(samples)} validation samples: log-loss {b['logloss']:.4f} -> "
               f"{a['logloss']:.4f}, ECE {b['ece']:.4f} -> {a['ece']:.4f} -> {path}")
