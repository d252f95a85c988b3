"""`tallrec rank | evaluate-ranking`: rank candidate items per user; ranking metrics on a benchmark."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from ..core.errors import TallrecError
from . import app
from .options import ModelOpt, PrecisionOpt

AdapterOpt = typer.Option(None, "--adapter", help="Run folder (with adapter/) or adapter folder.")
NoAdapterOpt = typer.Option(False, "--no-adapter", help="Rank with the untuned base model.")
BatchOpt = typer.Option(64, "--batch-size", help="Candidates per forward pass.")
CutoffOpt = typer.Option(None, "--cutoff", help="Prompt token limit (default: the run's training cutoff, else 512).")


def _adapter_choice(adapter: Path | None, no_adapter: bool) -> Path | None:
    from ..recommend.recommender import resolve_run

    if (adapter is None) == (not no_adapter):
        raise TallrecError("give exactly one of --adapter RUN or --no-adapter")
    if adapter is not None:
        resolve_run(adapter)  # a missing or wrong folder is refused before anything loads
    return adapter


def _init_distributed() -> bool:
    """Join the torchrun process group (gloo on CPU, nccl on GPUs); False when run alone."""
    import torch
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return True


@app.command()
def rank(
    users: Path = typer.Option(..., "--users", help="users.jsonl: {user, liked, disliked, candidates} a line."),
    out: Path = typer.Option(..., "--out", help="ranked.jsonl: {user, top, scores} a line, in input order."),
    adapter: Optional[Path] = AdapterOpt,
    no_adapter: bool = NoAdapterOpt,
    model: Optional[str] = ModelOpt,
    precision: Optional[str] = PrecisionOpt,
    k: int = typer.Option(10, "--k", help="Candidates kept in `top`."),
    batch_size: int = BatchOpt,
    cutoff: Optional[int] = CutoffOpt,
):
    """Rank each user's candidates by P(Yes), the user's prompt prefix computed once.

    Under `torchrun --nproc_per_node N` the users are split over the processes and rank 0 writes
    the merged output in input order.
    """
    from ..core.io import check_writable, write_text_atomic
    from ..recommend.recommender import Recommender
    from ..recommend.userfile import read_users, render_ranked, shard_users
    from ..tuning.distributed import barrier, is_main

    if k < 1:
        raise TallrecError(f"--k must be at least 1, got {k}")
    if batch_size < 1:
        raise TallrecError(f"--batch-size must be at least 1, got {batch_size}")
    run = _adapter_choice(adapter, no_adapter)
    lines = read_users(users)
    check_writable(out, folder=False)
    joined = _init_distributed()
    try:
        rec = Recommender.load(run, model=model, precision=precision or "auto", batch_size=batch_size, cutoff=cutoff)
        scores = shard_users(rec.engine, lines, rec.domain, rec.quote_history, progress=True)
        if is_main():
            write_text_atomic(out, render_ranked(lines, scores, k))
            n = sum(len(u.candidates) for u in lines)
            typer.echo(f"ranked {n} candidates of {len(lines)} users -> {out}")
        barrier()
    finally:
        if joined:
            import torch.distributed as dist

            dist.destroy_process_group()
