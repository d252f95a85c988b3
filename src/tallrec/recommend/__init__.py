"""Recommending: rank candidate items for users (`Recommender`), with the shared-user-prefix engine
(`prefix_engine`), the `tallrec rank` input files (`userfile`), ranking metrics (`metrics`) and the
MovieLens ranking benchmark (`benchmark`); recommending from a whole catalogue: retrievers
(`retrievers`), their leave-one-out evaluation (`loo`), the retriever/LLM blend (`blend`) and the
recommender folder with its pipeline (`catalogue`).

Imports stay lazy here so `import tallrec` does not load torch.
"""

from __future__ import annotations

__all__ = ["Recommender"]


def __getattr__(name: str):
    if name == "Recommender":
        from .recommender import Recommender

        return Recommender
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
