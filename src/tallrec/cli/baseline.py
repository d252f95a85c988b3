"""`tallrec paper baseline NAME ...`: train a classic or simple baseline on K shots and score the test data.

`tallrec paper baseline list` prints the baselines. torch and scikit-learn are only imported when a
baseline actually runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..baselines import BASELINES, check_name, run_baseline
from ..baselines.settings import (
    CONFIG_NAMES,
    CollabSettings,
    SeqSettings,
    SimpleSettings,
    settings_class,
)
from ..core.config import packaged_configs
from ..core.errors import TallrecError
from .config_flags import config_flags
from .paper import paper_command

_LIST = "\n".join(f"  {name:<11} {desc}" for name, (_, desc) in BASELINES.items())


def _help() -> str:
    rows = "\n\n".join(f"{name}: {desc}" for name, (_, desc) in BASELINES.items())
    return (
        "Train baseline NAME on K shots drawn from --train (as the LLM draws them), early-stop on "
        "--valid, and write metrics.json + scores.jsonl for --test into --out. "
        "`tallrec paper baseline list` lists the baselines.\n\n" + rows
    )


@paper_command("baseline", help=_help(), no_args_is_help=True)
@config_flags(SeqSettings, SimpleSettings, CollabSettings)
def baseline(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Baseline name, or `list`.")],
    train: Annotated[Path | None, typer.Option("--train", help="Few-shot pool (authors' JSON format).")] = None,
    valid: Annotated[Path | None, typer.Option("--valid", help="Validation data for early stopping.")] = None,
    test: Annotated[Path | None, typer.Option("--test", help="Labelled test data.")] = None,
    shots: Annotated[int, typer.Option("--shots", "-k", min=0, help="K: samples drawn from --train "
                                       "(0 = all).")] = 64,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the draw, the model init and the batch "
                                      "order.")] = 0,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (metrics.json, scores.jsonl).")] = None,
    config: Annotated[str | None, typer.Option(
        "--config", help=f"YAML settings file, or a packaged one: {', '.join(packaged_configs('baselines'))} "
        "(default: the one of the baseline's kind, configs/baselines/).")] = None,
    overrides: dict = None,
) -> None:
    if name == "list":
        typer.echo(_LIST)
        return
    kind = BASELINES[check_name(name)][0]
    missing = [flag for flag, v in (("--train", train), ("--test", test), ("--out", out)) if v is None]
    if kind in ("seq", "collab") and valid is None:
        missing.append("--valid")
    if missing:
        raise TallrecError(f"baseline {name} needs {', '.join(missing)}")
    from dataclasses import asdict, fields

    from ..core.config import load_config, resolve_config
    from ..core.io import check_writable
    from ..data.samples import load_samples

    cls = settings_class(kind)
    given = {k: v for k, v in overrides.items() if k in {f.name for f in fields(cls)}}
    options = asdict(load_config(cls, resolve_config(config, "baselines", CONFIG_NAMES[kind]), given))
    pool = load_samples(train) if kind != "collab" else []  # hist-cf reads no --train samples
    test_samples = load_samples(test)
    valid_samples = load_samples(valid) if valid is not None else None
    check_writable(out)
    rec = run_baseline(name, pool, valid_samples, test_samples, shots, seed, out=out, data=test, **options)
    extra = f", best epoch {rec['best_epoch']}" if "best_epoch" in rec else ""
    typer.echo(f"{name}: AUC {rec['auc']:.4f} on {rec['n']} samples ({rec['shots']} shots{extra}) -> {out}/metrics.json")
