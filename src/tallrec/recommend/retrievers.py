"""Retrievers: score every catalogue item for a user's history of item ids (oldest first).

All three are fitted on the training parts of the leave-one-out split (data/builders/sequences.py)
and return a score vector indexed by item id (`rows` long; higher = better); the caller removes
the rated items. Each saves its fitted state into a folder and loads back from it.

* popularity: how often each item occurs in the training parts.
* itemknn: item-item cosine of co-occurrence (two items co-occur when one user rated both; binary
  user x item matrix X, sim = X'X / sqrt(n_i n_j), diagonal zeroed); a user's score of item j is
  the sum of sim(i, j) over the last `last` items i of the history. Ties (items no history item
  co-occurs with, most often) are broken by popularity: `TIE` x popularity / (max + 1) is added,
  below any similarity gap that matters. A few lines of scipy.sparse; the `implicit` package
  (installable here) offers the same model on whole user rows, not on the last L items, and
  would add a compiled dependency for nothing.
* sasrec: SASRec (Kang & McAuley 2018) from tallrec.baselines (its IdItems and SASRecEncoder),
  trained the way SASRec trains for next-item retrieval: each user's last `max_len` + 1 training
  items, the output at every position predicts the next item, BCE against one sampled item the
  user never rated in training; score = <user state, item embedding>. The epoch is chosen on the
  validation targets when the caller gives them (`fit(..., valid=...)`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import DataError

TIE = 1e-6
STATE = "retriever.json"


def check_history(history: Sequence[int], rows: int, known: np.ndarray | None = None) -> list[int]:
    """The history as ints; one-line DataError for an id outside the catalogue."""
    out = []
    for i in history:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise DataError(f"history item {i!r} is not an item id (an integer)")
        if not 0 < int(i) < rows or (known is not None and not known[int(i)]):
            raise DataError(f"history item {int(i)} is not in the catalogue")
        out.append(int(i))
    return out


def popularity_counts(sequences: Sequence[Sequence[int]], rows: int) -> np.ndarray:
    counts = np.zeros(rows, dtype=np.float64)
    for s in sequences:
        np.add.at(counts, np.asarray(s, dtype=np.int64), 1.0)
    return counts


class Retriever:
    """Base: `fit(sequences, rows)`, `scores(history)`, `save(folder)` / `load(folder)`."""

    name = ""

    def settings(self) -> dict:
        return {}

    def because(self, history: Sequence[int], items: Sequence[int]) -> list[list[int]]:
        """For each of `items`, the history items that led the retriever to it, most first (none
        by default: only item-kNN's scores are sums over history items)."""
        return [[] for _ in items]

    def scores_many(self, histories: Sequence[Sequence[int]]) -> np.ndarray:
        return np.stack([self.scores(h) for h in histories]) if histories else np.zeros((0, self.rows))

    def save(self, folder: str | os.PathLike) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / STATE).write_text(json.dumps({"name": self.name, "rows": self.rows,
                                                "settings": self.settings()}, indent=2) + "\n")
        self._save_state(folder)


class Popularity(Retriever):
    name = "popularity"

    def fit(self, sequences, rows: int, valid=None) -> Popularity:
        self.rows = rows
        self.counts = popularity_counts(sequences, rows)
        return self

    def scores(self, history: Sequence[int]) -> np.ndarray:
        return self.counts.copy()

    def _save_state(self, folder: Path) -> None:
        np.savez(folder / "popularity.npz", counts=self.counts)

    def _load_state(self, folder: Path) -> None:
        self.counts = _npz(folder / "popularity.npz")["counts"]


