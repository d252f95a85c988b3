"""tallrec: TALLRec (Bao et al., RecSys 2023) as an installable, tested framework.

The public API, imported on first use so that `import tallrec` stays light:

    import tallrec
    run = tallrec.train(train="train.json", valid="valid.json", out="runs/k64")  # = `tallrec train`
    rec = tallrec.load(run)                     # a run or adapter folder; None or "none": the untuned model
    user = tallrec.User(liked=["Heat (1995)"], disliked=["Babe (1995)"])
    rec.rank(user, ["Fargo (1996)", "Casino (1995)"])   # [RankedItem(item, p_yes, index), ...]

`train` (the twin of `tallrec train`), `load` / `Recommender` (score, rank, evaluate), `User` / `Item` (the one definition of a user and an
item, shared with users.jsonl and the HTTP API), `RankedItem`, `Sample` / `load_samples` /
`load_domain` (the data) and the training configs `TrainConfig` / `InstructConfig`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what static tools (type checkers, the API reference) see; at run time: __getattr__
    from .core.errors import TallrecError
    from .data.datasets import load_domain
    from .data.samples import Sample, load_samples
    from .data.users import Item, User
    from .recommend.recommender import Recommender, load
    from .recommend.records import RankedItem, RecommendedItem
    from .tuning.api import train
    from .tuning.config import InstructConfig, TrainConfig

__version__ = "0.1.0"

_EXPORTS = {
    "load": ".recommend.recommender",
    "train": ".tuning.api",
    "Recommender": ".recommend.recommender",
    "RankedItem": ".recommend.records",
    "RecommendedItem": ".recommend.records",
    "User": ".data.users",
    "Item": ".data.users",
    "Sample": ".data.samples",
    "load_samples": ".data.samples",
    "load_domain": ".data.datasets",
    "TrainConfig": ".tuning.config",
    "InstructConfig": ".tuning.config",
    "TallrecError": ".core.errors",
}
__all__ = ["InstructConfig", "Item", "RankedItem", "RecommendedItem", "Recommender", "Sample", "TallrecError", "TrainConfig", "User",
           "__version__", "load", "load_domain", "load_samples", "train"]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module 'tallrec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
