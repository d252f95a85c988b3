"""Recommend from a catalogue: retrieve the top N items, rerank them with the LLM through the blend.

A recommender folder (`build_recommender_folder`, written atomically) holds

    catalogue.csv   id,title of every item (UTF-8); ids are the log's own (str ids: a row per line)
    retriever/      the fitted retriever (retrievers.py: retriever.json + its state)
    popularity.npz  item counts: the fallback for a user with no history
    blend.json      how retriever and LLM scores combine (blend.py; default: the retriever alone)
    config.json     retriever, n, the TALLRec history rule, the log it was fitted on (path, format,
                    `Interactions.checksum()`), how ids map to score rows, the adapter

`load_recommender_folder(path)` gives a `CataloguePipeline`:

    pipe.retrieve(history_ids, n=20)   -> Retrieval(ids, scores, titles, stage, note, history); rated items
                                          excluded, each title once
    pipe.combine(retriever_scores, p_yes) -> final scores (the blend)
    pipe.search("star", limit=20)      -> [{"id", "title"}] titles holding the text, most popular first
    pipe.recommend(history, liked, score=fn, k=10) -> Recommendation (items best first, stage, note;
                                          each item's `because`: the history titles that led the
                                          retriever to it, item-kNN only)

`score(liked_titles, disliked_titles, candidate_titles) -> [P(Yes)]` is the LLM step (e.g.
`lambda l, d, c: recommender.score(l, d, c)`); it is called only when the blend uses the LLM. The
LLM sees the TALLRec history: the last 10 items of the history, split by their liked flag.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import DataError
from ..data.builders.sequences import TALLREC_HISTORY
from .blend import Blend
from .retrievers import Popularity, Retriever, check_history, load_retriever

FORMAT = "tallrec-recommender/1"
DEFAULT_N = 20
Scorer = Callable[[list[str], list[str], list[str]], Sequence[float]]


def read_catalogue(path: str | os.PathLike) -> dict[int, str]:
    """item id -> title from a MovieLens u.item (ISO-8859-1) or a UTF-8 CSV with columns id,title."""
    from ..data.builders.movielens import read_titles
    from ..data.builders.windows import LINE, numbers, read_table

    p = Path(path)
    if p.is_dir():
        p = p / "u.item"
    if p.suffix.lower() != ".csv":
        titles = read_titles(p)
    else:
        df = read_table(p, sep=",", encoding="utf-8-sig", header=True, what="catalogue CSV")
        missing = [c for c in ("id", "title") if c not in df.columns]
        if missing:
            raise DataError(f"{p}: catalogue needs columns id,title (missing {', '.join(missing)})")
        ids = numbers(df, "id", p, integer=True)
        titles = {}
        for i, title, line in zip(ids.tolist(), df["title"], df[LINE]):
            if i in titles:
                raise DataError(f"{p}: line {line}: item id {i} appears twice")
            titles[int(i)] = title
    empty = [i for i, t in titles.items() if not str(t).strip()]
    if empty:
        raise DataError(f"{p}: item {empty[0]} has no title ({len(empty)} items without one)")
    bad = [i for i in titles if i < 1]
    if bad:
        raise DataError(f"{p}: item ids must be positive integers, got {bad[0]}")
    return titles


def catalogue_csv(titles: dict[int, str], item_ids: Sequence | None = None) -> bytes:
    """id,title in row order; `item_ids` (row -> source id) writes the source's ids instead of rows."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "title"])
    for i in sorted(titles):
        w.writerow([i if item_ids is None else item_ids[i], titles[i]])
    return buf.getvalue().encode()


def read_source_catalogue(path: Path) -> tuple[dict[int, str], tuple]:
    """A catalogue.csv whose ids are the source's own strings: (row -> title, row -> id), row = line."""
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: unreadable catalogue ({str(e).splitlines()[0]})") from None
    if list(df.columns[:2]) != ["id", "title"] or df.empty or df["id"].duplicated().any():
        raise DataError(f"{path}: catalogue needs columns id,title and one line per distinct id")
    return dict(zip(range(1, len(df) + 1), df["title"].tolist())), (None, *df["id"].tolist())