class ItemKNN(Retriever):
    """Sparse item-kNN; `neighbours` keeps each item's N most similar items (None: all), so memory
    grows with users x items rated and items x N, never items squared (see `cosine_topn`)."""

    name = "itemknn"

    def __init__(self, last: int = 5, neighbours: int | None = None):
        if last < 1:
            raise DataError(f"item-kNN: last must be at least 1, got {last}")
        if neighbours is not None and neighbours < 1:
            raise DataError(f"item-kNN: neighbours must be at least 1, got {neighbours}")
        self.last, self.neighbours = last, neighbours

    def settings(self) -> dict:
        return {"last": self.last} if self.neighbours is None else {"last": self.last, "neighbours": self.neighbours}

    def fit(self, sequences, rows: int, valid=None) -> ItemKNN:
        self.rows = rows
        from .knn import cosine_topn

        self.sim = cosine_topn(sequences, rows, self.neighbours)
        self.counts = popularity_counts(sequences, rows)
        self._tie = None
        return self

    def with_last(self, last: int) -> ItemKNN:
        """The same fitted similarities read over the last `last` history items (no refit)."""
        other = ItemKNN(last, self.neighbours)
        other.rows, other.sim, other.counts, other._tie = self.rows, self.sim, self.counts, None
        return other

    def tie(self) -> np.ndarray:
        if getattr(self, "_tie", None) is None:
            self._tie = TIE * self.counts / (self.counts.max() + 1.0)
        return self._tie

    def scores(self, history: Sequence[int]) -> np.ndarray:
        recent = list(history)[-self.last:]
        if not recent:
            return self.tie().copy()
        return np.asarray(self.sim[recent].sum(axis=0)).ravel() + self.tie()

    def because(self, history: Sequence[int], items: Sequence[int]) -> list[list[int]]:
        """For each of `items`, the items of the history's last `last` whose similarity to it added to
        its score, largest contribution first."""
        recent = list(dict.fromkeys(list(history)[-self.last:]))
        if not recent or not len(items):
            return [[] for _ in items]
        sim = self.sim[recent][:, list(items)].toarray()   # (recent, items)
        return [[recent[r] for r in np.argsort(-sim[:, c], kind="stable") if sim[r, c] > 0] for c in range(len(items))]

    def _save_state(self, folder: Path) -> None:
        from scipy import sparse

        sparse.save_npz(folder / "itemknn.npz", self.sim)
        np.savez(folder / "popularity.npz", counts=self.counts)

    def _load_state(self, folder: Path) -> None:
        from scipy import sparse

        try:
            self.sim = sparse.load_npz(folder / "itemknn.npz").tocsr()
        except (OSError, ValueError) as e:
            raise DataError(f"{folder / 'itemknn.npz'}: unreadable ({str(e).splitlines()[0]})") from None
        self.counts = _npz(folder / "popularity.npz")["counts"]
        self._tie = None


@dataclass
class SASRecSettings:
    max_len: int = 50
    dim: int = 64
    blocks: int = 2
    dropout: float = 0.2
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 200
    eval_every: int = 10
    patience: int = 3          # evaluations without a better validation NDCG@10
    seed: int = 0
    chosen_epoch: int | None = field(default=None)   # filled by fit: the epoch kept


