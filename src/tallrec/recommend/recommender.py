"""`tallrec.Recommender`: score, rank and evaluate with a (possibly rec-tuned) causal LM.

    import tallrec
    rec = tallrec.load("runs/k64")                  # a run folder, an adapter folder, or None (untuned)
    user = tallrec.User(liked=["Heat (1995)"], disliked=["Babe (1995)"])
    rec.score(user, ["Casino (1995)", "Fargo (1996)"])   # [P(Yes), ...] in input order
    rec.rank(user, ["Casino (1995)", "Fargo (1996)"])    # [RankedItem(item, p_yes, index), ...] best first
    rec.evaluate(samples)                           # the common metrics record (AUC, ...)

The prompt style, cutoff, item noun and quoting are the adapter's own, as recorded beside it when it
was trained (tallrec-base.json). Ranking uses the shared-user-prefix engine (prefix_engine.py),
whose scores equal the one-pass scorer's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..core.defaults import DEFAULT_BATCH_SIZE, DEFAULT_CUTOFF, DEFAULT_MODEL
from ..data.samples import Sample
from ..data.users import Item, ItemLike, User, as_candidates, as_user, title
from .prefix_engine import PrefixEngine
from .records import RankedItem, RecommendedItem, ranked


def base_model(adapters: Iterable[Path | None], model: str | None = None) -> str:
    """`model`, else the base recorded beside the first adapter by `tallrec train`, else the default."""
    from ..llm.adapters import adapter_meta

    if model:
        return model
    for folder in adapters:
        if folder is not None and adapter_meta(folder).get("name"):
            return adapter_meta(folder)["name"]
    return DEFAULT_MODEL


class Recommender:
    """Scores and ranks candidate items for users; see the module docstring. Build one with
    `tallrec.load` (or `Recommender.load`); `Recommender.on(lm, adapter)` wraps a model already loaded."""

    def __init__(self, lm, cutoff: int = DEFAULT_CUTOFF, batch_size: int = DEFAULT_BATCH_SIZE, domain: str = "movie",
                 quote_history: bool = True, adapter: str | None = None, catalogue=None):
        from ..llm.calibration import load_calibration
        from ..llm.encoding import lm_template

        self.lm = lm
        self.adapter = adapter
        self.catalogue = catalogue  # a CataloguePipeline (recommend/catalogue.py), for `recommend`
        # calibration.json beside the adapter (`tallrec calibrate`): P(Yes) is mapped through it, a
        # monotone map, so rankings are unchanged and the probabilities are calibrated.
        self.calibration = load_calibration(adapter)
        self.domain, self.quote_history = domain, quote_history
        self.engine = PrefixEngine(lm.model, lm.tokenizer, lm_template(lm), cutoff, batch_size)

    @property
    def cutoff(self) -> int:
        return self.engine.cutoff

    @classmethod
    def load(cls, run: str | os.PathLike | None = None, *, model: str | None = None, device: str | None = None,
             precision: str = "auto", batch_size: int = DEFAULT_BATCH_SIZE, cutoff: int | None = None,
             domain: str = "movie", catalogue: str | os.PathLike | None = None) -> Recommender:
        """The base model (`model`: a registry name, HF folder or .gguf file; default: the adapter's
        base, else smollm2-135m) with the run's adapter merged in (over a base quantized as it was
        trained: unmerged, llm.adapters.load_base), or the untuned model for None or "none".
        `cutoff` defaults to the adapter's training cutoff (else DEFAULT_CUTOFF); `domain` is the
        item noun of the prompt when the adapter recorded none (an untuned model asked about books
        needs "book"). `catalogue` is a recommender folder (`tallrec recommend build`) for
        `recommend`; with `run` None, the adapter it names (if any) is the one loaded."""
        from ..llm.adapters import check_adapter_base, find_adapter, load_base, with_adapter
        from .catalogue import load_recommender_folder

        pipe = None if catalogue is None else load_recommender_folder(catalogue)
        untuned = run is not None and str(run) == "none"
        folder = None if untuned else find_adapter(run if run is not None or pipe is None else pipe.adapter)
        lm = load_base(base_model([folder], model), [folder], precision, device)
        if folder is not None:
            check_adapter_base(folder, lm)
        rec = cls.on(with_adapter(lm, folder), folder, batch_size=batch_size, cutoff=cutoff, domain=domain)
        rec.catalogue = pipe
        return rec

    @classmethod
    def on(cls, lm, adapter: Path | None, *, batch_size: int = DEFAULT_BATCH_SIZE, cutoff: int | None = None,
           domain: str = "movie") -> Recommender:
        """A Recommender over `lm`, which already runs `adapter` (None: the untuned model), prompting
        as the adapter was trained (`domain` is the item noun when it recorded none)."""
        from ..llm.adapters import adapter_settings

        s = adapter_settings(adapter)
        return cls(lm, cutoff=cutoff or s.get("cutoff", DEFAULT_CUTOFF), batch_size=batch_size,
                   domain=s.get("domain", domain), quote_history=s.get("quote_history", True),
                   adapter=None if adapter is None else str(adapter))

    def _pair(self, user: User | dict, candidates: Sequence[ItemLike], where: str) -> tuple[Sample, list[ItemLike]]:
        u = as_user(user, f"{where}: user" if where else "user")
        return u.sample(self.domain, self.quote_history), as_candidates(candidates, f"{where}: candidates"
                                                                         if where else "candidates")

    def score(self, user: User | dict, candidates: Sequence[ItemLike]) -> list[float]:
        """P(Yes) of each candidate, in the order given."""
        sample, items = self._pair(user, candidates, "")
        return self._calibrated(self.engine.score(sample, [title(c) for c in items]))

    def _calibrated(self, raw) -> list[float]:
        return [float(x) for x in (raw if self.calibration is None else self.calibration.apply(raw))]

    def rank(self, user: User | dict, candidates: Sequence[ItemLike], k: int | None = 10) -> list[RankedItem]:
        """The top `k` candidates (all when k is None), best first; ties keep input order. Each
        RankedItem's `item` is an Item (a bare title given becomes Item(title=...))."""
        items = as_candidates(candidates)
        return ranked(as_items(items), self.score(user, items), k)

    def score_many(self, requests: Iterable[tuple[User | dict, Sequence[ItemLike]]],
                   progress: bool = False) -> list[list[float]]:
        """`score` for each (user, candidates) pair; every pair is checked before any scoring."""
        pairs = [self._pair(u, c, f"request {i}") for i, (u, c) in enumerate(requests)]
        scored = self.engine.score_many([(s, [title(c) for c in items]) for s, items in pairs], progress=progress)
        return [self._calibrated(s) for s in scored]

    def rank_many(self, requests: Iterable[tuple[User | dict, Sequence[ItemLike]]], k: int | None = 10,
                  progress: bool = False) -> list[list[RankedItem]]:
        requests = list(requests)
        return [ranked(as_items(as_candidates(c)), s, k)
                for (_, c), s in zip(requests, self.score_many(requests, progress))]

    def recommend(self, user: User | dict, k: int = 10, n: int | None = None) -> list[RecommendedItem]:
        """The top `k` catalogue items the user has not rated: the retriever's top `n` (the folder's
        setting, 20 by default), reranked through the blend fitted on validation users (which keeps
        the retriever's order unless the LLM's gain there was significant). A user with no history
        gets the most popular items, and each record says so."""
        from ..core.errors import DataError

        if self.catalogue is None:
            raise DataError("recommend needs a catalogue: tallrec.load(..., catalogue=FOLDER) with a folder "
                            "written by `tallrec recommend build`")
        return recommend_from(self.catalogue, user, k=k, n=n, score=self._score_titles)

    def _score_titles(self, liked: list[str], disliked: list[str], candidates: list[str]) -> list[float]:
        return self.score(User(liked=liked, disliked=disliked), candidates)

    def evaluate(self, samples: Sequence[Sample], data: str = "samples", out: str | os.PathLike | None = None,
                 **extra: Any) -> dict:
        """The common metrics record (AUC, n, ...) of labelled samples, scored in the adapter's prompt
        style at its cutoff; with `out`, metrics.json and scores.jsonl are written there too."""
        from ..llm.evaluation import evaluate
        from ..llm.scoring import ScoreOptions

        return evaluate(self.lm, samples, out, data=data, adapter=self.adapter,
                        options=ScoreOptions(batch_size=self.engine.batch_size, cutoff=self.cutoff), **extra)


