"""`tallrec rank | evaluate-ranking`: rank candidate items per user; ranking metrics on a benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..core.defaults import DEFAULT_BATCH_SIZE
from ..core.errors import TallrecError
from . import app
from .options import AdapterOpt, BatchSizeOpt, CutoffOpt, DeviceOpt, LimitOpt, ModelOpt, PrecisionOpt, adapter_path


def _adapter_choice(adapter: str | None) -> Path | None:
    """The run of --adapter (None for `none`), checked before anything loads."""
    from ..llm.adapters import find_adapter

    run = adapter_path(adapter)
    find_adapter(run)  # a missing or wrong folder is refused before anything loads
    return run


@app.command()
def rank(
    users: Annotated[Path, typer.Option("--users", help="users.jsonl: {user, liked, disliked, candidates} a line.")],
    out: Annotated[Path, typer.Option("--out", help="ranked.jsonl: {user, top, scores} a line, in input order.")],
    adapter: AdapterOpt,
    k: Annotated[int, typer.Option("--k", min=1, help="Candidates kept in `top`.")] = 10,
    limit: LimitOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = None,
    precision: PrecisionOpt = "auto",
    batch_size: BatchSizeOpt = DEFAULT_BATCH_SIZE,
    cutoff: CutoffOpt = None,
):
    """Rank each user's candidates by P(Yes), the user's prompt prefix computed once.

    Under `torchrun --nproc_per_node N` the users are split over the processes and rank 0 writes
    the merged output in input order.
    """
    from ..core.distributed import process_group
    from ..core.io import check_writable, write_text_atomic
    from ..recommend.recommender import Recommender
    from ..recommend.userfile import read_users, render_ranked, shard_users
    from ..tuning.distributed import barrier, is_main

    run = _adapter_choice(adapter)
    lines = read_users(users)[:limit]
    check_writable(out, folder=False)
    with process_group():
        rec = Recommender.load(run, model=model, device=device, precision=precision, batch_size=batch_size,
                               cutoff=cutoff)
        scores = shard_users(rec, lines, progress=True)
        if is_main():
            write_text_atomic(out, render_ranked(lines, scores, k))
            n = sum(len(u.candidates) for u in lines)
            typer.echo(f"ranked {n} candidates of {len(lines)} users -> {out}")
        barrier()


@app.command("evaluate-ranking")
def evaluate_ranking(
    data: Annotated[Path, typer.Option("--data", help="Ranking benchmark folder (`tallrec data prepare ranking`).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for metrics.json and ranks.jsonl.")],
    methods: Annotated[str, typer.Option("--methods", help="Comma-separated methods: llm, random, popularity, "
                       "pipeline (popularity + the LLM through a validation-fitted blend) or a sequential "
                       "baseline (sasrec, gru4rec, ...).")] = "llm,random,popularity,sasrec",
    adapter: Annotated[str | None, typer.Option("--adapter", help="Run folder (holding adapter/) or adapter "
                       "folder; `none`: the untuned base model (needed by the llm and pipeline methods).")] = None,
    shots: Annotated[int, typer.Option("--shots", help="Baselines: samples drawn from train.json (0 = all).")] = 64,
    seed: Annotated[int, typer.Option("--seed", help="Baselines: seed of the draw and of training.")] = 0,
    limit: LimitOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = None,
    precision: PrecisionOpt = "auto",
    batch_size: BatchSizeOpt = DEFAULT_BATCH_SIZE,
    cutoff: CutoffOpt = None,
):
    """HR@1/5/10, NDCG@5/10 and MRR of the LLM, random, popularity and the sequential baselines on a ranking benchmark."""
    from ..experiments.ranking_benchmark import check_methods
    from ..experiments.ranking_benchmark import evaluate_ranking as run
    from ..recommend.recommender import Recommender

    chosen = check_methods([m.strip() for m in methods.split(",") if m.strip()])
    uses_llm = bool({"llm", "pipeline"} & set(chosen))
    if uses_llm and adapter is None:
        raise TallrecError("the llm and pipeline methods need --adapter RUN (or --adapter none)")
    run_dir = _adapter_choice(adapter) if uses_llm else adapter_path(adapter)

    def load():
        return Recommender.load(run_dir, model=model, device=device, precision=precision, batch_size=batch_size,
                                cutoff=cutoff)

    def baseline(name):
        def fit(train, valid, pairs):
            from ..baselines import fit_baseline

            res = fit_baseline(name, train, valid, pairs, shots or None, seed)
            return res.scores, {"seed": seed, "shots": res.record.get("shots"), "pair_auc": res.record["auc"]}
        return fit

    pairwise = {m: baseline(m) for m in chosen if m not in ("llm", "random", "popularity", "pipeline")}
    summary = run(data, out, chosen, load if uses_llm else None, pairwise=pairwise, limit=limit)
    for name, rec in summary["methods"].items():
        typer.echo(f"{name:>10}: HR@1 {rec['hr@1']:.4f}  HR@5 {rec['hr@5']:.4f}  HR@10 {rec['hr@10']:.4f}  "
                   f"NDCG@5 {rec['ndcg@5']:.4f}  NDCG@10 {rec['ndcg@10']:.4f}  MRR {rec['mrr']:.4f}")
    pipe = summary["methods"].get("pipeline")
    if pipe:
        d = pipe["minus_popularity"]
        b = pipe["blend"]
        kept = (f"popularity + LLM (weight {b['llm_weight']}), its validation gain significant" if b["llm_weight"]
                else "popularity alone (the LLM's validation gain not significant)")
        typer.echo(f"  pipeline: {kept}; minus popularity on test: "
                   + ", ".join(f"{k} {v['diff']:+.4f} [{v['ci95'][0]:+.4f}, {v['ci95'][1]:+.4f}]" for k, v in d.items()))
    typer.echo(f"{summary['lists']} lists -> {out / 'metrics.json'}")
