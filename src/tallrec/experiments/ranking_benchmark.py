"""`tallrec evaluate-ranking`: the LLM and the baselines on a ranking benchmark folder.

The folder is what `tallrec data prepare ranking` writes: test.jsonl (lists with a "target"),
valid.jsonl (validation lists built the same way), train.json (the training windows) and
valid.json. Methods:

* llm: P(Yes) of each candidate from a Recommender (an adapter or the untuned model);
* random: the exact expectation of a uniformly random order (HR@k = k / n), no draw;
* popularity: how many training windows have the candidate as their target (train.json only);
* pipeline: popularity reranked with the LLM through a blend (recommend/blend.py) fitted on the
  validation lists only, the benchmark's ties (candidate order) included; the blend keeps
  popularity alone unless its validation NDCG@10 gain is significant, so the row cannot fall below
  popularity on validation by construction. Its record holds the blend and, on the test lists, the
  paired bootstrap of pipeline minus popularity (HR@1, NDCG@10);
* sasrec and the other sequential baselines (any pairwise scorer passed in `pairwise`): a model
  trained on train.json and valid.json that scores each labelled (history, candidate) pair
  (`pair_samples`). The command passes the baseline trained like every baseline, on K samples
  drawn from train.json with the seed, early-stopped on valid.json.

Writes metrics.json ({"data", "lists", "methods": {name: record}}) and ranks.jsonl (per list: the
target's rank under each method) into the output folder, atomically. Each record also holds
`popularity_spearman`, the mean within-list rank correlation of the method's scores with the
candidates' popularity: the targets are mostly popular movies and the negatives uniform draws
from the catalogue, so a method that prefers obscure titles ranks below random.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from ..core.errors import DataError, TallrecError
from ..data.samples import Sample, load_samples
from ..data.users import dump_item
from ..recommend.metrics import metrics_from_ranks, random_expected, ranking_record, target_rank
from ..recommend.userfile import UserLine, read_users


def check_methods(methods: Sequence[str]) -> list[str]:
    """The methods asked for, each once; an unknown one is one line naming the choices (the
    entries of the method registry marked `ranking`)."""
    from .methods import ranking_methods

    known = ranking_methods()
    unknown = [m for m in methods if m not in known]
    if unknown or not methods:
        raise TallrecError(f"unknown method(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(known)}")
    return list(dict.fromkeys(methods))


def load_lists(folder: str | os.PathLike, limit: int | None = None, name: str = "test.jsonl") -> list[UserLine]:
    """The lists of a benchmark folder (test.jsonl, or valid.jsonl), each with its target (checked)."""
    path = Path(folder) / name
    if name == "valid.jsonl" and not path.is_file():
        raise DataError(f"{path}: no validation lists (the pipeline's blend is fitted on them); rebuild the "
                        f"folder with `tallrec data prepare ranking`")
    lines = read_users(path)
    for u in lines:
        if u.target is None:
            raise DataError(f"{path}: line {u.line}: no target (a ranking benchmark names each list's target)")
    return lines[:limit] if limit else lines


def pair_samples(u: UserLine) -> list[Sample]:
    """(history, candidate) samples of one list, labelled: the target True, the others False."""
    base = u.as_user.sample()
    return [replace(base, target=t, label=i == u.target_index) for i, t in enumerate(u.titles)]


def popularity_scores(train: Sequence[Sample], lines: Sequence[UserLine]) -> list[list[float]]:
    counts = Counter(s.target for s in train)
    return [[float(counts[t]) for t in u.titles] for u in lines]


def split_flat(flat: Sequence[float], lines: Sequence[UserLine]) -> list[list[float]]:
    """Scores of all (list, candidate) pairs in order, cut back into one list per user."""
    out, at = [], 0
    for u in lines:
        out.append(list(flat[at:at + len(u.candidates)]))
        at += len(u.candidates)
    return out


def pipeline_scores(train: Sequence[Sample], valid_lines: Sequence[UserLine], lines: Sequence[UserLine],
                    p_valid: Sequence[Sequence[float]], p_test: Sequence[Sequence[float]],
                    seed: int = 0) -> tuple[list[list[float]], dict]:
    """Test scores of popularity blended with the LLM's P(Yes) (the `pipeline` method); the blend is
    fitted on the validation lists only (recommend/blend.fit_blend, the benchmark's ties)."""
    import numpy as np

    from ..recommend.blend import blend_json, fit_blend

    pop_v, pop_t = popularity_scores(train, valid_lines), popularity_scores(train, lines)
    if len({len(s) for s in pop_v + pop_t}) != 1:
        raise DataError("the pipeline method needs lists of one length (the blend is fitted over N candidates)")
    pos = [u.target_index for u in valid_lines]
    blend = fit_blend(np.asarray(pop_v), np.asarray(p_valid), np.asarray(pos),
                      np.asarray([target_rank(s, t) for s, t in zip(pop_v, pos)]), seed=seed, ties="order")
    scores = [blend.combine(s, p).tolist() for s, p in zip(pop_t, p_test)]
    return scores, {"model": "popularity + LLM blend fitted on valid.jsonl", "retriever": "popularity",
                    "blend": json.loads(blend_json(blend)), "valid_lists": len(valid_lines)}


def versus(ranks_a: Sequence[int], ranks_b: Sequence[int], seed: int = 0) -> dict:
    """HR@1 and NDCG@10 of a minus b over the same lists, with paired bootstrap 95% intervals."""
    import numpy as np

    from ..recommend.metrics import paired_bootstrap

    a, b = np.asarray(ranks_a, dtype=np.float64), np.asarray(ranks_b, dtype=np.float64)
    out = {}
    for key, f in (("hr@1", lambda r: (r <= 1).astype(np.float64)),
                   ("ndcg@10", lambda r: np.where(r <= 10, 1.0 / np.log2(r + 1.0), 0.0))):
        d, lo, hi = paired_bootstrap(f(a), f(b), seed=seed)
        out[key] = {"diff": round(d, 6), "ci95": [round(lo, 6), round(hi, 6)]}
    return out


def popularity_correlation(scores: Sequence[Sequence[float]], pop: Sequence[Sequence[float]]) -> float | None:
    """Mean within-list Spearman correlation of a method's scores with the candidates' popularity
    (lists where either side is constant are left out): why a method beats or trails popularity."""
    import numpy as np
    from scipy.stats import spearmanr

    rhos = [spearmanr(a, b).statistic for a, b in zip(scores, pop) if np.ptp(a) > 0 and np.ptp(b) > 0]
    rhos = [r for r in rhos if np.isfinite(r)]
    return round(float(np.mean(rhos)), 4) if rhos else None


def _record(name: str, lines, scores, data: str, seconds: float, pop=None, **meta) -> tuple[dict, list[int]]:
    ranks = [target_rank(s, u.target_index) for u, s in zip(lines, scores)]
    if pop is not None:
        meta["popularity_spearman"] = popularity_correlation(scores, pop)
    return ranking_record(metrics_from_ranks(ranks), n=len(lines), data=data, seconds=seconds, **meta), ranks


def refuse_collm(rec):
    """The benchmark's lists carry no user id or time, so a collm adapter's signals would be taken
    after the whole log, the target's own rating included: refused until the lists carry them."""
    from ..llm.soft_tokens import soft_tokens_of

    if soft_tokens_of(rec.lm.model) is not None:
        raise TallrecError("a collm adapter cannot run in the ranking benchmark yet: its lists carry no user "
                           "or time, so the collaborative signals would see the target; score it with "
                           "`tallrec evaluate`")
    return rec


def _checked(methods: Sequence[str], recommender, pairwise: dict | None) -> list[str]:
    """The methods, each with what it needs (a model for llm and pipeline, a scorer for a baseline)."""
    methods = check_methods(methods)
    if {"llm", "pipeline"} & set(methods) and recommender is None:
        raise TallrecError("the llm and pipeline methods need a model: give --adapter RUN (or --adapter none)")
    missing = [m for m in methods if m not in ("llm", "random", "popularity", "pipeline")
               and m not in (pairwise or {})]
    if missing:
        raise TallrecError(f"method {missing[0]} needs its scorer (pairwise={{{missing[0]!r}: ...}})")
    return methods


def evaluate_ranking(folder: str | os.PathLike, out: str | os.PathLike, methods: Sequence[str],
                     recommender: Callable[[], object] | None = None, pairwise: dict | None = None,
                     limit: int | None = None, progress: bool = True) -> dict:
    """Run `methods` on the benchmark in `folder`; write out/metrics.json and out/ranks.jsonl.

    `recommender` is called (once, after every input is checked) to get the LLM's Recommender;
    `pairwise[name](train, valid, pairs)` returns (scores of the flat list of pairs, record extras).
    """
    from ..core.io import check_writable, write_files_atomic

    methods = _checked(methods, recommender, pairwise)
    lines = load_lists(folder, limit)
    valid_lines = load_lists(folder, limit, "valid.jsonl") if "pipeline" in methods else []
    data = str(Path(folder) / "test.jsonl")
    # popularity counts: a method, and the diagnostic of every record when train.json is there
    needs_train = bool(set(methods) - {"llm", "random"}) or (Path(folder) / "train.json").is_file()
    train = load_samples(Path(folder) / "train.json") if needs_train else []
    valid = (load_samples(Path(folder) / "valid.json") if set(methods) - {"llm", "random", "popularity", "pipeline"}
             else [])
    check_writable(out)
    records, ranks, cache = {}, {}, {}
    pop = popularity_scores(train, lines) if train else None

    def llm(which: str, part: Sequence[UserLine]) -> list[list[float]]:
        """The LLM's P(Yes) of every candidate of `part`, scored once (the llm and pipeline rows share them)."""
        if "rec" not in cache:
            cache["rec"] = refuse_collm(recommender())
        if which not in cache:
            cache[which] = cache["rec"].score_many([(u.as_user, u.candidates) for u in part], progress=progress)
        return cache[which]

    for m in methods:
        t0 = time.perf_counter()
        if m == "random":
            records[m] = ranking_record(random_expected([len(u.candidates) for u in lines]), n=len(lines),
                                        model="random (expected value)", data=data, seconds=0.0)
            continue
        if m == "llm":
            scores = llm("test", lines)
            meta = {"model": cache["rec"].lm.name, "adapter": cache["rec"].adapter}
        elif m == "popularity":
            scores, meta = pop, {"model": "popularity (train.json targets)"}
        elif m == "pipeline":
            scores, meta = pipeline_scores(train, valid_lines, lines, llm("valid", valid_lines), llm("test", lines))
            meta.update({"llm": cache["rec"].lm.name, "adapter": cache["rec"].adapter})
        else:
            flat, extra = pairwise[m](train, valid, [s for u in lines for s in pair_samples(u)])
            scores, meta = split_flat(flat, lines), {"model": m, **extra}
        records[m], ranks[m] = _record(m, lines, [list(map(float, s)) for s in scores], data,
                                       time.perf_counter() - t0, pop=pop, **meta)
    if "pipeline" in ranks:
        base = ranks.get("popularity") or [target_rank(s, u.target_index) for u, s in zip(lines, pop)]
        records["pipeline"]["minus_popularity"] = versus(ranks["pipeline"], base)
    summary = {"data": data, "lists": len(lines), "candidates": sum(len(u.candidates) for u in lines),
               "methods": records}
    rows = [json.dumps({"index": i, "user": u.user, "target": dump_item(u.candidates[u.target_index]),
                        "ranks": {m: r[i] for m, r in ranks.items()}}) for i, u in enumerate(lines)]
    write_files_atomic(out, {"metrics.json": (json.dumps(summary, indent=2) + "\n").encode(),
                             "ranks.jsonl": ("\n".join(rows) + "\n").encode()})
    return summary
