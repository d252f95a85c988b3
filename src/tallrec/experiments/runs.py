"""How each method of the registry (methods.py) runs one grid cell.

Every runner has the signature `run(cell, ctx, cdir, log) -> dict`: it computes the cell into its
folder `cdir` and returns the metrics record. `ctx` is the grid run's context (grid/context.py):
recipes, the stage-1 adapter of each model, the loaded data and the test slices. The LLM runners
call `rec_tune` and `evaluate` with exactly the configs `tallrec train` / `evaluate` would get.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ..baselines import run_baseline
from ..core.defaults import DEFAULT_MODEL
from ..llm.encoding import lm_template
from ..tuning.adapters import check_lora_shape
from ..tuning.rec_tune import rec_tune
from .llm_cells import (
    best_valid,
    data_label,
    evaluate_cell,
    load_lm,
    trained,
    with_shots,
)

Log = Callable[[str], None]


def record_label(cell, ctx, domain: str | None = None) -> str:
    """The `data` field of a record: which test file, and how much of it."""
    d = domain or cell.domain
    return data_label(d, len(ctx.test(d, cell.test_limit)), cell.test_limit)


def run_baseline_cell(cell, ctx, cdir: Path, log: Log) -> dict:
    data = ctx.domain(cell.domain)
    opts = dict(ctx.grid.baseline_options.get(cell.method, {}))
    return run_baseline(cell.method, data.train, data.valid, ctx.test(cell.domain, cell.test_limit), cell.shots,
                        cell.seed, out=cdir, data=record_label(cell, ctx), **opts)


def run_icl_cell(cell, ctx, cdir: Path, log: Log) -> dict:
    from ..baselines import icl
    from ..llm.scoring import ScoreOptions

    cfg = ctx.rec_cfg(cell.model)
    data = ctx.domain(cell.domain)
    options = ScoreOptions(batch_size=cfg.eval_batch_size, cutoff=icl.ICL_CUTOFF)
    return icl.run_icl(load_lm(cfg), data.train, ctx.test(cell.domain, cell.test_limit), ctx.grid.icl_demos,
                       cell.seed, cdir, data=record_label(cell, ctx), options=options)


def stage1_adapter(ctx, model: str, log: Log) -> Path:
    """The stage-1 adapter of `model`: the given one, or trained once into cells/stage1/<model>/."""
    from ..llm.adapters import require_adapter_dir

    cfg = ctx.rec_cfg(model)
    desc = ctx.stage1(model)
    if "adapter" in desc:
        adapter = require_adapter_dir(Path(desc["adapter"]))
        check_lora_shape(adapter, cfg)
        return adapter
    from ..tuning import instruct

    icfg = ctx.instruct_cfg(model)
    folder = ctx.stage1_dir(model)
    if not instruct.instruct_done(folder, icfg):
        records = instruct.load_alpaca_records(desc["alpaca"])
        log(f"[grid] stage 1 for {model}: Alpaca tuning on {desc['alpaca']} -> {folder} (once per model)")
        t0 = time.time()
        res = instruct.tune_instruct(icfg, records, folder, lm=load_lm(icfg), overwrite=True,
                                     source=desc["alpaca"], log=log)
        log(f"[grid] stage 1: {res.steps} steps on {res.used} records ({time.time() - t0:.0f} s)")
    adapter = (folder / "adapter").resolve()
    check_lora_shape(adapter, cfg)
    return adapter


def run_at_cell(cell, ctx, cdir: Path, log: Log) -> dict:
    """AT: the stage-1 adapter alone, no rec-tuning (independent of K and the seed)."""
    cfg = ctx.rec_cfg(cell.model)
    adapter = stage1_adapter(ctx, cell.model, log)
    return evaluate_cell(load_lm(cfg, adapter), ctx.test(cell.domain, cell.test_limit), cdir, cfg,
                         record_label(cell, ctx), adapter, desc=cell.label(), method="at", rec_tuned=False,
                         note="AT does not depend on K or the seed")


def run_tuned_cell(cell, ctx, cdir: Path, log: Log) -> dict:
    """R (a fresh LoRA) or TALLRec (continuing the stage-1 adapter): rec-tune on K samples, evaluate."""
    base = ctx.rec_cfg(cell.model)
    adapter = stage1_adapter(ctx, cell.model, log) if ctx.method(cell).needs_stage1 else None
    cfg = with_shots(base, cell.shots, cell.seed, adapter)
    data = ctx.domain(cell.domain)
    if trained(cdir):
        log(f"[grid] {cell.label()}: training finished before; evaluating")
    else:
        rec_tune(cfg, data.train, data.valid, cdir, lm=load_lm(cfg))
    return evaluate_cell(load_lm(cfg, cdir / "adapter"), ctx.test(cell.domain, cell.test_limit), cdir, cfg,
                         record_label(cell, ctx), cdir / "adapter", desc=cell.label(), seed=cell.seed,
                         method=cell.method, shots=cell.shots, rec_tuned=True, best_valid_auc=best_valid(cdir),
                         stage1_adapter=None if adapter is None else str(adapter))


def _k_samples(cfg, cell, ctx):
    from ..data.fewshot import draw_fewshot

    return draw_fewshot(ctx.domain(cell.domain).train, cfg.shots, cfg.seed, cfg.balanced)


def run_hybrid_cell(cell, ctx, cdir: Path, log: Log) -> dict:
    """The hybrid (experiments/hybrid.py) on the rec-tuning run of the r cell with the same model,
    domain, K and seed (trained there first if it is not yet: one training serves both rows)."""
    from dataclasses import replace

    from ..data.fewshot import validation_subset
    from ..llm.evaluation import recorded_scores
    from ..llm.scoring import ScoreOptions, Scorer
    from .hybrid import combine_and_record

    cfg = with_shots(ctx.rec_cfg(cell.model), cell.shots, cell.seed, None)
    data, test = ctx.domain(cell.domain), ctx.test(cell.domain, cell.test_limit)
    run = ctx.out / replace(cell, method="r").rel_dir()
    if not trained(run):
        log(f"[grid] {cell.label()}: rec-tuning into {run} (shared with the r row)")
        rec_tune(cfg, data.train, data.valid, run, lm=load_lm(cfg))
    lm = load_lm(cfg, run / "adapter")
    options = ScoreOptions(batch_size=cfg.eval_batch_size, cutoff=cfg.cutoff)
    # the r cell's own test scores when it has scored these samples with this adapter
    llm_test = recorded_scores(run, test, run / "adapter")
    if llm_test is None:
        llm_test = Scorer(lm.model, lm.tokenizer, options, lm_template(lm)).score(test, desc=f"{cell.label()}: test")
    return combine_and_record(_k_samples(cfg, cell, ctx), validation_subset(data.valid, cfg.valid_size), test, cdir,
                              data=record_label(cell, ctx), lm=lm, llm_test=llm_test, options=options,
                              seed=cell.seed, shots=cell.shots, adapter=str(run / "adapter"))


def run_hist_valid_cell(cell, ctx, cdir: Path, log: Log) -> dict:
    """The hybrid's floor: the same regression and samples without the LLM (no model is loaded)."""
    from ..data.fewshot import validation_subset
    from .hybrid import combine_and_record

    cfg = with_shots(ctx.rec_cfg(cell.model or DEFAULT_MODEL), cell.shots, cell.seed, None)
    return combine_and_record(_k_samples(cfg, cell, ctx), validation_subset(ctx.domain(cell.domain).valid,
                                                                            cfg.valid_size),
                              ctx.test(cell.domain, cell.test_limit), cdir, data=record_label(cell, ctx),
                              seed=cell.seed, shots=cell.shots)
