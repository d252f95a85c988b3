"""tallrec: TALLRec (Bao et al., RecSys 2023) as an installable, tested framework.

Data flows one way: raw files -> data (Sample) -> prompts -> models -> scoring -> metrics -> report.
`tallrec.Recommender` ranks candidate items for users (tallrec.recommend); it is imported on first
use, so `import tallrec` stays light.
"""

__version__ = "0.1.0"
__all__ = ["Recommender", "__version__"]


def __getattr__(name: str):
    if name == "Recommender":
        from .recommend.recommender import Recommender

        return Recommender
    raise AttributeError(f"module 'tallrec' has no attribute {name!r}")
