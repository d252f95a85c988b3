"""The one method registry: every method the experiments run or report, one entry each.

An entry says what the method is (label, kind), how the grid expands it (does it depend on K, on
the seed, does it need stage 1), where it goes (run order: cheap first, so a short run records the
most; report order: the rows of the report's tables) and the function that runs one cell
(runs.py, cross_domain.py). The grid (grid/), its presets (presets.py), the report (report/) and
the ranking benchmark (ranking_benchmark.py: the entries marked `ranking`) read nothing else. Adding a method is one `register(Method(...))` here plus its runner.

Kinds: llm-tuned (an adapter is trained: tallrec, r, at's stage 1, the cross-domain rows),
llm-untuned (icl), baseline (the classic sequential models), floor (like-share, logreg), ranking
(what only the ranking benchmark runs: a Recommender's P(Yes), the random order, popularity). The
cross-domain matrix is one unit ("cross-domain", set by the grid's `cross_domain:` key) that
records six rows, xd-movie / xd-book / xd-both x test domain: entries without a runner of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..baselines import BASELINES
from ..core.errors import TallrecError
from . import runs
from .cross_domain import ROWS as XD_ROWS
from .cross_domain import run_matrix

KINDS = ("llm-tuned", "llm-untuned", "baseline", "floor", "ranking")


@dataclass(frozen=True)
class Method:
    """One method. `run(cell, ctx, cdir, log)` returns the cell's metrics record (or, for a unit
    such as the cross-domain matrix, a list of grid.cells.Outcome rows)."""

    name: str
    label: str
    kind: str
    run: Callable[..., Any] | None
    run_order: int
    report_order: int
    uses_k: bool = True
    uses_seed: bool | Callable[[Any], bool] = True  # a predicate of the grid where a setting decides
    needs_stage1: bool = False
    short: str = ""            # the name in compact tables (the ablation's arms)
    in_grid: bool = True       # selectable in a grid's `methods:`
    unit: str | None = None    # a row recorded by that unit (it has no runner of its own)
    ranking: bool = False      # selectable in `tallrec evaluate-ranking --methods`

    @property
    def llm(self) -> bool:
        return self.kind.startswith("llm")

    def seeded(self, grid) -> bool:
        return self.uses_seed(grid) if callable(self.uses_seed) else bool(self.uses_seed)


REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    if method.kind not in KINDS:
        raise ValueError(f"method {method.name}: kind {method.kind!r} is not one of {KINDS}")
    REGISTRY[method.name] = method
    return method


def get(name: str) -> Method:
    try:
        return REGISTRY[name]
    except KeyError:
        raise TallrecError(f"unknown method {name!r}; choose from {', '.join(grid_methods())}") from None


def grid_methods() -> list[str]:
    """Names a grid's `methods:` may hold, in registry order."""
    return [m.name for m in REGISTRY.values() if m.in_grid]


def ranking_methods() -> list[str]:
    """Names `tallrec evaluate-ranking --methods` may hold, in registry order."""
    return [m.name for m in REGISTRY.values() if m.ranking]


def run_rank(name: str) -> int:
    return REGISTRY[name].run_order


def report_rank(name: str) -> int:
    m = REGISTRY.get(name)
    return m.report_order if m is not None else 10_000


def ordered(key: str = "report_order") -> list[Method]:
    return sorted(REGISTRY.values(), key=lambda m: getattr(m, key))


def of_kind(*kinds: str) -> list[str]:
    return [m.name for m in REGISTRY.values() if m.kind in kinds]


def unit_of(name: str) -> str:
    """The grid unit a recorded row belongs to (itself, or e.g. cross-domain for xd-movie)."""
    m = REGISTRY.get(name)
    return m.unit if m is not None and m.unit else name


def rows_of(unit: str) -> list[str]:
    return [m.name for m in REGISTRY.values() if m.unit == unit]


# ---------------------------------------------------------------- the entries

register(Method("tallrec", "TALLRec (stage 1 + rec-tuning)", "llm-tuned", runs.run_tuned_cell, 33, 33,
                needs_stage1=True, short="TALLRec"))
register(Method("r", "R (rec-tuning only)", "llm-tuned", runs.run_tuned_cell, 32, 32, short="R"))
register(Method("at", "AT (stage 1 only)", "llm-tuned", runs.run_at_cell, 31, 31, uses_k=False,
                uses_seed=False, needs_stage1=True, short="AT"))
register(Method("icl", "in-context (untuned LLM)", "llm-untuned", runs.run_icl_cell, 30, 30, uses_k=False,
                uses_seed=lambda grid: grid.icl_demos > 0))  # demonstrations are drawn with the seed
_SEQ = [n for n, (kind, _) in BASELINES.items() if kind == "seq"]
_SIMPLE = [n for n, (kind, _) in BASELINES.items() if kind != "seq"]
for _i, _name in enumerate(_SEQ):
    register(Method(_name, _name, "baseline", runs.run_baseline_cell, 10 + _i, _i, ranking=True))
for _i, _name in enumerate(_SIMPLE):
    register(Method(_name, _name, "floor", runs.run_baseline_cell, _i, 10 + _i))
register(Method("hybrid", "hybrid (rec-tuned LLM + history statistics)", "llm-tuned", runs.run_hybrid_cell, 34, 34))
# (hybrid shares the r cell's rec-tuning run; it is no ablation arm, so it has no short name)
register(Method("hist-valid", "history statistics on the validation samples (hybrid without the LLM)", "floor",
                runs.run_hist_valid_cell, len(_SIMPLE), 10 + len(_SIMPLE)))
register(Method("cross-domain", "cross-domain matrix", "llm-tuned", run_matrix, 40, 40, in_grid=False))
for _i, _row in enumerate(XD_ROWS):
    register(Method(f"xd-{_row}", f"trained on {_row}", "llm-tuned", None, 41 + _i, 41 + _i, in_grid=False,
                    unit="cross-domain"))
# The ranking benchmark's own rows (the sequential baselines above rank too):
register(Method("llm", "a Recommender's P(Yes) (an adapter, or the untuned model)", "ranking", None, 50, 50,
                in_grid=False, ranking=True))
register(Method("random", "a uniformly random order (expected value)", "ranking", None, 51, 51, in_grid=False,
                ranking=True))
register(Method("popularity", "how often the candidate is a training target", "ranking", None, 52, 52,
                in_grid=False, ranking=True))
register(Method("pipeline", "popularity reranked by the LLM through a blend fitted on the validation lists",
                "ranking", None, 53, 53, in_grid=False, ranking=True))
