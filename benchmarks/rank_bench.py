"""Ranking benchmark: the shared-user-prefix engine against scoring every pair as its own sample.

Same model, same (user, candidate) pairs: the engine (tallrec.recommend.prefix_engine) runs each
user's prompt prefix once and the candidates as batches of suffixes on its key/value cache; the
pairwise side gives every pair to today's scorer (tallrec.llm.scoring.Scorer, which shares only the
prefix common to all prompts: the instruction). Users are the first --users official movie test
samples (their histories), candidates --candidates titles per user drawn with a seed from the test
file's other targets; at 20 and 100 candidates per user by default.

Prints candidates/s of both and the ratio, the FLOP rate the engine achieves (its matmul FLOPs,
counted as score_bench.scorer_flops counts them, per user and truncation group) against the GEMM
peak measured in the same run in the model's dtype (score_bench.gemm_rates), and the max absolute
difference between the two sides' scores, and the work ratio (the pairwise side's FLOPs over the
engine's): ratio = work ratio x FLOP-rate ratio. Both sides are timed --reps times, interleaved, best of
each (the machine is shared).

    python benchmarks/rank_bench.py [--model smollm2-135m] [--users 2] [--candidates 20,100] [--json out.json]

`--synthetic` uses generated histories and titles instead of the official files (no data needed).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score_bench import gemm_rates, scorer_flops  # noqa: E402

from tallrec.core.runtime import keep_freed_memory  # noqa: E402
from tallrec.data import Sample  # noqa: E402
from tallrec.llm.encoding import common_prefix  # noqa: E402
from tallrec.llm.models import load_model  # noqa: E402
from tallrec.llm.scoring import ScoreOptions, Scorer  # noqa: E402
from tallrec.recommend.prefix_engine import DEFAULT_BATCH, PrefixEngine  # noqa: E402


def users_and_titles(n_users: int, synthetic: bool, data: str | None) -> tuple[list[Sample], list[str]]:
    """(users: samples whose history is used, the pool candidate titles are drawn from)."""
    if synthetic:
        rng = random.Random(0)
        titles = [f"Movie {chr(65 + i % 26)}{i} ({1950 + i % 50})" for i in range(400)]
        users = [Sample(tuple((rng.choice(titles), rng.random() < 0.6) for _ in range(10)), "") for _ in range(n_users)]
        return users, titles
    from tallrec.data import load_samples
    from tallrec.data.datasets import load_domain

    test = load_samples(data) if data else load_domain("movie").test
    return [replace(s, target="") for s in test[:n_users]], sorted({s.target for s in test})


def draw(users, pool, per_user: int, seed: int = 0) -> list[tuple[Sample, list[str]]]:
    rng = random.Random(seed)
    out = []
    for u in users:
        seen = {t for t, _ in u.history}
        out.append((u, rng.sample([t for t in pool if t not in seen], per_user)))
    return out


def engine_flops(engine: PrefixEngine, model, lists) -> float:
    """Matmul FLOPs the engine does: per user and truncation group, its shared prefix once and
    every candidate's suffix (score_bench.scorer_flops on the group's prompts)."""
    return sum(scorer_flops(model, g.prompts, g.shared) for u, titles in lists for g in engine.encode(u, titles))


def measure(lm, engine: PrefixEngine, pairwise: Scorer, lists, reps: int) -> dict:
    pairs = [replace(u, target=t) for u, titles in lists for t in titles]
    best = {"engine": float("inf"), "pairwise": float("inf")}
    got = want = None
    for _ in range(reps):
        t = time.perf_counter()
        got = np.concatenate(engine.score_many(lists))
        best["engine"] = min(best["engine"], time.perf_counter() - t)
        t = time.perf_counter()
        want = pairwise.score(pairs)
        best["pairwise"] = min(best["pairwise"], time.perf_counter() - t)
    flops = engine_flops(engine, lm.model, lists)
    prompts = pairwise.encode(pairs)
    pair_flops = scorer_flops(lm.model, prompts, min(common_prefix(prompts), min(map(len, prompts)) - 1))
    return {"pairs": len(pairs), "engine_candidates_per_s": len(pairs) / best["engine"],
            "pairwise_candidates_per_s": len(pairs) / best["pairwise"], "ratio": best["pairwise"] / best["engine"],
            "engine_flops": flops, "engine_achieved_flops": flops / best["engine"],
            "pairwise_flops": pair_flops, "pairwise_achieved_flops": pair_flops / best["pairwise"],
            "work_ratio": pair_flops / flops,
            "max_abs_diff": float(np.abs(got - want).max())}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--users", type=int, default=2, help="users per setting")
    ap.add_argument("--candidates", default="20,100", help="candidates per user, comma-separated")
    ap.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="engine: candidates per forward pass")
    ap.add_argument("--pair-batch-size", type=int, default=16, help="pairwise scorer batch size (its default)")
    ap.add_argument("--reps", type=int, default=1, help="interleaved repetitions; the best of each is reported")
    ap.add_argument("--synthetic", action="store_true", help="generated users and titles (no data files)")
    ap.add_argument("--data", default=None, help="samples file (default: the official movie test set)")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    args = ap.parse_args(argv)
    keep_freed_memory()  # as the tallrec command runs

    lm = load_model(args.model, args.precision)
    users, pool = users_and_titles(args.users, args.synthetic, args.data)
    engine = PrefixEngine(lm.model, lm.tokenizer, batch_size=args.batch_size)
    pairwise = Scorer(lm.model, lm.tokenizer, ScoreOptions(batch_size=args.pair_batch_size, progress=False))
    warm = draw(users[:1], pool, 4, seed=99)
    engine.score_many(warm)
    pairwise.score([replace(u, target=t) for u, ts in warm for t in ts])
    fig: dict = {"model": args.model, "dtype": str(lm.dtype).replace("torch.", ""), "users": len(users),
                 "threads": torch.get_num_threads(), "reps": args.reps, "by_candidates": {}}
    for c in (int(x) for x in args.candidates.split(",")):
        fig["by_candidates"][str(c)] = measure(lm, engine, pairwise, draw(users, pool, c), args.reps)
    gemm = gemm_rates(lm.dtype)
    peak = max(gemm.values())
    for c, m in fig["by_candidates"].items():
        m["fraction_of_peak"] = m["engine_achieved_flops"] / peak
        fig[f"ratio_{c}"] = m["ratio"]
    by = fig["by_candidates"].values()
    fig.update(gemm_peak_flops=peak, gemm_flops_by_shape=gemm,
               fraction_of_peak=min(m["fraction_of_peak"] for m in by), max_abs_diff=max(m["max_abs_diff"] for m in by))
    report(fig)
    if args.json:
        from tallrec.core.io import write_json_atomic

        write_json_atomic(args.json, fig)
    return fig


def report(fig: dict) -> None:
    print(f"model {fig['model']} ({fig['dtype']}), {fig['users']} users, {fig['threads']} threads, best of {fig['reps']}")
    for c, m in fig["by_candidates"].items():
        print(f"{c:>4} candidates/user: engine {m['engine_candidates_per_s']:.2f} cand/s, pairwise "
              f"{m['pairwise_candidates_per_s']:.2f} cand/s, ratio {m['ratio']:.2f}x; engine "
              f"{m['engine_achieved_flops'] / 1e9:.1f} GFLOP/s = {100 * m['fraction_of_peak']:.0f}% of the GEMM peak; "
              f"max |diff| {m['max_abs_diff']:.2e}")
        print(f"     work: pairwise does {m['work_ratio']:.2f}x the engine's matmul FLOPs, at "
              f"{m['pairwise_achieved_flops'] / 1e9:.1f} GFLOP/s")
    print(f"GEMM peak ({fig['dtype']}, measured in this run): {fig['gemm_peak_flops'] / 1e9:.1f} GFLOP/s; "
          "by shape: " + ", ".join(f"{k} {v / 1e9:.0f}" for k, v in fig["gemm_flops_by_shape"].items()))


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