def llm_scorer(run: str | os.PathLike | None, **load_options: Any):
    """score(liked titles, disliked titles, candidates) -> P(Yes) list of `Recommender.load(run,
    **load_options)`: the LLM step a catalogue blend is fitted with (`recommend build --adapter`)."""
    rec = Recommender.load(run, **load_options)

    def score(liked: list[str], disliked: list[str], candidates: Sequence[ItemLike | dict]) -> list[float]:
        return rec.score(User(liked=liked, disliked=disliked), candidates)

    return score


def as_items(items: Sequence[ItemLike]) -> list[Item]:
    """Each candidate as an Item (a bare title becomes Item(title=...))."""
    return [x if isinstance(x, Item) else Item(title=x) for x in items]


def recommend_from(pipe, user: User | dict, k: int = 10, n: int | None = None,
                   score=None) -> list[RecommendedItem]:
    """`Recommender.recommend` on a recommender folder's pipeline (recommend/catalogue.py); `score`
    is the LLM step, needed only when the folder's blend uses the LLM (`tallrec recommend` loads no
    model otherwise)."""
    u = as_user(user)
    # A User has no timestamps: the liked items go last, so the retriever's recency window (its
    # last L items) follows what the user liked; every rated item is still excluded.
    history = [title(t) for t in u.disliked] + [title(t) for t in u.liked]
    liked = [False] * len(u.disliked) + [True] * len(u.liked)
    rec = pipe.recommend(history, liked, score=score, k=k, n=n)
    return [RecommendedItem(item={"title": x["title"], "id": x["id"]}, score=x["score"],
                            retriever_score=x["retriever_score"], p_yes=x["p_yes"], stage=rec.stage,
                            note=rec.note, because=x["because"]) for x in rec.items]


def load(run: str | os.PathLike | None = None, *, model: str | None = None, device: str | None = None,
         precision: str = "auto", batch_size: int = DEFAULT_BATCH_SIZE, cutoff: int | None = None,
         domain: str = "movie", catalogue: str | os.PathLike | None = None) -> Recommender:
    """`tallrec.load`: a Recommender for a run folder, an adapter folder, or None / "none" (the
    untuned base model); the Python twin of the scoring commands, taking what `Recommender.load`
    takes. `model` overrides the base model, `device` ("cpu", "cuda", ...) and `precision`
    ("auto", "fp32", "bf16", "fp16") how it is held, `batch_size` the sequences per forward pass,
    `cutoff` the prompt limit (default: the adapter's training cutoff), `domain` the item noun
    for an adapter that recorded none; `catalogue` (a recommender folder from `tallrec recommend
    build`) lets it `recommend` from the whole catalogue."""
    return Recommender.load(run, model=model, device=device, precision=precision, batch_size=batch_size,
                            cutoff=cutoff, domain=domain, catalogue=catalogue)