@dataclass
class Retrieval:
    """Top candidates of one user; unpacks as (ids, scores)."""

    ids: list[int]
    scores: list[float]
    titles: list[str]
    stage: str        # "retriever" or "popularity-fallback"
    note: str = ""
    history: list[int] = field(default_factory=list)   # the history's item ids, oldest first
    rows: list[int] = field(default_factory=list)      # the candidates' catalogue rows (ids are the source's)

    def __iter__(self):
        return iter((self.ids, self.scores))


@dataclass
class Recommendation:
    items: list[dict]           # {"id", "title", "score", "retriever_score", "p_yes", "because"} best first
    stage: str                  # "retriever", "retriever+llm" or "popularity-fallback"
    note: str = ""
    candidates: int = 0


@dataclass
class CataloguePipeline:
    titles: dict[int, str]
    retriever: Retriever
    popularity: Popularity
    blend: Blend = field(default_factory=Blend)
    n: int = DEFAULT_N
    adapter: str | None = None
    config: dict = field(default_factory=dict)
    item_ids: tuple | None = None   # row -> the source's id (str ids); None: the ids are the rows

    def __post_init__(self):
        self.rows = self.retriever.rows
        self.by_source = {} if self.item_ids is None else {v: r for r, v in enumerate(self.item_ids) if r}
        self.known = np.zeros(self.rows, dtype=bool)
        ids = [i for i in self.titles if i < self.rows]
        self.known[ids] = True
        self.by_title: dict[str, int] = {}
        for i in sorted(self.titles):  # a title held by two ids resolves to the lower id
            self.by_title.setdefault(self.titles[i], i)
        # Recommend each title once (u.item holds a few titles under two ids): the lower id.
        self.rankable = np.zeros(self.rows, dtype=bool)
        self.rankable[list(self.by_title.values())] = True
        self.folded = [(t.casefold(), i) for t, i in self.by_title.items()]

    def search(self, query: str, limit: int = 20) -> list[dict]:
        """Up to `limit` items {"id", "title"} whose title holds `query` (case-insensitive; every
        item for an empty query), the most popular first, then by title."""
        q = " ".join(query.split()).casefold()
        hits = [i for t, i in self.folded if q in t]
        hits.sort(key=lambda i: (-float(self.popularity.counts[i]), self.titles[i]))
        return [{"id": i, "title": self.titles[i]} for i in hits[:limit]]

    def item_id(self, item: Any, where: str = "item") -> int:
        """The catalogue id of an id, a title or an {"id", "title"} record; DataError if unknown."""
        if isinstance(item, dict):
            item = item["id"] if "id" in item else item.get("title")
        if self.item_ids is not None and item in self.by_source:
            return self.by_source[item]
        if isinstance(item, str) or self.item_ids is not None:
            if item not in self.by_title:
                raise DataError(f"{where}: {str(item)[:80]!r} is not in the catalogue")
            return self.by_title[item]
        try:
            return check_history([item], self.rows, self.known)[0]
        except DataError as e:
            raise DataError(f"{where}: {e}") from None

    def retrieve(self, history: Sequence[Any], n: int | None = None) -> Retrieval:
        """The `n` best unrated catalogue items for a history (ids, titles or records, oldest first)."""
        n = self.n if n is None else n
        if n < 1:
            raise DataError(f"n must be at least 1, got {n}")
        ids = [self.item_id(h, f"history[{k}]") for k, h in enumerate(history)]
        if ids:
            scores, stage, note = self.retriever.scores(ids), "retriever", ""
        else:
            scores, stage = self.popularity.scores(ids), "popularity-fallback"
            note = "no history: the most popular items"
        ranked = self.rankable.copy()
        ranked[[self.by_title[self.titles[i]] for i in ids]] = False   # a rated title, under either id
        from .loo import top_n

        top = top_n(scores, ranked, n)
        rows = [int(i) for i in top]
        out = rows if self.item_ids is None else [self.item_ids[i] for i in rows]   # the source's own ids
        return Retrieval(out, [float(scores[i]) for i in rows], [self.titles[i] for i in rows], stage, note, ids,
                         rows)

    def combine(self, retriever_scores: Sequence[float], p_yes: Sequence[float] | None) -> np.ndarray:
        return self.blend.combine(retriever_scores, p_yes)

    def tallrec_history(self, history: Sequence[Any], liked: Sequence[bool]) -> tuple[list[str], list[str]]:
        """(liked titles, disliked titles) of the last 10 history items, oldest first."""
        if len(liked) != len(history):
            raise DataError(f"liked flags ({len(liked)}) must match the history ({len(history)})")
        pairs = list(zip(history, liked))[-TALLREC_HISTORY:]
        titles = [(self.titles[self.item_id(h)], bool(f)) for h, f in pairs]
        return [t for t, f in titles if f], [t for t, f in titles if not f]

    def recommend(self, history: Sequence[Any], liked: Sequence[bool] | None = None, score: Scorer | None = None,
                  k: int = 10, n: int | None = None) -> Recommendation:
        """Top `k`: the retriever's `n` candidates, reranked by the blend when it uses the LLM."""
        r, ask = self.candidates(history, liked, k, n)
        p_yes = None if ask is None or score is None else [float(x) for x in score(*ask, r.titles)]
        return self.finish(r, p_yes, k, note="no LLM scorer given: retriever order" if ask and score is None else "")

    def candidates(self, history: Sequence[Any], liked: Sequence[bool] | None, k: int,
                   n: int | None = None) -> tuple[Retrieval, tuple[list[str], list[str]] | None]:
        """Step 1 of `recommend`: the retrieval, and the (liked, disliked) TALLRec history to score its
        titles with when the blend uses the LLM (else None). The server awaits the LLM in between."""
        if k < 1:
            raise DataError(f"k must be at least 1, got {k}")
        if n is not None and self.blend.uses_llm and n != self.blend.n:
            raise DataError(f"n {n}: this folder's blend was fitted for the retriever's top {self.blend.n}; "
                            f"give n={self.blend.n} or rebuild the folder with --n {n}")
        liked = [True] * len(history) if liked is None else list(liked)
        r = self.retrieve(history, n)
        ask = self.tallrec_history(history, liked) if r.stage == "retriever" and self.blend.uses_llm else None
        return r, ask

    def finish(self, r: Retrieval, p_yes: Sequence[float] | None, k: int, note: str = "") -> Recommendation:
        """Step 2 of `recommend`: the blend of the retriever's scores and the LLM's P(Yes), top `k`."""
        stage, note = r.stage, note or r.note
        if p_yes is not None:
            if len(p_yes) != len(r.ids):
                raise DataError(f"the LLM scorer returned {len(p_yes)} scores for {len(r.ids)} candidates")
            stage = "retriever+llm"
        elif r.stage == "retriever" and not self.blend.uses_llm:
            note = "blend keeps the retriever alone"
        final = self.combine(r.scores, p_yes) if p_yes is not None else np.asarray(r.scores)
        order = np.argsort(-final, kind="stable")[:k]
        why = self.retriever.because(r.history, [r.rows[i] for i in order]) if r.history else [[] for _ in order]
        items = [{"id": r.ids[i], "title": r.titles[i], "score": float(final[i]), "retriever_score": r.scores[i],
                  "p_yes": None if p_yes is None else p_yes[i], "because": [self.titles[h] for h in w]}
                 for i, w in zip(order, why)]
        return Recommendation(items, stage, note, len(r.ids))