class SASRec(Retriever):
    name = "sasrec"

    def __init__(self, **settings):
        try:
            self.cfg = SASRecSettings(**settings)
        except TypeError as e:
            raise DataError(f"sasrec: {e}") from None
        if min(self.cfg.max_len, self.cfg.dim, self.cfg.epochs, self.cfg.batch_size, self.cfg.eval_every) < 1:
            raise DataError("sasrec: max_len, dim, epochs, batch_size and eval_every must be at least 1")

    def settings(self) -> dict:
        return asdict(self.cfg)

    def _build(self, rows: int):
        from torch import nn

        from ..baselines.sequential import IdItems, SASRecEncoder

        c = self.cfg
        module = nn.Module()
        module.items = IdItems(rows + 1, c.dim)   # row = item id + 1 (rows 0, 1: padding, unknown)
        module.encoder = SASRecEncoder(c.dim, c.dim, c.max_len, c.dropout, blocks=c.blocks)
        module.drop = nn.Dropout(c.dropout)
        return module

    def _encode(self, histories: Sequence[Sequence[int]]):
        import torch

        L = self.cfg.max_len
        hist = torch.zeros(len(histories), L, dtype=torch.long)
        lengths = torch.zeros(len(histories), dtype=torch.long)
        for k, h in enumerate(histories):
            h = list(h)[-L:]
            hist[k, :len(h)] = torch.tensor(h, dtype=torch.long) + 1
            lengths[k] = len(h)
        return hist, lengths

    def _states(self, hist, lengths):
        m = self.model
        return m.encoder.states(m.drop(m.items(hist)), lengths)

    def fit(self, sequences, rows: int, valid=None) -> SASRec:
        """Train on `sequences`; `valid` = (histories, targets, excluded lists) picks the epoch."""
        import copy

        import torch

        from ..baselines.train_loop import seeded
        from .metrics import catalogue_rank, loo_from_ranks

        c, self.rows = self.cfg, rows
        seqs = [list(s)[-(c.max_len + 1):] for s in sequences if len(s) >= 2]
        if not seqs:
            raise DataError("sasrec: no training sequence has two items")
        with seeded(c.seed, torch.device("cpu")):
            self.model = self._build(rows)
            inp, lengths = self._encode([s[:-1] for s in seqs])
            pos, _ = self._encode([s[1:] for s in seqs])
            seen = torch.zeros(len(seqs), rows + 1, dtype=torch.bool)
            for k, s in enumerate(seqs):
                seen[k, torch.tensor(s) + 1] = True
            seen[:, :2] = True
            opt = torch.optim.Adam(self.model.parameters(), lr=c.lr, betas=(0.9, 0.98))
            gen = torch.Generator().manual_seed(c.seed)
            best, best_state, waited, self.curve = -1.0, None, 0, []
            for epoch in range(1, c.epochs + 1):
                self.model.train()
                order = torch.randperm(len(seqs), generator=gen)
                for b in range(0, len(seqs), c.batch_size):
                    idx = order[b:b + c.batch_size]
                    neg = self._negatives(seen[idx], pos[idx].shape, gen)
                    h = self._states(inp[idx], lengths[idx])
                    emb = self.model.items.emb
                    lp, ln = (h * emb(pos[idx])).sum(-1), (h * emb(neg)).sum(-1)
                    mask = pos[idx] > 0
                    loss = (torch.nn.functional.softplus(-lp)[mask].sum() + torch.nn.functional.softplus(ln)[mask].sum()) / mask.sum()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                if valid is not None and (epoch % c.eval_every == 0 or epoch == c.epochs):
                    histories, targets, excluded = valid
                    s = self.scores_many(histories)
                    ndcg = loo_from_ranks([catalogue_rank(s[k], t, excluded[k]) for k, t in enumerate(targets)])["ndcg@10"]
                    self.curve.append((epoch, round(ndcg, 6)))
                    if ndcg > best:
                        best, best_state, waited, self.cfg.chosen_epoch = ndcg, copy.deepcopy(self.model.state_dict()), 0, epoch
                    else:
                        waited += 1
                        if waited >= c.patience:
                            break
            if best_state is not None:
                self.model.load_state_dict(best_state)
            else:
                self.cfg.chosen_epoch = c.epochs
        self.model.eval()
        return self

    @staticmethod
    def _negatives(seen, shape, gen):
        """Uniform item rows the user did not rate in training, one per position."""
        import torch

        rows = seen.shape[1]
        neg = torch.randint(2, rows, shape, generator=gen)
        for _ in range(20):
            bad = torch.gather(seen, 1, neg)
            if not bad.any():
                break
            neg = torch.where(bad, torch.randint(2, rows, shape, generator=gen), neg)
        return neg

    def scores_many(self, histories: Sequence[Sequence[int]]) -> np.ndarray:
        import torch

        if not histories:
            return np.zeros((0, self.rows))
        self.model.eval()
        with torch.no_grad():
            hist, lengths = self._encode(histories)
            h = self._states(hist, lengths)[torch.arange(len(histories)), lengths.clamp(min=1) - 1]
            logits = h @ self.model.items.emb.weight.T          # [N, rows + 1]
        out = logits[:, 1:].double().numpy()                    # column i = item i
        empty = (lengths == 0).numpy()
        out[empty] = 0.0  # no history: no signal (the pipeline falls back to popularity)
        return out

    def scores(self, history: Sequence[int]) -> np.ndarray:
        return self.scores_many([history])[0]

    def _save_state(self, folder: Path) -> None:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in self.model.state_dict().items()}, str(folder / "sasrec.safetensors"))

    def _load_state(self, folder: Path) -> None:
        from safetensors.torch import load_file

        self.model = self._build(self.rows)
        try:
            self.model.load_state_dict(load_file(str(folder / "sasrec.safetensors")))
        except (OSError, RuntimeError) as e:
            raise DataError(f"{folder / 'sasrec.safetensors'}: unreadable ({str(e).splitlines()[0]})") from None
        self.model.eval()


