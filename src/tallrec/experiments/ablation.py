"""The paper's AT / R / TALLRec ablation (Figure 3 of Bao et al. 2023) on one domain.

Arms, all scored by the same P(Yes) scorer on the same test samples:

* AT      - the stage-1 (Alpaca-tuned) adapter alone, no rec-tuning. It depends on neither K nor the
            seed: it is evaluated once and the record is copied into every AT cell ("copied_from").
* R       - rec-tuning only: a fresh LoRA on K samples drawn with the seed.
* TALLRec - stage 1, then rec-tuning of that adapter on the same K samples (same seed, same draw).

Layout of DIR::

    ablation.json                 settings (domain, rec-tuning config, stage 1, test limit)
    stage1/                       the stage-1 run when trained here from --alpaca (adapter/, instruct.json)
    <arm>/k<K>-s<seed>/           metrics.json + scores.jsonl; for R/TALLRec also adapter/, config.yaml,
                                  history.json, train_samples.json
    summary.json, summary.md      every finished cell, and mean ± sd over seeds per arm and K

Rerunning the same command resumes: a cell whose metrics.json exists is skipped. More shots or seeds
may be added on a later run; other settings may not (a different --out is asked for).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Sequence

from ..core.config import load_config, resolve_config
from ..core.errors import TallrecError
from ..core.io import ensure_dir, sha256_file, write_json_atomic, write_text_atomic
from ..data.datasets import DomainData, load_domain
from ..llm.adapters import require_adapter_dir
from ..tuning.config import TrainConfig
from ..tuning.instruct import InstructConfig, instruct_done, load_alpaca_records, tune_instruct
from ..tuning.rec_tune import rec_tune
from .cells import (
    DEFAULT_INSTRUCT_CONFIG,
    Progress,
    check_lora_shape,
    check_settings,
    copy_cell,
    data_label,
    evaluate_cell,
    fmt,
    is_done,
    limit_test,
    load_lm,
    markdown_table,
    mean_sd,
    parse_int_list,
    read_metrics,
    trained,
    with_shots,
)

ARMS = ("AT", "R", "TALLRec")
_CELL = re.compile(r"k(\d+)-s(\d+)")


def cell_dir(out: Path, arm: str, shots: int, seed: int) -> Path:
    return out / arm / f"k{shots}-s{seed}"


def stage1_config(instruct_config: InstructConfig | None, rec: TrainConfig) -> InstructConfig:
    """Stage-1 settings for the ablation: the given ones (default: the packaged CPU recipe) with the
    rec-tuning model, precision and LoRA shape, so the adapter can be continued."""
    from dataclasses import replace

    icfg = instruct_config or load_config(InstructConfig, resolve_config(None, "instruct", DEFAULT_INSTRUCT_CONFIG))
    return replace(icfg, model=rec.model, precision=rec.precision, load_in_8bit=rec.load_in_8bit, lora=rec.lora)


def run_ablation(out: str | os.PathLike, domain: str, shots: Sequence[int] | str, seeds: Sequence[int] | str, *,
                 rec_config: TrainConfig, instruct_adapter: str | os.PathLike | None = None,
                 alpaca: str | os.PathLike | None = None, instruct_config: InstructConfig | None = None,
                 test_limit: int | None = None, data_dir: str | os.PathLike | None = None,
                 data: DomainData | None = None, log=print) -> dict:
    """Run (or resume) the ablation; returns the summary (also written to DIR/summary.json and .md).

    `data` injects already-loaded domain data (tests); otherwise `load_domain(domain, data_dir)`.
    """
    shots = parse_int_list(shots, "--shots")
    seeds = parse_int_list(seeds, "--seeds", minimum=0)
    if (instruct_adapter is None) == (alpaca is None):
        raise TallrecError("give exactly one of --instruct-adapter DIR (a stage-1 adapter) or --alpaca FILE "
                           "(train one here)")
    data = data or load_domain(domain, data_dir)
    if max(shots) > len(data.train):
        raise TallrecError(f"--shots {max(shots)}: the {data.domain} training pool has only {len(data.train)} samples")
    test = limit_test(data.test, test_limit, data.domain)
    out = ensure_dir(out)
    cfg = rec_config
    if instruct_adapter is not None:
        adapter = require_adapter_dir(Path(instruct_adapter).resolve())
        check_lora_shape(adapter, cfg)
        stage1 = {"adapter": str(adapter)}
        icfg = records = None
    else:
        icfg = stage1_config(instruct_config, cfg)
        records = load_alpaca_records(alpaca)  # validated before anything is trained
        adapter = (out / "stage1" / "adapter").resolve()
        stage1 = {"alpaca": str(Path(alpaca).resolve()), "alpaca_sha256": sha256_file(alpaca),
                  "config": icfg.to_dict()}
    settings = {"experiment": "ablation", "domain": data.domain, "rec_config": cfg.to_dict(), "stage1": stage1,
                "test_limit": test_limit, "test_samples": len(test)}
    check_settings(out, "ablation.json", settings, "an ablation")
    label = data_label(data.domain, len(test), test_limit)
    cells = [(a, k, s) for a in ARMS for k in shots for s in seeds]
    prog = Progress("ablation", len(cells) + (1 if icfg else 0), log)
    prog.say(f"{data.source}; model {cfg.model}; {len(test)} test samples; arms {', '.join(ARMS)}; "
             f"shots {shots}; seeds {seeds}; -> {out}")

    if icfg is not None:
        if instruct_done(out / "stage1", icfg):
            prog.start("stage1", "done before, reused (skipped)")
        else:
            t = prog.start("stage1", f"Alpaca tuning on {alpaca}")
            res = tune_instruct(icfg, records, out / "stage1", lm=load_lm(icfg), overwrite=True,
                                source=str(alpaca), log=log)
            prog.say(f"stage1: {res.steps} steps on {res.used} records ({time.time() - t:.0f} s)")
        check_lora_shape(adapter, cfg)

    at_done: Path | None = next((cell_dir(out, "AT", k, s) for k in shots for s in seeds
                                 if is_done(cell_dir(out, "AT", k, s))), None)
    for arm, k, s in cells:
        cell = cell_dir(out, arm, k, s)
        name = f"{arm} k{k}-s{s}"
        if is_done(cell):
            prog.start(name, f"done before, AUC {read_metrics(cell)['auc']:.4f} (skipped)")
            continue
        t = prog.start(name, "evaluating the stage-1 adapter" if arm == "AT" else "rec-tuning")
        extra = {"arm": arm, "shots": k, "stage1_adapter": str(adapter)}
        if arm == "AT":
            extra.update(rec_tuned=False, note="AT does not depend on K or the seed: one evaluation, copied")
            if at_done is not None:
                rec = copy_cell(at_done, cell, **extra)
            else:
                rec = evaluate_cell(load_lm(cfg, adapter), test, cell, cfg, label, adapter, desc=name, **extra)
                at_done = cell
        else:
            run_cfg = with_shots(cfg, k, s, adapter if arm == "TALLRec" else None)
            if not trained(cell):
                rec_tune(run_cfg, data.train, data.valid, cell, lm=load_lm(run_cfg))
            else:
                prog.say(f"{name}: training done before; evaluating")
            rec = evaluate_cell(load_lm(run_cfg, cell / "adapter"), test, cell, run_cfg, label, cell / "adapter",
                                desc=name, seed=s, rec_tuned=True, best_valid_auc=_best_valid(cell),
                                **extra)
        prog.say(f"{name}: AUC {rec['auc']:.4f} ({time.time() - t:.0f} s)")
        write_summary(out, settings)
    summary = write_summary(out, settings)
    prog.say(f"summary -> {out / 'summary.md'}")
    return summary


def _best_valid(cell: Path) -> float | None:
    import json

    try:
        return json.loads((cell / "history.json").read_text()).get("best_valid_auc")
    except (OSError, ValueError):
        return None


def write_summary(out: Path, settings: dict) -> dict:
    """summary.json + summary.md from every finished cell on disk."""
    cells = []
    for arm in ARMS:
        folder = out / arm
        if not folder.is_dir():
            continue
        for d in sorted(folder.iterdir()):
            m = _CELL.fullmatch(d.name)
            if m and is_done(d):
                rec = read_metrics(d)
                cells.append({"arm": arm, "shots": int(m[1]), "seed": int(m[2]), "auc": rec["auc"], "n": rec["n"],
                              "best_valid_auc": rec.get("best_valid_auc"), "dir": str(d.relative_to(out))})
    shots = sorted({c["shots"] for c in cells})
    table: dict = {}
    for arm in ARMS:
        for k in shots:
            vals = [c["auc"] for c in cells if c["arm"] == arm and c["shots"] == k]
            if vals and arm == "AT":  # one evaluation copied into every cell: no spread over seeds
                table.setdefault(arm, {})[str(k)] = {"mean": vals[0], "sd": None, "seeds": 1}
            elif vals:
                mean, sd = mean_sd(vals)
                table.setdefault(arm, {})[str(k)] = {"mean": mean, "sd": sd, "seeds": len(vals)}
    summary = {"experiment": "ablation", "domain": settings["domain"], "test_samples": settings["test_samples"],
               "model": settings["rec_config"]["model"], "stage1": settings["stage1"], "metric": "test AUC",
               "table": table, "cells": cells}
    write_json_atomic(out / "summary.json", summary)
    rows = [[arm] + [fmt(table.get(arm, {}).get(str(k), {}).get("mean"), table.get(arm, {}).get(str(k), {}).get("sd"),
                         table.get(arm, {}).get(str(k), {}).get("seeds", 1)) for k in shots] for arm in ARMS]
    s1 = settings["stage1"]
    md = (f"# Ablation: AT / R / TALLRec on {settings['domain']}\n\n"
          f"Test AUC on {settings['test_samples']} {settings['domain']} test samples, model "
          f"`{settings['rec_config']['model']}`; mean ± sample sd over seeds where more than one.\n"
          f"Stage-1 adapter: {'`' + s1['adapter'] + '` (given)' if 'adapter' in s1 else 'trained here from `' + s1['alpaca'] + '` (stage1/)'}."
          f" AT is that adapter without rec-tuning (independent of K and seed); R is rec-tuning from a fresh "
          f"LoRA; TALLRec is rec-tuning continued from the stage-1 adapter on the same K samples.\n\n")
    md += markdown_table(["arm"] + [f"K={k}" for k in shots], rows) if shots else "No finished cells yet.\n"
    write_text_atomic(out / "summary.md", md)
    return summary