def with_titles(split, catalogue: str | os.PathLike | None):
    """The split with the titles of an id,title CSV (`--items`) instead of the log's own."""
    from ..data.builders.sequences import LeaveOneOut

    if catalogue is None:
        return split
    if split.item_ids is not None:
        raise DataError(f"{catalogue}: a catalogue CSV replaces titles of integer item ids only; this log's ids "
                        "are strings (give the titles in the log's item table)")
    titles = read_catalogue(catalogue)
    missing = sorted({i for u in split.users for i in u.items} - set(titles))
    if missing:
        raise DataError(f"{catalogue}: item {missing[0]} of the interactions has no title ({len(missing)} missing)")
    return LeaveOneOut(split.users, titles, split.skipped, None, split.source, split.checksum)


def build_recommender_folder(out: str | os.PathLike, data, retriever: str = "itemknn",
                             settings: dict | None = None, catalogue: str | os.PathLike | None = None,
                             blend: Blend | str | os.PathLike | None = None, adapter: str | os.PathLike | None = None,
                             n: int = DEFAULT_N, format: str | None = None, fit_blend_on: int | None = None,
                             scorer: Callable[[], Callable] | None = None) -> Path:
    """Fit `retriever` on the training parts of the leave-one-out split of `data` (an `Interactions`
    table, or a log path read through `read_log` as `format`) and write the recommender folder `out`
    atomically; settings not given are chosen on validation. `catalogue` is a CSV of item titles
    (id,title; `--items` of the command). With `fit_blend_on` users, `scorer` and no `blend`, the
    blend of the retriever and the LLM's P(Yes) is fitted and gated on those users' validation stage
    (blend_fit.py); `scorer()` is called once the retriever is fitted and returns score(liked,
    disliked, candidates) (recommender.llm_scorer: the model loads only then)."""
    from ..core.io import atomic_dir, check_writable
    from ..data.builders.sequences import leave_one_out
    from ..data.interactions import Interactions
    from .retrievers import fit_on_split

    if n < 1:
        raise DataError(f"n must be at least 1, got {n}")
    check_writable(out)
    if not isinstance(data, Interactions):
        from ..data.readers import read_log

        if not Path(data).exists():
            raise DataError(f"{data}: no such file or folder (expected an interaction log)")
        data = read_log(data, format)
    split = with_titles(leave_one_out(data), catalogue)
    titles = split.titles
    if blend is not None and not isinstance(blend, Blend):
        blend = Blend.load(blend)
    if blend is not None and blend.uses_llm and blend.n != n:
        raise DataError(f"the blend was fitted for {blend.n} candidates, not --n {n}: refit it for {n}")
    untuned = adapter is not None and str(adapter) == "none"
    adapter = None if untuned else adapter
    if adapter is not None:
        from ..llm.adapters import find_adapter

        find_adapter(adapter)  # a missing or wrong folder is refused before any fitting
    fitted, selection = fit_on_split(retriever, split, settings)
    if blend is None and fit_blend_on and scorer is not None:
        from .blend_fit import fit_validation_blend

        blend = fit_validation_blend(split, fitted, scorer(), n, fit_blend_on)
    blend = blend or Blend(n=n, fitted={"kept": "retriever (no blend given)"})
    pop = Popularity().fit(split.train_sequences(), split.rows)
    config = {"format": FORMAT, "retriever": retriever, "settings": fitted.settings(), "selection": selection,
              "n": n, "tallrec_history": TALLREC_HISTORY, "like_above": 3, "items": len(titles),
              **source_record(data, format), "item_ids": "rows" if split.item_ids is None else "source",
              "fitted_on": "training parts of the leave-one-out split (last two ratings per user held out)",
              "adapter": None if adapter is None else str(Path(adapter).resolve())}
    with atomic_dir(out) as tmp:
        (tmp / "catalogue.csv").write_bytes(catalogue_csv(titles, split.item_ids))
        fitted.save(tmp / "retriever")
        np.savez(tmp / "popularity.npz", counts=pop.counts)
        blend.save(tmp / "blend.json")
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return Path(out)


