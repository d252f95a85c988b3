"""Data path at MovieLens-25M scale: read, filter, split, item-kNN fit and recommend, each timed
with the process's peak memory after it.

The log is synthetic and seeded, shaped like MovieLens-25M at --scale 1 (25,000,000 ratings,
162,000 users, 59,000 items): every user has at least 20 ratings, user activity is heavy-tailed
(lognormal, a few users rate thousands of items), item popularity long-tailed (Zipf-like), ratings
half stars. It is written first (in a child process, so its memory is not counted) as ML-25M's
`ratings.csv` (userId,movieId,rating,timestamp) and `movies.csv` (movieId,title,genres), then:

* read: ratings.csv + movies.csv -> Interactions (pandas `read_csv`, --engine c (default) or pyarrow;
  like = rating > 3);
* filter: 5-core (tallrec.data.filters.kcore);
* split: leave-one-out (tallrec.data.builders.sequences.leave_one_out);
* knn_fit: sparse item-kNN on the training parts, --neighbours per item (recommend/knn.py);
* recommend: the retriever-only `CataloguePipeline.retrieve` (top 20 unrated items) for 1,000
  seeded users' test histories: ms_per_user.

    python benchmarks/data_bench.py --json OUT [--scale 0.01] [--workdir DIR] [--engine pyarrow]

`stages.<name>.peak_rss_bytes` is the absolute peak RSS of the process after the stage
(getrusage ru_maxrss), so it never decreases from one stage to the next; `cpu_seconds` is the
process's CPU time in the stage (on a shared machine, wall `seconds` include waiting for a core).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FULL = {"ratings": 25_000_000, "users": 162_000, "items": 59_000}
MIN_PER_USER = 20
STARS = np.arange(1, 11) / 2                       # 0.5 .. 5.0
STAR_P = np.array([1.6, 3.3, 2.0, 6.6, 4.9, 19.6, 12.0, 26.6, 8.0, 15.4])   # ML-25M-like shares (%)
T0, T1 = 789_652_009, 1_574_327_703               # ML-25M's first and last timestamps


def sizes(scale: float) -> dict:
    s = {k: max(1, round(v * scale)) for k, v in FULL.items()}
    s["items"] = max(s["items"], 2 * MIN_PER_USER)
    cap = max(MIN_PER_USER, s["items"] // 2)
    s["ratings"] = min(max(s["ratings"], s["users"] * MIN_PER_USER), s["users"] * cap)   # tiny scales
    return s


def activity(rng, users: int, ratings: int, items: int) -> np.ndarray:
    """Ratings per user: 20 + a lognormal share of the rest, capped at half the catalogue."""
    cap = max(MIN_PER_USER, items // 2)
    w = rng.lognormal(0.0, 1.4, users)
    n = np.full(users, MIN_PER_USER, dtype=np.int64)
    rest = ratings - n.sum()
    while rest > 0:
        room = cap - n
        share = np.where(room > 0, w, 0.0)
        add = np.minimum(room, np.floor(rest * share / share.sum()).astype(np.int64))
        if add.sum() == 0:
            add[np.flatnonzero(room > 0)[:rest]] = 1
        n += add
        rest = ratings - n.sum()
    return n


def draw_items(rng, n: np.ndarray, items: int) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) pairs, each user's items distinct: a first draw by Zipf-like popularity
    (exponent 1), then the users still short topped up uniformly (converges: cap <= half the items)."""
    p = 1.0 / (np.arange(items) + 10.0)
    cdf = np.cumsum(p / p.sum())
    ids = rng.permutation(items) + 1                # popularity rank -> movieId
    user = np.repeat(np.arange(len(n)), n + n // 4)
    item = ids[np.minimum(np.searchsorted(cdf, rng.random(len(user))), items - 1)]
    user, item = distinct(user, item, n, items)
    short = np.flatnonzero(np.bincount(user, minlength=len(n)) < n)
    while len(short):
        mine = np.isin(user, short)
        need = n[short] - np.bincount(user[mine], minlength=len(n))[short]
        u_new = np.repeat(short, 2 * need + 4)
        i_new = rng.integers(1, items + 1, len(u_new))
        u2, i2 = distinct(np.concatenate([user[mine], u_new]), np.concatenate([item[mine], i_new]), n, items)
        user, item = np.concatenate([user[~mine], u2]), np.concatenate([item[~mine], i2])
        short = short[np.bincount(u2, minlength=len(n))[short] < n[short]]
    return user, item


def distinct(user, item, n, items):
    """The pairs without repeats (earlier first), at most n[user] per user, grouped by user."""
    _, first = np.unique(user * (items + 1) + item, return_index=True)
    first.sort()
    user, item = user[first], item[first]
    order = np.argsort(user, kind="stable")
    user, item = user[order], item[order]
    starts = np.r_[0, np.flatnonzero(np.diff(user)) + 1]
    rank = np.arange(len(user)) - np.repeat(starts, np.diff(np.r_[starts, len(user)]))
    keep = rank < n[user]
    return user[keep], item[keep]


def generate(folder: Path, scale: float, seed: int) -> dict:
    """Write ratings.csv and movies.csv in ML-25M's format; returns the sizes written."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    s = sizes(scale)
    rng = np.random.default_rng(seed)
    n = activity(rng, s["users"], s["ratings"], s["items"])
    user, item = draw_items(rng, n, s["items"])
    start = rng.integers(T0, T1, len(n))
    span = np.minimum(T1 - start, rng.exponential(3e7, len(n)).astype(np.int64) + 3600)
    ts = start[user] + (rng.random(len(user)) * span[user]).astype(np.int64)
    order = np.lexsort((ts, user))                  # ML-25M's order: by user, then time
    star = rng.choice(len(STARS), size=len(user), p=STAR_P / STAR_P.sum())
    labels = pa.array([f"{x:.1f}" for x in STARS])
    table = pa.table({"userId": user[order] + 1, "movieId": item[order],
                      "rating": pa.DictionaryArray.from_arrays(star[order].astype(np.int8), labels).cast(pa.string()),
                      "timestamp": ts[order]})
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "ratings.csv", "wb") as f:
        f.write(b"userId,movieId,rating,timestamp\n")
        pacsv.write_csv(table, f, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    genres = np.array(["Drama", "Comedy", "Action|Thriller", "Romance|Drama", "Horror", "Documentary"])
    ids = np.arange(1, s["items"] + 1)
    pd.DataFrame({"movieId": ids, "title": [f"Movie {i} ({1950 + i % 70})" for i in ids],
                  "genres": genres[ids % len(genres)]}).to_csv(folder / "movies.csv", index=False)
    written = {**s, "written_ratings": int(len(user)), "max_per_user": int(n.max()), "median_per_user": int(np.median(n))}
    (folder / "gen.json").write_text(json.dumps({"scale": scale, "seed": seed, **written}) + "\n")
    return written


def read_ml25m(folder: Path, engine: str):
    """ratings.csv + movies.csv -> Interactions (the other readers live in tallrec.data.readers)."""
    import pandas as pd

    from tallrec.data.interactions import Interactions

    r = pd.read_csv(folder / "ratings.csv", engine=engine,
                    dtype={"userId": "int64", "movieId": "int64", "rating": "float64", "timestamp": "int64"})
    m = pd.read_csv(folder / "movies.csv", engine=engine, dtype={"movieId": "int64", "title": str})
    items = pd.DataFrame({"item": m["movieId"].to_numpy(), "title": m["title"].to_numpy(object), "text": ""})
    rating = r["rating"].to_numpy()
    return Interactions.from_columns(r["userId"].to_numpy(), r["movieId"].to_numpy(), rating, rating > 3,
                                     r["timestamp"].to_numpy(), items, source=str(folder))


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run(folder: Path, engine: str, neighbours: int, last: int, n_users: int, seed: int) -> dict:
    from tallrec.data.builders.sequences import leave_one_out
    from tallrec.data.filters import kcore
    from tallrec.recommend.catalogue import CataloguePipeline
    from tallrec.recommend.retrievers import ItemKNN, Popularity

    stages, facts = {}, {}

    def stage(name, fn, *args):
        t, c = time.perf_counter(), time.process_time()
        out = fn(*args)
        stages[name] = {"seconds": round(time.perf_counter() - t, 3), "peak_rss_bytes": peak_rss(),
                        "cpu_seconds": round(time.process_time() - c, 3)}
        print(f"{name}: {stages[name]['seconds']} s, peak {stages[name]['peak_rss_bytes'] / 2**30:.2f} GiB",
              file=sys.stderr, flush=True)
        return out

    log = stage("read", read_ml25m, folder, engine)
    facts["events_read"] = len(log.events)
    log = stage("filter", kcore, log, 5, 5)
    facts["events_kept"], facts["items_kept"] = len(log.events), int(len(log.items))
    split = stage("split", leave_one_out, log)
    del log
    facts["users"] = len(split.users)
    knn = stage("knn_fit", ItemKNN(last=last, neighbours=neighbours).fit, split.train_sequences(), split.rows)
    facts["knn_nonzeros"] = int(knn.sim.nnz)
    pipe = CataloguePipeline(split.titles, knn, Popularity().fit([], split.rows))
    users = np.random.default_rng(seed).choice(len(split.users), min(n_users, len(split.users)), replace=False)
    histories = [split.users[k].history("test") for k in users]
    pipe.retrieve(histories[0])                     # warm-up
    got = stage("recommend", lambda hs: [pipe.retrieve(h, 20) for h in hs], histories)
    facts["recommended_users"], facts["mean_history"] = len(got), round(float(np.mean([len(h) for h in histories])), 1)
    return {"stages": stages, "ms_per_user": round(stages["recommend"]["seconds"] * 1000 / len(got), 3), **facts}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, required=True, help="Where to write the result.")
    ap.add_argument("--scale", type=float, default=1.0, help="Fraction of MovieLens-25M's size (default 1).")
    ap.add_argument("--workdir", type=Path, default=None, help="Folder for the generated CSVs (kept; reused).")
    ap.add_argument("--engine", choices=("c", "pyarrow"), default="c",
                    help="pandas read_csv engine (c: faster and 1.1 GiB less than pyarrow on 25M rows, 2 cores).")
    ap.add_argument("--neighbours", type=int, default=200, help="item-kNN neighbours kept per item.")
    ap.add_argument("--last", type=int, default=5, help="item-kNN: history items read.")
    ap.add_argument("--users", type=int, default=1000, help="Users recommended to.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if not 0 < a.scale <= 1 or min(a.neighbours, a.last, a.users) < 1:
        ap.error("--scale must be in (0, 1]; --neighbours, --last and --users at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        folder = a.workdir or Path(tmp)
        if a.generate_only:
            return generate(folder, a.scale, a.seed)
        gen = folder / "gen.json"
        if not _same(gen, a):
            t = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--json", str(a.json), "--scale", str(a.scale), "--seed",
                            str(a.seed), "--workdir", str(folder), "--generate-only"], check=True)
            print(f"generated in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        result = {"benchmark": "data_bench", "scale": a.scale, "engine": a.engine, "neighbours": a.neighbours,
                  "last": a.last, "generated": json.loads(gen.read_text()),
                  **run(folder, a.engine, a.neighbours, a.last, a.users, a.seed)}
    from tallrec.core.io import write_json_atomic

    write_json_atomic(a.json, result)
    print(json.dumps({k: result[k] for k in ("stages", "ms_per_user")}))
    return result


def _same(gen: Path, a) -> bool:
    """The CSVs in --workdir were generated with this scale and seed (so a rerun reuses them)."""
    if not gen.is_file():
        return False
    g = json.loads(gen.read_text())
    return g.get("scale") == a.scale and g.get("seed") == a.seed


if __name__ == "__main__":
    main()