RETRIEVERS = {"popularity": Popularity, "itemknn": ItemKNN, "sasrec": SASRec}


def make_retriever(name: str, **settings) -> Retriever:
    if name not in RETRIEVERS:
        raise DataError(f"unknown retriever {name!r}; choose from {', '.join(RETRIEVERS)}")
    return RETRIEVERS[name](**settings)


def load_retriever(folder: str | os.PathLike) -> Retriever:
    """A saved retriever (what `Retriever.save` wrote)."""
    from ..core.io import read_json

    folder = Path(folder)
    meta = read_json(folder / STATE)
    if not isinstance(meta, dict) or meta.get("name") not in RETRIEVERS or not isinstance(meta.get("rows"), int):
        raise DataError(f"{folder / STATE}: not a retriever state (needs name in {', '.join(RETRIEVERS)} and rows)")
    settings = dict(meta.get("settings") or {})
    r = make_retriever(meta["name"], **settings)
    r.rows = meta["rows"]
    r._load_state(folder)
    return r


def _npz(path: Path):
    try:
        return np.load(path)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: unreadable ({str(e).splitlines()[0]})") from None


KNN_LAST = (1, 2, 3, 5, 10, 20)


def valid_targets(split) -> tuple[list, list, list]:
    """(histories, targets, excluded) of every user at the validation stage."""
    users = split.users
    return ([u.history("valid") for u in users], [u.target("valid") for u in users],
            [split.excluded(u, "valid") for u in users])


def fit_on_split(name: str, split, settings: dict | None = None) -> tuple[Retriever, dict]:
    """`name` fitted on the training parts of `split`, settings not given chosen on validation
    NDCG@10 only (item-kNN: `last` in KNN_LAST; SASRec: the epoch); returns (retriever, selection)."""
    from .loo import retriever_eval

    settings = dict(settings or {})
    train = split.train_sequences()
    if name == "itemknn" and "last" not in settings:
        fitted, tried = ItemKNN(last=1, **settings).fit(train, split.rows), {}   # `last` needs no refit
        for last in KNN_LAST:
            tried[last] = retriever_eval(split, fitted.with_last(last), "valid", n=1).metrics()["ndcg@10"]
        best = max(tried, key=lambda k: (tried[k], -k))
        return fitted.with_last(best), {"on": "validation ndcg@10", "last": tried, "chosen": best}
    r = make_retriever(name, **settings)
    if name == "sasrec":
        r.fit(train, split.rows, valid=valid_targets(split))
        return r, {"on": "validation ndcg@10", "epochs": dict(r.curve), "chosen": r.cfg.chosen_epoch}
    return r.fit(train, split.rows), {}
