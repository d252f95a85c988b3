"""`tallrec evaluate | predict | icl`: P(Yes) of a base model with or without an adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..core.errors import TallrecError
from . import app
from .options import CompileOpt, ModelOpt, PrecisionOpt, check_precision

PromptOpt = typer.Option(None, "--prompt", help="Prompt style (tallrec.prompts: alpaca, chat, stats, ...); with "
                                                 "--adapter it must be the style the adapter was trained with "
                                                 "(default: that style; without an adapter: alpaca).")
AdapterOpt = typer.Option(None, "--adapter", help="LoRA adapter folder (a run folder's adapter/).")
NoAdapterOpt = typer.Option(False, "--no-adapter", help="Score with the untuned base model.")
BatchOpt = typer.Option(16, "--batch-size", min=1, help="Samples per scoring batch.")
CutoffOpt = typer.Option(512, "--cutoff", min=64, help="Most tokens per prompt; the oldest history items are "
                                                       "dropped to fit, never the question.")


def _scoring_setup(data: Path, out: Path, out_is_folder: bool, adapter: Path | None, no_adapter: bool,
                   model: str | None, precision: str | None, prompt: str | None, limit: int | None = None):
    """Validate every input (options, samples, adapter, prompt style, output location), then load
    the model: a mistake costs no model load and writes nothing."""
    from ..core.io import check_writable
    from ..data import load_samples
    from ..llm.adapters import check_adapter_prompt, with_adapter
    from ..llm.models import DEFAULT_MODEL, load_model
    from ..prompts.registry import load_style

    if (adapter is None) == (not no_adapter):
        raise TallrecError("give exactly one of --adapter DIR or --no-adapter")
    check_precision(precision)
    if prompt is not None:
        load_style(prompt)
    if adapter is not None:
        check_adapter_prompt(adapter, prompt)
    base = _base_model(model, adapter) or DEFAULT_MODEL
    samples = load_samples(data)
    samples = samples[:limit] if limit else samples
    check_writable(out, folder=out_is_folder)
    lm = with_adapter(load_model(base, precision or "auto"), adapter, prompt=prompt)
    return lm, samples


@app.command()
def evaluate(
    data: Path = typer.Option(..., "--data", help="Labelled samples (authors' JSON)."),
    out: Path = typer.Option(..., "--out", help="Folder for metrics.json and scores.jsonl."),
    adapter: Optional[Path] = AdapterOpt,
    no_adapter: bool = NoAdapterOpt,
    model: Optional[str] = ModelOpt,
    precision: Optional[str] = PrecisionOpt,
    batch_size: int = BatchOpt,
    cutoff: int = CutoffOpt,
    compile: bool = CompileOpt,
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Score only the first N samples."),
    prompt: Optional[str] = PromptOpt,
):
    """AUC of P(Yes) on labelled samples (writes metrics.json + scores.jsonl)."""
    from ..llm.evaluation import evaluate as run_eval
    from ..llm.scoring import ScoreOptions

    lm, samples = _scoring_setup(data, out, True, adapter, no_adapter, model, precision, prompt, limit)
    rec = run_eval(lm, samples, out, data=str(data), adapter=adapter,
                   options=ScoreOptions(batch_size=batch_size, cutoff=cutoff, compile=compile))
    typer.echo(f"AUC {rec['auc']:.4f} on {rec['n']} samples ({rec['seconds']:.0f} s) -> {out / 'metrics.json'}")


@app.command()
def predict(
    data: Path = typer.Option(..., "--data", help="Samples (output may be empty)."),
    out: Path = typer.Option(..., "--out", help="JSON file of P(Yes) per sample."),
    adapter: Optional[Path] = AdapterOpt,
    no_adapter: bool = NoAdapterOpt,
    model: Optional[str] = ModelOpt,
    precision: Optional[str] = PrecisionOpt,
    batch_size: int = BatchOpt,
    cutoff: int = CutoffOpt,
    compile: bool = CompileOpt,
    prompt: Optional[str] = PromptOpt,
):
    """P(Yes) for each sample, labelled or not."""
    from ..llm.evaluation import predict as run_predict
    from ..llm.scoring import ScoreOptions

    lm, samples = _scoring_setup(data, out, False, adapter, no_adapter, model, precision, prompt)
    run_predict(lm, samples, out, options=ScoreOptions(batch_size=batch_size, cutoff=cutoff, compile=compile),
                adapter=None if adapter is None else str(adapter))
    typer.echo(f"{len(samples)} predictions -> {out}")


def _base_model(model: str | None, adapter: Path | None) -> str | None:
    """The base model: --model, else the one recorded beside the adapter by `tallrec train`."""
    from ..llm.adapters import adapter_meta, require_adapter_dir

    if adapter is not None:
        require_adapter_dir(adapter)
    if model or adapter is None:
        return model
    return adapter_meta(adapter).get("name")


@app.command()
def icl(
    train: Path = typer.Option(..., "--train", help="Pool the demonstrations are drawn from."),
    test: Path = typer.Option(..., "--test", help="Labelled test samples."),
    out: Path = typer.Option(..., "--out", help="Folder for metrics.json and scores.jsonl."),
    k: int = typer.Option(0, "--k", min=0, help="Demonstrations (0 = zero-shot); drawn class-balanced with the seed."),
    seed: int = typer.Option(0, "--seed"),
    model: Optional[str] = ModelOpt,
    precision: Optional[str] = PrecisionOpt,
    batch_size: int = BatchOpt,
    compile: bool = CompileOpt,
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Score only the first N test samples."),
    prompt: Optional[str] = typer.Option(None, "--prompt", help="Prompt style of the demonstrations and the query "
                                                                "(default alpaca)."),
):
    """In-context baseline: the untuned model, zero-shot or with k demonstrations, same P(Yes) scorer."""
    from ..core.io import check_writable
    from ..data import load_samples
    from ..llm.adapters import with_adapter
    from ..llm.icl import ICL_CUTOFF, run_icl
    from ..llm.models import DEFAULT_MODEL, load_model
    from ..llm.scoring import ScoreOptions
    from ..prompts.registry import load_style

    check_precision(precision)
    if prompt is not None:
        load_style(prompt)
    pool, samples = load_samples(train), load_samples(test)
    check_writable(out)
    samples = samples[:limit] if limit else samples
    lm = with_adapter(load_model(model or DEFAULT_MODEL, precision or "auto"), None, prompt=prompt)
    rec = run_icl(lm, pool, samples, k, seed, out, data=str(test), options=ScoreOptions(batch_size=batch_size, cutoff=ICL_CUTOFF,
                                                                                           compile=compile))
    typer.echo(f"in-context k={k}: AUC {rec['auc']:.4f} on {rec['n']} samples -> {out / 'metrics.json'}")
