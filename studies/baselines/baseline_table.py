#!/usr/bin/env python
"""Measure the baselines on the official TALLRec data and print a markdown table of test AUCs.

Split (documented, deterministic): the authors publish only valid.json and test.json per domain.
From each domain's valid.json, `--carve` samples (200) chosen with random.Random(0) form the
validation data (early stopping); the rest is the few-shot pool that K samples are drawn from with
draw_fewshot(pool, K, seed); test.json is the test data.

    .venv/bin/python studies/baselines/baseline_table.py   # 8 baselines x {movie, book} x K {16, 64, 256}, seed 0
    .venv/bin/python studies/baselines/baseline_table.py --seeds 0,1,2 --baselines gru4rec,logreg --head dot

Each run also writes metrics.json + scores.jsonl under --out/DOMAIN/NAME/kK-sS, and the table is
saved as --out/table.md.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

from tallrec.baselines import BASELINES, run_baseline
from tallrec.core.io import write_text_atomic
from tallrec.core.paths import data_dir
from tallrec.data.samples import load_samples


def carve(samples: list, n: int, seed: int = 0) -> tuple[list, list]:
    """(pool, validation): `n` samples chosen with random.Random(seed) form the validation part."""
    chosen = set(random.Random(seed).sample(range(len(samples)), n))
    pool = [s for i, s in enumerate(samples) if i not in chosen]
    valid = [s for i, s in enumerate(samples) if i in chosen]
    return pool, valid


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=None, help="folder holding tallrec-official/ (default: $TALLREC_DATA_DIR)")
    ap.add_argument("--domains", default="movie,book")
    ap.add_argument("--shots", default="16,64,256")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--baselines", default=",".join(BASELINES))
    ap.add_argument("--carve", type=int, default=200, help="validation samples carved from valid.json")
    ap.add_argument("--head", default=None, help="scorer of the sequential models (dot+user, dot)")
    ap.add_argument("--out", default="runs/baseline_table")
    args = ap.parse_args(argv)

    official = data_dir(args.data_dir) / "tallrec-official"
    domains = args.domains.split(",")
    shots = [int(k) for k in args.shots.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    names = args.baselines.split(",")
    for n in names:
        if n not in BASELINES:
            sys.exit(f"unknown baseline {n!r}; choose from {', '.join(BASELINES)}")

    results: dict[tuple[str, str, int], list[float]] = {}
    seconds: dict[str, float] = {}
    t_all = time.perf_counter()
    for domain in domains:
        pool, valid = carve(load_samples(official / domain / "valid.json"), args.carve)
        test_path = official / domain / "test.json"
        test = load_samples(test_path)
        print(f"# {domain}: pool {len(pool)}, validation {len(valid)}, test {len(test)}", file=sys.stderr)
        for name in names:
            opts = {"head": args.head} if args.head and BASELINES[name][0] == "seq" else {}
            for k in shots:
                for seed in seeds:
                    out = Path(args.out) / domain / name / f"k{k}-s{seed}"
                    rec = run_baseline(name, pool, valid, test, k, seed, out=out, data=test_path, **opts)
                    results.setdefault((domain, name, k), []).append(rec["auc"])
                    seconds[name] = max(seconds.get(name, 0.0), rec["seconds"])
                    extra = f" best_epoch={rec['best_epoch']} valid_auc={rec['valid_auc']:.4f}" if "best_epoch" in rec else ""
                    print(f"{domain} {name} K={k} seed={seed}: AUC {rec['auc']:.4f} ({rec['seconds']:.1f}s){extra}", file=sys.stderr)

    def cell(v: list[float]) -> str:
        if len(v) == 1:
            return f"{v[0]:.4f}"
        return f"{statistics.mean(v):.4f} ± {statistics.stdev(v):.4f}"

    head = "| baseline | " + " | ".join(f"{d} K={k}" for d in domains for k in shots) + " | max s/run |"
    rule = "|---|" + "---:|" * (len(domains) * len(shots) + 1)
    rows = [
        f"| {n} | " + " | ".join(cell(results[(d, n, k)]) for d in domains for k in shots) + f" | {seconds[n]:.1f} |"
        for n in names
    ]
    note = (
        f"Test AUC, seeds {args.seeds}; pool = valid.json minus {args.carve} carved validation samples "
        f"(random.Random(0)); test = test.json"
        + (f"; head={args.head}" if args.head else "")
        + f". Total {time.perf_counter() - t_all:.0f} s on {os.cpu_count()} CPU(s)."
    )
    table = "\n".join([head, rule, *rows, "", note])
    print(table)
    write_text_atomic(Path(args.out) / "table.md", table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
