"""`tallrec paper reproduce` (the paper's grid, resumable) and `tallrec paper report DIR` (report.md + plots)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .options import DataDirOpt
from .paper import paper_command


@paper_command("reproduce")
def reproduce(
    out: Annotated[Path, typer.Option(
        "--out", help="Folder of the grid: results.jsonl (the store), cells/, report.md. Rerunning the same "
        "command resumes: finished cells are skipped.")],
    budget: Annotated[str | None, typer.Option(
        "--budget", help="quick (one seed, a subset sized for <= 60 min on a 2-core CPU; the default) | "
        "full (every method, both domains, K 16/64/256, 5 seeds, cross-domain).")] = None,
    config: Annotated[str | None, typer.Option(
        "--config", help="A grid YAML file (or a packaged one: reproduce-quick, reproduce-full) instead of "
        "--budget: methods, domains, shots, seeds, models, test_limit, blocks, cross_domain, ...")] = None,
    data_dir: DataDirOpt = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="Replace the grid's LLM(s) by this one (registry name, HF folder or .gguf).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="List the cells (done / to run) and the time estimate; run nothing.")] = False,
):
    """Run the TALLRec grid (methods x domains x K x seeds) into --out; every finished cell is recorded at once."""
    from ..experiments.grid.runner import describe, run_grid
    from ..experiments.grid.schema import load_grid

    overrides = {"models": [model]} if model else None
    grid, source = load_grid(budget, config, overrides)
    if dry_run:
        typer.echo(describe(out, grid, source=source, data_dir=data_dir))
        return
    res = run_grid(out, grid, source=source, data_dir=data_dir)
    typer.echo(f"{res['cells']} cells: {res['done_before']} done before, {res['ran']} run now -> {res['store']}; "
               f"report: {res['report']}")


@paper_command("report")
def report(
    folder: Annotated[Path, typer.Argument(
        metavar="DIR", help="A grid folder (`tallrec paper reproduce`, `ablation` or `cross-domain` --out).")],
    data_dir: DataDirOpt = None,
):
    """Rebuild DIR/report.md, DIR/summary.json and DIR/plots/ from DIR/results.jsonl and the cells' scores
    (no model runs: paired bootstrap intervals and slices come from the stored per-sample scores)."""
    from ..experiments.report import build_report

    path = build_report(folder, data_dir)
    typer.echo(f"report -> {path}")
