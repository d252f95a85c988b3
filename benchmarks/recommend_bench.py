"""Catalogue recommendation benchmark: retrievers, the LLM rerank of the best one, and the blend.

Protocol (tallrec.data.builders.sequences): MovieLens-100K leave-one-out over the full catalogue,
every rating an interaction; per user the last rating is the test target, the one before the
validation target; rated items are never ranked; ties in the target's favour
(tallrec.recommend.metrics). Steps:

1. Retrievers (popularity, item-kNN, SASRec) fitted on the training parts of all users, their
   settings chosen on validation NDCG@10 only; NDCG/Recall@10/20, MRR (full catalogue and the
   "sampled" variant: target + 100 unrated items) on all users, validation and test.
2. best_retriever: the highest validation NDCG@10.
3. On a seeded subset of users (--users): the LLM (untuned default model, or --adapter RUN) scores
   the best retriever's top --n candidates of each user, at validation and at test, with the
   TALLRec history (last 10 ratings before the target, liked = rating > 3).
4. The blend (tallrec.recommend.blend) fitted on the subset's validation users; it keeps the
   retriever alone unless the validation gain is significant (paired bootstrap, 95%).
5. On the subset's test users: the LLM's order alone (llm_rerank), the pipeline (the blend), and
   the paired bootstrap of pipeline minus best retriever (NDCG@10).

    python benchmarks/recommend_bench.py [--users 100] [--n 20] [--adapter RUN] [--json FILE]

`--no-llm` stops after step 2. The LLM call is isolated in `llm_scorer`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from tallrec.core.paths import data_dir
from tallrec.data.builders.sequences import leave_one_out
from tallrec.recommend.blend import Blend, blend_json, blended_ranks, fit_blend
from tallrec.recommend.loo import retriever_eval
from tallrec.recommend.metrics import loo_per_user, paired_bootstrap
from tallrec.recommend.retrievers import fit_on_split

PROTOCOL = ("movielens-100k leave-one-out, full catalogue: per user (ratings stably time-sorted) last = test, "
            "previous = validation, rest = training; every rating an interaction; rated items excluded; "
            "ties in the target's favour; settings and blend chosen on validation")


def llm_scorer(adapter: str | None, model: str | None, precision: str):
    """score(liked titles, disliked titles, candidates [{id, title}]) -> P(Yes) list: the one LLM call."""
    from tallrec.recommend.recommender import Recommender

    rec = Recommender.load(adapter, model=model, precision=precision)
    label = f"{rec.lm.name}" + (f"+{Path(adapter).name}" if adapter else " (untuned)")
    from tallrec import User

    return (lambda liked, disliked, candidates: rec.score(User(liked=liked, disliked=disliked), candidates)), label


def score_subset(split, ev, users, score, stage: str) -> tuple[np.ndarray, float]:
    """P(Yes) [U, N] of each subset user's top-N candidates at `stage`; mean seconds per user."""
    t0 = time.perf_counter()
    out = []
    for k in users:
        u = ev.users[k]
        liked, disliked = split.tallrec_history(u, stage)
        cands = [{"id": int(i), "title": split.titles[int(i)]} for i in ev.top_ids[k]]
        out.append(score(liked, disliked, cands))
        print(f"  llm {stage} {len(out)}/{len(users)}", file=sys.stderr, flush=True)
    return np.asarray(out, dtype=np.float64), (time.perf_counter() - t0) / max(1, len(users))


def target_positions(ev, users, stage: str) -> np.ndarray:
    pos = []
    for k in users:
        hit = np.flatnonzero(ev.top_ids[k] == ev.users[k].target(stage))
        pos.append(int(hit[0]) if hit.size else -1)
    return np.asarray(pos)