def source_record(log, format: str | None) -> dict:
    """What config.json says of the log: its path, format, `Interactions.checksum()`, and the
    sha256 of MovieLens-100K's files when the log is that folder (as before)."""
    from ..core.io import sha256_file

    raw = Path(log.source) if log.source else None
    files = {f: sha256_file(raw / f) for f in ("u.data", "u.item")
             if raw is not None and raw.is_dir() and (raw / f).is_file()}
    return {"data": log.source, "data_format": format, "data_checksum": log.checksum(), "data_sha256": files}


def load_recommender_folder(path: str | os.PathLike) -> CataloguePipeline:
    from ..core.io import read_json

    p = Path(path)
    if not (p / "config.json").is_file():
        raise DataError(f"{p}: not a recommender folder (no config.json; `tallrec recommend build` writes one)")
    config = read_json(p / "config.json")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise DataError(f"{p / 'config.json'}: not a {FORMAT} config")
    item_ids = None
    if config.get("item_ids") == "source":
        titles, item_ids = read_source_catalogue(p / "catalogue.csv")
    else:
        titles = read_catalogue(p / "catalogue.csv")
    retriever = load_retriever(p / "retriever")
    pop = Popularity()
    pop.rows = retriever.rows
    pop._load_state(p)
    if len(pop.counts) != retriever.rows or max(titles) >= retriever.rows:
        raise DataError(f"{p}: catalogue, retriever and popularity disagree on the item ids")
    return CataloguePipeline(titles, retriever, pop, Blend.load(p / "blend.json"), int(config.get("n", DEFAULT_N)),
                             config.get("adapter"), config, item_ids)
