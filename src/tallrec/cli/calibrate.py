"""`tallrec calibrate --adapter RUN --valid FILE`: fit a calibration of P(Yes) on validation samples, saved beside
the adapter (adapter/calibration.json), then applied by `evaluate` and `predict`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..core.defaults import DEFAULT_BATCH_SIZE
from ..core.errors import TallrecError
from . import app
from .options import (
    AdapterOpt,
    BatchSizeOpt,
    CompileOpt,
    CutoffOpt,
    DeviceOpt,
    LimitOpt,
    ModelOpt,
    PrecisionOpt,
    PromptOpt,
    adapter_path,
)


@app.command()
def calibrate(
    adapter: AdapterOpt,
    valid: Annotated[Path, typer.Option("--valid", help="Labelled validation samples (never the test file).")],
    method: Annotated[str, typer.Option("--method", help="platt (sigmoid(a z + b)) | temperature "
                                        "(sigmoid(z / T)).")] = "platt",
    limit: LimitOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = None,
    precision: PrecisionOpt = "auto",
    batch_size: BatchSizeOpt = DEFAULT_BATCH_SIZE,
    cutoff: CutoffOpt = None,
    compile: CompileOpt = False,
    prompt: PromptOpt = None,
):
    """Fit Platt or temperature scaling of P(Yes) on validation samples; AUC is unchanged (a monotone map).

    Writes adapter/calibration.json; `tallrec evaluate` and `predict` then report calibrated P(Yes) (uncalibrated figures beside)."""
    from ..llm.adapters import find_adapter
    from ..llm.calibration import METHODS, calibration_path, fit_calibration, samples_fingerprint, save_calibration
    from ..llm.encoding import lm_template
    from ..llm.scoring import Scorer
    from .score import Scoring, scoring_setup

    if method not in METHODS:
        raise TallrecError(f"--method {method!r}: expected one of {', '.join(METHODS)}")
    if adapter_path(adapter) is None:
        raise TallrecError("--adapter none: calibration is saved beside an adapter; give a run or adapter folder")
    folder = find_adapter(adapter_path(adapter))
    flags = Scoring(str(folder), model, device, precision, batch_size, cutoff, compile, prompt)
    lm, samples, options, _ = scoring_setup(valid, calibration_path(folder), False, flags, limit)
    if any(s.label is None for s in samples):
        raise TallrecError(f"{valid}: calibration needs labelled samples (every output Yes. or No.)")
    raw = Scorer(lm.model, lm.tokenizer, options, lm_template(lm)).score(samples, desc="calibrating")
    cal = fit_calibration([bool(s.label) for s in samples], raw, method, data=str(valid),
                          sha256=samples_fingerprint(samples), prompt=lm.prompt, cutoff=options.cutoff)
    path = save_calibration(folder, cal)
    b, a = cal.fitted_on["valid_before"], cal.fitted_on["valid_after"]
    params = ", ".join(f"{k} {v:.4g}" for k, v in cal.params.items())
    typer.echo(f"{method} ({params}) on {len(samples)} validation samples: log-loss {b['logloss']:.4f} -> "
               f"{a['logloss']:.4f}, ECE {b['ece']:.4f} -> {a['ece']:.4f} -> {path}")
