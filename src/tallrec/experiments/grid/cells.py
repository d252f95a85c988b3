"""Cells of a grid: one unit of work each, its store key(s) and its folder.

A cell is (method, domain, K, seed, model, test limit). K-independent methods have one cell per
domain and model (shots 0); methods that do not depend on the seed have seed 0; baselines have no
model. A unit such as the cross-domain matrix is one cell (domain "movie+book") recorded as
several rows, one key each.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ...core.defaults import DEFAULT_MODEL
from ...core.errors import TallrecError
from ...llm.models import REGISTRY as MODELS
from .. import methods
from ..common import DOMAINS

BLOCK_KEYS = ("methods", "domains", "shots", "seeds", "models", "test_limit")
UNIT_DOMAIN = "+".join(DOMAINS)


def cell_key(method: str, domain: str, shots: int, seed: int, model: str | None) -> str:
    return f"{method}/{domain}/k{shots}/s{seed}/{model or '-'}"


def model_slug(model: str) -> str:
    """A folder-safe name of a model: the registry name, else the path's name + a short hash."""
    if model in MODELS:
        return model
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(model).name or "model").strip("-")[:40] or "model"
    return f"{name}-{hashlib.sha1(model.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class Cell:
    method: str
    domain: str
    shots: int
    seed: int
    model: str | None          # None for the baselines
    test_limit: int | None
    valid_from: str | None = None

    @property
    def rows(self) -> list[str]:
        """The row methods of a unit (empty for an ordinary cell)."""
        return methods.rows_of(self.method)

    @property
    def domains(self) -> tuple[str, ...]:
        return DOMAINS if self.rows else (self.domain,)

    @property
    def key(self) -> str:
        return cell_key(self.method, self.domain, self.shots, self.seed, self.model)

    @property
    def keys(self) -> list[str]:
        if not self.rows:
            return [self.key]
        return [cell_key(r, d, self.shots, self.seed, self.model) for r in self.rows for d in DOMAINS]

    def rel_dir(self) -> Path:
        leaf = f"k{self.shots}-s{self.seed}"
        if self.model is not None and self.model != DEFAULT_MODEL:
            leaf += f"-{model_slug(self.model)}"
        if self.rows:
            return Path("cells") / self.method / leaf
        return Path("cells") / self.method / self.domain / leaf

    def label(self) -> str:
        k = "K-independent" if self.shots == 0 else f"K={self.shots}"
        s = f"{self.method} {self.domain} {k} seed {self.seed}"
        if self.model is not None:
            s += f" [{self.model if len(self.model) <= 40 else model_slug(self.model)}]"
        return s


def _block_cells(grid, b: dict):
    for name in b["methods"]:
        m = methods.get(name)
        shots = b["shots"] if m.uses_k else [0]
        seeds = b["seeds"] if m.seeded(grid) else [0]
        for d in b["domains"]:
            for model in (b["models"] if m.llm else [None]):
                for k in shots:
                    for s in seeds:
                        yield Cell(name, d, k, s, model, b["test_limit"])


def _unit_cells(grid):
    xd = grid.cross_domain
    for model in (xd["models"] if xd else []):
        for k in xd["shots"]:
            for s in xd["seeds"]:
                yield Cell("cross-domain", UNIT_DOMAIN, k, s, model, xd["test_limit"], xd["valid_from"])


def expand_grid(grid) -> list[Cell]:
    """Every cell of a validated GridConfig, in run order (cheap methods first), each once."""
    top = {k: getattr(grid, k) for k in BLOCK_KEYS}
    blocks = [{**top, **b} for b in grid.blocks] if grid.blocks is not None else [top]
    cells: dict[str, Cell] = {}
    for b in blocks:
        for c in _block_cells(grid, b):
            prev = cells.setdefault(c.key, c)
            if prev.test_limit != c.test_limit:
                raise TallrecError(f"cell {c.key} is in two blocks with different test_limit "
                                   f"({prev.test_limit} and {c.test_limit})")
    for c in _unit_cells(grid):
        cells.setdefault(c.key, c)
    order = {d: i for i, d in enumerate(DOMAINS)}
    return sorted(cells.values(), key=lambda c: (methods.run_rank(c.method), c.shots, order.get(c.domain, 0),
                                                 c.seed, c.model or ""))
