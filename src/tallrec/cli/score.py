"""`tallrec evaluate | predict | icl`: P(Yes) of a base model with or without an adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..core.errors import TallrecError
from . import app
from .options import CompileOpt, ModelOpt, PrecisionOpt


PromptOpt = typer.Option(None, "--prompt", help="Prompt style (tallrec.prompts: alpaca, chat, stats, ...); with "
                                                 "--adapter it must be the style the adapter was trained with "
                                                 "(default: that style; without an adapter: alpaca).")


def _score_options(batch_size: int, cutoff: int, compile: bool = False):
    from ..llm.scoring import ScoreOptions

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
    prompt: Optional[str] = PromptOpt,
):
    """AUC of P(Yes) on labelled samples (writes metrics.json + scores.jsonl)."""
    from ..data import load_samples
    from ..llm.adapters import with_adapter
    from ..llm.evaluation import evaluate as run_eval
    from ..llm.models import DEFAULT_MODEL, load_model

    if (adapter is None) == (not no_adapter):
        raise TallrecError("give exactly one of --adapter DIR or --no-adapter")
    samples = load_samples(data)[:limit] if limit else load_samples(data)
    _check_prompt(prompt, adapter)
    lm = with_adapter(load_model(_base_model(model, adapter) or DEFAULT_MODEL, precision or "auto"), adapter,
                      prompt=prompt)
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
    prompt: Optional[str] = PromptOpt,
):
    """P(Yes) for each sample, labelled or not."""
    from ..data import load_samples
    from ..llm.adapters import with_adapter
    from ..llm.evaluation import predict as run_predict
    from ..llm.models import DEFAULT_MODEL, load_model

    samples = load_samples(data)
    _check_prompt(prompt, adapter)
    lm = with_adapter(load_model(_base_model(model, adapter) or DEFAULT_MODEL, precision or "auto"), adapter,
                      prompt=prompt)
    run_predict(lm, samples, out, options=_score_options(batch_size, cutoff, compile), adapter=None if adapter is None else str(adapter))
    typer.echo(f"{len(samples)} predictions -> {out}")


def _check_prompt(prompt: str | None, adapter: Path | None) -> None:
    """Refuse an unknown style, or one the adapter was not trained with, before any model loads."""
    from ..llm.adapters import check_adapter_prompt
    from ..prompts.registry import load_style

    if prompt is not None:
        load_style(prompt)
    if adapter is not None:
        check_adapter_prompt(adapter, prompt)


def _base_model(model: str | None, adapter: Path | None) -> str | None:
    """The base model: --model, else the one recorded beside the adapter by `tallrec train`."""
    import json

    from ..llm.adapters import require_adapter_dir

    if adapter is not None:
        require_adapter_dir(adapter)
    if model or adapter is None:
        return model
    meta = Path(adapter) / "tallrec-base.json"
    if meta.exists():
        return json.loads(meta.read_text()).get("name")
    return None


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
    prompt: Optional[str] = typer.Option(None, "--prompt", help="Prompt style of the demonstrations and the query "
                                                                "(default alpaca)."),
):
    """In-context baseline: the untuned model, zero-shot or with k demonstrations, same P(Yes) scorer."""
    from ..data import load_samples
    from ..llm.adapters import with_adapter
    from ..llm.icl import ICL_CUTOFF, run_icl
    from ..llm.models import DEFAULT_MODEL, load_model
    from ..llm.scoring import ScoreOptions

    if k < 0:
        raise TallrecError(f"--k must be 0 or more, got {k}")
    _check_prompt(prompt, None)
    pool, samples = load_samples(train), load_samples(test)
    samples = samples[:limit] if limit else samples
    lm = with_adapter(load_model(model or DEFAULT_MODEL, precision or "auto"), None, prompt=prompt)
    rec = run_icl(lm, pool, samples, k, seed, out, data=str(test), options=ScoreOptions(batch_size=batch_size, cutoff=ICL_CUTOFF,
                                                                                           compile=compile))
    typer.echo(f"in-context k={k}: AUC {rec['auc']:.4f} on {rec['n']} samples -> {out / 'metrics.json'}")