def figures(ranks) -> dict:
    per = loo_per_user(ranks)
    return {k: round(float(v.mean()), 6) for k, v in per.items()}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="MovieLens-100K folder (default: DATA_DIR/ml-100k)")
    ap.add_argument("--retrievers", default="popularity,itemknn,sasrec")
    ap.add_argument("--sasrec-epochs", type=int, default=200, help="most SASRec epochs (the best on validation is kept)")
    ap.add_argument("--users", type=int, default=100, help="seeded subset of users the LLM reranks for")
    ap.add_argument("--n", type=int, default=20, help="candidates the LLM reranks")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--adapter", default=None, help="run or adapter folder (default: the untuned model)")
    ap.add_argument("--model", default=None, help="base model (default: the adapter's, else smollm2-135m)")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--no-llm", action="store_true", help="retrievers only")
    ap.add_argument("--blend-out", default=None, help="write the fitted blend.json here")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    a = ap.parse_args(argv)

    t_all = time.perf_counter()
    split = leave_one_out(a.data or data_dir() / "ml-100k")
    out: dict = {"protocol": PROTOCOL, "users": None, "users_all": len(split.users), "n": a.n, "seed": a.seed}
    retrievers, evals, details = {}, {}, {}
    for name in [r.strip() for r in a.retrievers.split(",") if r.strip()]:
        t0 = time.perf_counter()
        r, selection = fit_on_split(name, split, {"epochs": a.sasrec_epochs} if name == "sasrec" else None)
        fit_s = time.perf_counter() - t0
        ev = {st: retriever_eval(split, r, st, n=a.n, seed=a.seed) for st in ("valid", "test")}
        evals[name] = ev
        m = {st: e.metrics() for st, e in ev.items()}
        retrievers[name] = {"ndcg@10": m["test"]["ndcg@10"], "recall@10": m["test"]["recall@10"]}
        details[name] = {"settings": r.settings(), "selection": selection, "fit_seconds": round(fit_s, 1), **m}
        print(f"{name}: valid ndcg@10 {m['valid']['ndcg@10']:.4f}  test ndcg@10 {m['test']['ndcg@10']:.4f} "
              f"recall@10 {m['test']['recall@10']:.4f}  ({fit_s:.0f}s)", file=sys.stderr, flush=True)
    if "popularity" in details:
        out["popularity_ndcg10_test"] = details["popularity"]["test"]["ndcg@10"]
    out["retrievers"] = retrievers
    out["retriever_details"] = details
    best = max(details, key=lambda k: details[k]["valid"]["ndcg@10"])
    out["best_retriever"] = best

    if not a.no_llm:
        ev = evals[best]
        subset = sorted(random.Random(a.seed).sample(range(len(split.users)), min(a.users, len(split.users))))
        out["users"] = len(subset)
        score, label = llm_scorer(a.adapter, a.model, a.precision)
        p, pos, full, secs = {}, {}, {}, []
        for st in ("valid", "test"):
            p[st], s = score_subset(split, ev[st], subset, score, st)
            secs.append(s)
            pos[st] = target_positions(ev[st], subset, st)
            full[st] = ev[st].ranks[subset]
        top = {st: ev[st].top_scores[subset] for st in ("valid", "test")}
        retr = Blend("retriever", "score", 1.0, 0.0, a.n)
        llm_only = Blend("weight", "score", 0.0, 1.0, a.n)
        fig = {st: {"retriever": figures(blended_ranks(retr, top[st], p[st], pos[st], full[st])),
                    "llm": figures(blended_ranks(llm_only, top[st], p[st], pos[st], full[st]))} for st in p}
        blend = fit_blend(top["valid"], p["valid"], pos["valid"], full["valid"], n=a.n, seed=a.seed)
        if a.blend_out:
            Path(a.blend_out).write_text(blend_json(blend))
        ranks_pipe = blended_ranks(blend, top["test"], p["test"], pos["test"], full["test"])
        ranks_retr = blended_ranks(retr, top["test"], p["test"], pos["test"], full["test"])
        pipe = figures(ranks_pipe)
        diff, lo, hi = paired_bootstrap(loo_per_user(ranks_pipe)["ndcg@10"], loo_per_user(ranks_retr)["ndcg@10"],
                                        seed=a.seed)
        out["llm_rerank"] = {f"{best}+{label}": {"ndcg@10": fig["test"]["llm"]["ndcg@10"],
                                                 "valid_ndcg@10": fig["valid"]["llm"]["ndcg@10"]}}
        out["pipeline"] = {"ndcg@10": pipe["ndcg@10"], "recall@10": pipe["recall@10"]}
        out["best_retriever_subset"] = {st: fig[st]["retriever"] for st in fig}
        out["llm_subset"] = {st: fig[st]["llm"] for st in fig}
        out["hit_rate_top_n"] = {st: round(float((pos[st] >= 0).mean()), 6) for st in pos}
        out["blend"] = json.loads(blend_json(blend))
        out["diff_ndcg10"] = round(diff, 6)
        out["diff_ci95"] = [round(lo, 6), round(hi, 6)]
        out["seconds_per_user"] = round(float(np.mean(secs)), 3)
        out["llm"] = label
    out["seconds"] = round(time.perf_counter() - t_all, 1)
    text = json.dumps(out, indent=2)
    if a.json:
        Path(a.json).write_text(text + "\n")
    print(json.dumps({k: v for k, v in out.items() if k not in ("retriever_details", "blend")}, indent=2))
    return out


if __name__ == "__main__":
    main()
