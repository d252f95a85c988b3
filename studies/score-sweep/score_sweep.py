"""Scoring design choices measured side by side: batch size x prefix cache, and base vs tuned model.

Every row scores the same N official test samples with the same loaded model in one process, so the
rows compare with each other (not with other runs on this noisy machine).

    python studies/score-sweep/score_sweep.py --n 128 [--batch-sizes 8,16,32,64] [--rounds 2] [--adapter runs/quickstart/train/adapter]

With --adapter, the tuned model (adapter merged into the weights, as `tallrec evaluate` does) is
timed beside the base model.
"""

from __future__ import annotations

import argparse
import time

from tallrec.core.runtime import keep_freed_memory
from tallrec.data.datasets import load_domain
from tallrec.llm.adapters import with_adapter
from tallrec.llm.models import load_model
from tallrec.llm.scoring import ScoreOptions, Scorer


def rate(lm, samples, batch_size: int, prefix_cache: bool, reps: int = 1) -> float:
    sc = Scorer(lm.model, lm.tokenizer, ScoreOptions(batch_size=batch_size, prefix_cache=prefix_cache, progress=False))
    ids = sc.encode(samples)
    sc.score_ids(ids[:8])  # warm-up
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        sc.score_ids(ids)
        best = min(best, time.perf_counter() - t)
    return len(ids) / best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--adapter", default=None)
    ap.add_argument("--batch-sizes", default="8,16,32,64")
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds over all rows; the best of each is shown")
    args = ap.parse_args(argv)
    keep_freed_memory()  # as the tallrec command runs
    samples = load_domain("movie").test[: args.n]
    lm = load_model(args.model)
    print(f"{args.model} ({lm.dtype}), {len(samples)} samples\n\n| batch | prefix cache | samples/s |\n|---:|---|---:|")
    rows = [(int(b), pc) for b in args.batch_sizes.split(",") for pc in (True, False)]
    best = {row: 0.0 for row in rows}
    for _ in range(args.rounds):
        for row in rows:
            best[row] = max(best[row], rate(lm, samples, *row))
    for (bs, pc), r in best.items():
        print(f"| {bs} | {'on' if pc else 'off'} | {r:.2f} |")
    if args.adapter:
        tuned = with_adapter(load_model(args.model), args.adapter)
        print(f"\nbatch 16, prefix cache on: base {rate(lm, samples, 16, True):.2f} samples/s, "
              f"tuned (merged adapter) {rate(tuned, samples, 16, True):.2f} samples/s")


if __name__ == "__main__":
    main()
