"""`tallrec.Recommender`: rank candidate items for users with a (possibly rec-tuned) causal LM.

    rec = Recommender.load("runs/k64")                     # a run folder, an adapter folder or None
    rec.score(liked=["Heat (1995)"], disliked=[], candidates=["Casino (1995)", "Babe (1995)"])
    rec.rank(liked, disliked, candidates, k=10)            # [(item, p_yes), ...], best first

The prompt style comes from the adapter (`LoadedModel.prompt`), the cutoff from the run's
config.yaml (512 when there is none) and the item noun and quoting from the run's training samples
(movie, quoted titles by default). Scoring uses the shared-user-prefix engine (prefix_engine.py):
the scores equal the single-sample scorer's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import DataError, ModelError
from ..data.samples import Sample
from .items import Item, check_candidates, user_sample
from .prefix_engine import DEFAULT_BATCH, PrefixEngine

DEFAULT_CUTOFF = 512
USER_KEYS = ("liked", "disliked", "candidates")


def resolve_run(path: str | os.PathLike | None) -> tuple[Path | None, Path | None]:
    """(adapter folder, run folder or None) for a run folder (holding adapter/), an adapter folder, or None."""
    if path is None:
        return None, None
    p = Path(path).expanduser()
    if (p / "adapter" / "adapter_config.json").is_file():
        return p / "adapter", p
    if (p / "adapter_config.json").is_file():
        return p, p.parent if (p.parent / "config.yaml").is_file() else None
    if not p.exists():
        raise ModelError(f"{p}: no such run or adapter folder")
    raise ModelError(f"{p}: not a run folder (with adapter/) or an adapter folder (with adapter_config.json)")


def run_settings(run: Path | None) -> dict:
    """What the run was trained with: model, cutoff, domain, quote_history (absent keys: not recorded)."""
    out: dict[str, Any] = {}
    if run is None:
        return out
    if (run / "config.yaml").is_file():
        import yaml

        try:
            cfg = yaml.safe_load((run / "config.yaml").read_text()) or {}
        except yaml.YAMLError as e:
            raise ModelError(f"{run / 'config.yaml'}: unreadable ({str(e).splitlines()[0]})") from None
        out.update({k: cfg[k] for k in ("model", "cutoff") if isinstance(cfg, dict) and k in cfg})
    if (run / "train_samples.json").is_file():
        try:
            first = (json.loads((run / "train_samples.json").read_text()) or [None])[0]
        except json.JSONDecodeError:
            first = None
        if isinstance(first, dict):
            s = Sample.from_record(first, where=str(run / "train_samples.json"))
            out.update(domain=s.domain, quote_history=s.quote_history)
    return out


class Recommender:
    """Scores and ranks candidate items for users; see the module docstring."""

    def __init__(self, lm, cutoff: int = DEFAULT_CUTOFF, batch_size: int = DEFAULT_BATCH, domain: str = "movie",
                 quote_history: bool = True, template=None, adapter: str | None = None):
        from ..llm.encoding import lm_template

        self.lm = lm
        self.adapter = adapter
        self.domain, self.quote_history = domain, quote_history
        self.engine = PrefixEngine(lm.model, lm.tokenizer, template or lm_template(lm), cutoff, batch_size)

    @classmethod
    def load(cls, run_dir_or_adapter: str | os.PathLike | None = None, model: str | None = None,
             device: str | None = None, precision: str = "auto", batch_size: int = DEFAULT_BATCH,
             cutoff: int | None = None) -> Recommender:
        """A base model (`model`: registry name or HF folder; default: the adapter's base, else
        smollm2-135m) with the run's adapter merged in, or the untuned model when None."""
        from ..llm.adapters import adapter_meta, with_adapter
        from ..llm.models import DEFAULT_MODEL, load_model

        adapter, run = resolve_run(run_dir_or_adapter)
        settings = run_settings(run)
        base = model or (adapter_meta(adapter).get("name") if adapter else None) or settings.get("model") or DEFAULT_MODEL
        lm = with_adapter(load_model(str(base), precision, device), adapter)
        return cls(lm, cutoff=cutoff or int(settings.get("cutoff", DEFAULT_CUTOFF)), batch_size=batch_size,
                   domain=settings.get("domain", "movie"), quote_history=settings.get("quote_history", True),
                   adapter=None if adapter is None else str(adapter))

    def user(self, liked: Sequence[Item] | None, disliked: Sequence[Item] | None, where: str = "user") -> Sample:
        return user_sample(liked, disliked, self.domain, self.quote_history, where)

    def score(self, liked: Sequence[Item] | None, disliked: Sequence[Item] | None,
              candidates: Sequence[Item]) -> list[float]:
        """P(Yes) of each candidate, in the order given."""
        user = self.user(liked, disliked)
        return [float(x) for x in self.engine.score(user, check_candidates(candidates))]

    def rank(self, liked: Sequence[Item] | None, disliked: Sequence[Item] | None, candidates: Sequence[Item],
             k: int | None = 10) -> list[tuple[Item, float]]:
        """The top `k` candidates (all when k is None) as (item, P(Yes)), best first; ties keep input order."""
        return top_k(candidates, self.score(liked, disliked, candidates), k)

    def score_many(self, users: Iterable[dict], progress: bool = False) -> list[list[float]]:
        """`score` for each user given as {"liked", "disliked", "candidates"}; every user is checked first."""
        checked = [self._check_user(u, f"user {i}") for i, u in enumerate(users)]
        return [[float(x) for x in s] for s in self.engine.score_many(checked, progress=progress)]

    def rank_many(self, users: Iterable[dict], k: int | None = 10, progress: bool = False) -> list[list[tuple]]:
        users = list(users)
        return [top_k(u["candidates"], s, k) for u, s in zip(users, self.score_many(users, progress))]

    def _check_user(self, u: Any, where: str) -> tuple[Sample, list[str]]:
        if not isinstance(u, dict):
            raise DataError(f"{where}: expected an object with liked, disliked, candidates")
        unknown = sorted(set(u) - set(USER_KEYS) - {"user"})
        if unknown:
            raise DataError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}")
        if "candidates" not in u:
            raise DataError(f"{where}: missing field 'candidates'")
        return self.user(u.get("liked"), u.get("disliked"), where), check_candidates(u["candidates"], where)


def top_k(candidates: Sequence[Item], scores: Sequence[float], k: int | None) -> list[tuple[Item, float]]:
    """(item, score) best first, ties in input order, at most k (all when k is None)."""
    if k is not None and k < 1:
        raise DataError(f"k must be at least 1, got {k}")
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    return [(candidates[i], float(scores[i])) for i in order[:k]]
