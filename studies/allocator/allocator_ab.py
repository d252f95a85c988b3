"""The allocator setting of the `tallrec` command (tallrec.runtime.keep_freed_memory), A/B in fresh processes.

score_bench.py times the two settings one after the other in one process, because the setting
cannot be undone there; a drift of the shared machine between its two phases then reads as an
allocator effect. Here every measurement is its own process, the two settings alternate (and swap
which goes first every round), and the ratio is taken within each round.

    python studies/allocator/allocator_ab.py --n 64 --rounds 3 [--model smollm2-135m] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def child(setting: str, n: int, model: str, batch_size: int, reps: int) -> dict:
    """Score n official movie test samples `reps` times under one allocator setting; best pass."""
    from tallrec.core.runtime import keep_freed_memory

    applied = keep_freed_memory() if setting == "tuned" else False
    from tallrec.data.datasets import load_domain
    from tallrec.llm.models import load_model
    from tallrec.llm.scoring import ScoreOptions, Scorer

    lm = load_model(model)
    scorer = Scorer(lm.model, lm.tokenizer, ScoreOptions(batch_size=batch_size, progress=False))
    prompts = scorer.encode(load_domain("movie").test[:n])
    scorer.score_ids(prompts[: 2 * batch_size])  # warm-up
    best, faults = float("inf"), None
    for _ in range(reps):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t = time.perf_counter()
        scorer.score_ids(prompts)
        dt = time.perf_counter() - t
        f = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        best, faults = min(best, dt), f if faults is None else min(faults, f)
    return {"setting": setting, "applied": applied, "samples_per_s": len(prompts) / best, "minor_faults": faults}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=64, help="official movie test samples scored per pass")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--reps", type=int, default=3, help="passes per process; the best is kept")
    ap.add_argument("--rounds", type=int, default=3, help="pairs of processes, one per setting")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    ap.add_argument("--child", choices=("default", "tuned"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    for name in ("n", "batch_size", "reps", "rounds"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.child:
        from tallrec.core.errors import TallrecError

        try:
            print(json.dumps(child(args.child, args.n, args.model, args.batch_size, args.reps)))
        except TallrecError as e:  # a bad model path or missing data: one line, as the tallrec command says it
            sys.exit(f"error: {e}")
        return 0

    def run(setting: str) -> dict:
        cmd = [sys.executable, __file__, "--child", setting, "--n", str(args.n), "--model", args.model,
               "--batch-size", str(args.batch_size), "--reps", str(args.reps)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:  # the child's last line says why (its own one-line error, or a traceback's end)
            last = (out.stderr.strip().splitlines() or ["no output"])[-1]
            sys.exit(f"allocator_ab: the {setting} run failed: {last}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    rounds = []
    print("| round | default samples/s | tuned samples/s | tuned ÷ default | minor faults per pass (default / tuned) |")
    print("|---:|---:|---:|---:|---:|")
    for r in range(args.rounds):
        order = ("default", "tuned") if r % 2 == 0 else ("tuned", "default")
        res = {s: run(s) for s in order}
        ratio = res["tuned"]["samples_per_s"] / res["default"]["samples_per_s"]
        rounds.append({"default": res["default"], "tuned": res["tuned"], "ratio": ratio, "first": order[0]})
        print(f"| {r + 1} ({order[0]} first) | {res['default']['samples_per_s']:.2f} | {res['tuned']['samples_per_s']:.2f} | "
              f"{ratio:.2f}× | {res['default']['minor_faults']:,} / {res['tuned']['minor_faults']:,} |", flush=True)
    if not rounds[0]["tuned"]["applied"]:
        print("(not glibc: the setting did not apply, so both columns ran the default)")
    median = statistics.median(r["ratio"] for r in rounds)
    print(f"median tuned ÷ default over {len(rounds)} rounds: {median:.2f}×")
    if args.json:
        from tallrec.core.io import write_json_atomic

        write_json_atomic(args.json, {"n": args.n, "model": args.model, "rounds": rounds, "median_ratio": median})
    return 0


if __name__ == "__main__":
    sys.exit(main())
