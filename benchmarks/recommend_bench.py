"""Catalogue recommendation benchmark: retrievers, the LLM rerank of the best one, and the blend.

Protocol (tallrec.data.builders.sequences): leave-one-out of --data (any log `read_log` reads;
default MovieLens-100K) over the full catalogue,
every rating an interaction; per user the last rating is the test target, the one before the
validation target; rated items are never ranked; ties in the target's favour
(tallrec.recommend.metrics). Steps:

1. Retrievers (popularity, item-kNN, SASRec) fitted on the training parts of all users, their
   settings chosen on validation NDCG@10 only; NDCG/Recall@10/20, MRR (full catalogue and the
   "sampled" variant: target + 100 unrated items) on all users, validation and test.
2. best_retriever: the highest validation NDCG@10.
3. On a seeded subset of users (--users): each LLM row (--llm, repeatable: "untuned", or a run or
   adapter folder scored pointwise by P(Yes); "listwise:untuned" or "listwise:FOLDER" for the
   listwise form, tallrec.recommend.listwise) scores the best retriever's top --n candidates of
   each user, at validation and at test, with the TALLRec history (last 10 ratings before the
   target, liked = rating > 3). Every row is scored on the same users; users whose target is not
   in the top --n are not scored (no rerank can change their rank; see score_subset).
4. Per LLM row, the blend (tallrec.recommend.blend) fitted on the subset's validation users; it
   keeps the retriever alone unless the validation gain is significant (paired bootstrap, 95%).
   The pipeline is the row whose blend has the best validation NDCG@10 (the retriever alone when
   every blend keeps it).
5. On the subset's test users: each LLM's order alone (llm_rerank), the pipeline, and the paired
   bootstrap of pipeline minus best retriever (NDCG@10).
6. seconds_per_user: `Recommender.recommend(user, k=10)` end to end (retrieval over the catalogue,
   the LLM's rerank of the top --n, the blend), through a recommender folder whose blend uses the
   LLM, timed on --time-users users after one warm-up call (the first pointwise LLM row's model).

    python benchmarks/recommend_bench.py [--data LOG [--format F]] [--users 100] [--n 20] [--llm untuned --llm RUN ...] [--json FILE]

`--no-llm` stops after step 2. The LLM call is isolated in `llm_scorer`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from tallrec.core.paths import data_dir
from tallrec.data.builders.sequences import leave_one_out
from tallrec.data.readers import read_log
from tallrec.recommend.blend import Blend, blend_json, blended_ranks, fit_blend
from tallrec.recommend.blend_fit import score_subset, target_positions, user_subset
from tallrec.recommend.loo import retriever_eval
from tallrec.recommend.metrics import loo_per_user, paired_bootstrap
from tallrec.recommend.retrievers import fit_on_split

PROTOCOL = ("leave-one-out of the log (`data`; MovieLens-100K by default), full catalogue: per user (ratings stably time-sorted) last = test, "
            "previous = validation, rest = training; every rating an interaction; rated items excluded; "
            "ties in the target's favour; settings and blend chosen on validation")


def llm_scorer(adapter: str | None, model: str | None, precision: str):
    """score(liked titles, disliked titles, candidates [{id, title}]) -> P(Yes) list: the one LLM call."""
    from tallrec.recommend.recommender import Recommender

    rec = Recommender.load(adapter, model=model, precision=precision)
    label = f"{rec.lm.name}" + (f"+{adapter}" if adapter else " (untuned)")
    from tallrec import User

    return (lambda liked, disliked, candidates: rec.score(User(liked=liked, disliked=disliked), candidates)), label


def check_specs(ap, specs) -> None:
    """Every --llm row's adapter folder exists and is an adapter, before the retrievers are fitted:
    a bad one is one usage line (exit 2)."""
    from tallrec.core.errors import TallrecError
    from tallrec.llm.adapters import find_adapter

    for spec in specs:
        rest = spec.partition(":")[2] if spec.startswith("listwise:") else spec
        try:
            if not rest:
                raise TallrecError("give 'untuned' or a run/adapter folder")
            if rest != "untuned":
                find_adapter(rest)
        except TallrecError as e:
            ap.error(f"--llm {spec}: {e}")


def scorer_for(spec: str, a):
    """The LLM row of `--llm SPEC`: "untuned" or a run/adapter folder (pointwise P(Yes)), or
    "listwise:untuned" / "listwise:FOLDER" (tallrec.recommend.listwise: the candidates listed in one
    prompt in a seeded order, scored by one forward pass)."""
    form, _, rest = spec.partition(":") if spec.startswith("listwise:") else ("pointwise", "", spec)
    adapter = None if rest == "untuned" else rest
    if form == "listwise":
        from tallrec.recommend.listwise import listwise_scorer

        return listwise_scorer(adapter, a.model, a.precision, shuffle=a.seed)
    return llm_scorer(adapter, a.model, a.precision)


def llm_rows(a, split, ev, best: str, out: dict) -> None:
    """Steps 3-6 of the module docstring, writing their keys into `out`."""
    specs = (a.llm or []) + (a.adapter or []) or ["untuned"]
    subset = user_subset(split, a.users, a.seed)
    out["users"] = len(subset)
    pos = {st: target_positions(ev[st], subset, st) for st in ("valid", "test")}
    full = {st: ev[st].ranks[subset] for st in ("valid", "test")}
    top = {st: ev[st].top_scores[subset] for st in ("valid", "test")}
    retr = Blend("retriever", "score", 1.0, 0.0, a.n)
    llm_only = Blend("weight", "score", 0.0, 1.0, a.n)
    out["llm_rerank"], out["blends"], secs = {}, {}, []
    base_test = loo_per_user(blended_ranks(retr, top["test"], top["test"], pos["test"], full["test"]))["ndcg@10"]
    # a random order of the top N: the target's expected NDCG@10 where it is in the top N
    out["random_order_ndcg10"] = round(float((pos["test"] >= 0).mean() * np.mean(
        [1 / np.log2(r + 1) if r <= 10 else 0.0 for r in range(1, a.n + 1)])), 6)
    chosen = None   # (validation NDCG@10 of the kept blend, name, blend, test P(Yes))
    for spec in specs:
        score, label = scorer_for(spec, a)
        name = f"{best}+{label}"
        p = {}
        for st in ("valid", "test"):
            p[st], sec = score_subset(split, ev[st], subset, score, st, pos[st])
            secs.append(sec)
        fig = {st: figures(blended_ranks(llm_only, top[st], p[st], pos[st], full[st])) for st in p}
        alone = loo_per_user(blended_ranks(llm_only, top["test"], p["test"], pos["test"], full["test"]))["ndcg@10"]
        d, lo, hi = paired_bootstrap(alone, base_test, seed=a.seed)
        blend = fit_blend(top["valid"], p["valid"], pos["valid"], full["valid"], n=a.n, seed=a.seed)
        kept = blend.fitted.get("ndcg@10_best") if blend.uses_llm else blend.fitted["ndcg@10_retriever"]
        out["llm_rerank"][name] = {"ndcg@10": fig["test"]["ndcg@10"], "valid_ndcg@10": fig["valid"]["ndcg@10"],
                                   "minus_retriever": {"diff": round(d, 6), "ci95": [round(lo, 6), round(hi, 6)]},
                                   "blend_kept": blend.fitted["kept"]}
        out["blends"][name] = json.loads(blend_json(blend))
        if chosen is None or kept > chosen[0]:
            chosen = (kept, name, blend, p["test"])
        del score
    _, name, blend, p_test = chosen
    if a.blend_out:
        Path(a.blend_out).write_text(blend_json(blend))
    ranks_pipe = blended_ranks(blend, top["test"], p_test, pos["test"], full["test"])
    ranks_retr = blended_ranks(retr, top["test"], p_test, pos["test"], full["test"])
    pipe = figures(ranks_pipe)
    diff, lo, hi = paired_bootstrap(loo_per_user(ranks_pipe)["ndcg@10"], loo_per_user(ranks_retr)["ndcg@10"],
                                    seed=a.seed)
    out["pipeline"] = {"ndcg@10": pipe["ndcg@10"], "recall@10": pipe["recall@10"],
                       "llm": name if blend.uses_llm else None, "blend": blend.fitted["kept"]}
    out["best_retriever_subset"] = {st: figures(blended_ranks(retr, top[st], top[st], pos[st], full[st]))
                                    for st in ("valid", "test")}
    out["hit_rate_top_n"] = {st: round(float((pos[st] >= 0).mean()), 6) for st in pos}
    out["blend"] = json.loads(blend_json(blend))
    out["diff_ndcg10"] = round(diff, 6)
    out["diff_ci95"] = [round(lo, 6), round(hi, 6)]
    out["llm_seconds_per_scored_user"] = round(float(np.mean(secs)), 3)
    pointwise = [s for s in specs if not s.startswith("listwise:")]
    if a.time_users and pointwise:   # the recommend path reranks pointwise (P(Yes))
        spec = pointwise[0]
        out["seconds_per_user"], out["timing"] = time_recommend(
            a, split, best, out["retriever_details"][best]["settings"], None if spec == "untuned" else spec,
            [split.users[k] for k in subset[:a.time_users]])


def time_recommend(a, split, best: str, settings: dict, adapter: str | None, users) -> tuple[float, dict]:
    """Seconds per `Recommender.recommend(user, k=10)` through a recommender folder whose blend uses
    the LLM (retrieval, the rerank of the top n, the blend), after one untimed warm-up call."""
    import tempfile

    import torch

    from tallrec import User
    from tallrec.recommend.catalogue import build_recommender_folder
    from tallrec.recommend.recommender import Recommender

    with tempfile.TemporaryDirectory() as tmp:
        folder = build_recommender_folder(Path(tmp) / "rec", a.log, best, settings,
                                          blend=Blend("weight", "score", 0.5, 0.5, a.n), adapter=adapter, n=a.n)
        rec = Recommender.load(adapter, model=a.model, precision=a.precision, catalogue=folder)
        people = []
        for u in users:   # every rating before the test target, as a real user's profile
            k = u.cut("test")
            flags = u.liked if u.liked is not None else [r > 3 for r in u.ratings]
            people.append(User(liked=[split.titles[i] for i, f in zip(u.items[:k], flags[:k]) if f],
                               disliked=[split.titles[i] for i, f in zip(u.items[:k], flags[:k]) if not f]))
        rec.recommend(people[0], k=10)
        times, stages = [], set()
        for person in people:
            t0 = time.perf_counter()
            got = rec.recommend(person, k=10)
            times.append(time.perf_counter() - t0)
            stages |= {r.stage for r in got}
        # the same users through the retriever alone (the folder's default blend): no model runs
        from tallrec.recommend.catalogue import load_recommender_folder
        from tallrec.recommend.recommender import recommend_from

        pipe = load_recommender_folder(folder)
        pipe.blend = Blend(n=a.n)
        t0 = time.perf_counter()
        for person in people:
            recommend_from(pipe, person, k=10)
        retriever_only = (time.perf_counter() - t0) / len(people)
    sec = round(float(np.mean(times)), 3)
    return sec, {"users": len(times), "k": 10, "n": a.n, "stages": sorted(stages), "torch_threads":
                 torch.get_num_threads(), "median": round(float(np.median(times)), 3),
                 "max": round(float(np.max(times)), 3), "retriever_only_seconds_per_user": round(retriever_only, 4)}


def figures(ranks) -> dict:
    per = loo_per_user(ranks)
    return {k: round(float(v.mean()), 6) for k, v in per.items()}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="interaction log, folder or file (default: DATA_DIR/ml-100k)")
    ap.add_argument("--format", default=None, help="the log's format (default: detected; tallrec.data.readers)")
    ap.add_argument("--retrievers", default="popularity,itemknn,sasrec")
    ap.add_argument("--sasrec-epochs", type=int, default=200, help="most SASRec epochs (the best on validation is kept)")
    ap.add_argument("--users", type=int, default=100, help="seeded subset of users the LLM reranks for")
    ap.add_argument("--n", type=int, default=20, help="candidates the LLM reranks")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--llm", action="append", default=None, metavar="SPEC",
                    help="an LLM rerank row: 'untuned' or a run/adapter folder (pointwise P(Yes)), or "
                         "'listwise:untuned' / 'listwise:FOLDER'; repeat for several rows (default: untuned)")
    ap.add_argument("--adapter", action="append", default=None, help="same as --llm RUN")
    ap.add_argument("--time-users", type=int, default=20, help="users timed through Recommender.recommend (0: skip)")
    ap.add_argument("--model", default=None, help="base model (default: the adapter's, else smollm2-135m)")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--no-llm", action="store_true", help="retrievers only")
    ap.add_argument("--blend-out", default=None, help="write the fitted blend.json here")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    a = ap.parse_args(argv)
    check_specs(ap, (a.llm or []) + (a.adapter or []))

    t_all = time.perf_counter()
    a.log = read_log(a.data or data_dir() / "ml-100k", a.format)
    split = leave_one_out(a.log)
    out: dict = {"protocol": PROTOCOL, "data": a.log.source, "data_checksum": a.log.checksum(), "users": None,
                 "users_all": len(split.users), "n": a.n, "seed": a.seed}
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
        llm_rows(a, split, evals[best], best, out)
    out["seconds"] = round(time.perf_counter() - t_all, 1)
    text = json.dumps(out, indent=2)
    if a.json:
        Path(a.json).write_text(text + "\n")
    print(json.dumps({k: v for k, v in out.items() if k not in ("retriever_details", "blend", "blends")}, indent=2))
    return out


if __name__ == "__main__":
    main()
