"""The grid config (a YAML file under configs/grid/, or built by a preset) and its validation.

The top-level methods/domains/shots/seeds/models/test_limit form one product; with `blocks`, the
grid is the union of the blocks' products, each block taking the top-level value of any key it
leaves out. `cross_domain` adds the cross-domain matrix. Validation normalises every setting and
raises one TallrecError line naming the setting otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...core.config import load_config, resolve_config
from ...core.defaults import DEFAULT_MODEL, DEFAULT_RECIPE
from ...core.errors import TallrecError
from ...data.datasets import DOMAINS as DOMAIN_ALIASES
from ...data.datasets import TEST_SPLITS
from ...llm.models import REGISTRY as MODELS
from .. import methods
from ..common import DEFAULT_INSTRUCT_CONFIG, DOMAINS
from .cells import BLOCK_KEYS, expand_grid

XD_KEYS = ("shots", "seeds", "models", "test_limit", "valid_from")
BUDGETS = {"quick": "reproduce-quick", "full": "reproduce-full"}


@dataclass
class GridConfig:
    """A grid of methods x domains x K x seeds x models (see the module docstring)."""

    description: str = ""
    methods: list[str] = field(default_factory=methods.grid_methods)
    domains: list[str] = field(default_factory=lambda: list(DOMAINS))
    shots: list[int] = field(default_factory=lambda: [16, 64, 256])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    models: list[str] = field(default_factory=lambda: [DEFAULT_MODEL])
    test_limit: int | None = None
    test_split: str = "official"            # official test files | unpublished (movie samples in no published file)
    blocks: list[dict] | None = None
    cross_domain: dict | None = None        # {shots, seeds, models, test_limit, valid_from}; None = none
    rec_config: str = DEFAULT_RECIPE    # rec-tuning recipe (file, or a packaged config name)
    rec_overrides: dict = field(default_factory=dict)
    instruct_config: str = DEFAULT_INSTRUCT_CONFIG  # stage-1 recipe
    instruct_overrides: dict = field(default_factory=dict)
    instruct_adapter: str | None = None     # a ready stage-1 adapter (one model only); else trained here
    alpaca: str | None = None               # stage-1 records; default DATA_DIR/alpaca/alpaca_data_2k.json
    icl_demos: int = 0                      # in-context demonstrations (0 = zero-shot)
    baseline_options: dict = field(default_factory=dict)  # {baseline name: {option: value}}

    def to_dict(self) -> dict:
        return asdict(self)


def budget_config(budget: str) -> Path:
    key = (budget or "").strip().lower()
    if key not in BUDGETS:
        raise TallrecError(f"--budget {budget!r}: expected one of {', '.join(BUDGETS)}")
    return resolve_config(BUDGETS[key], "grid")


def load_grid(budget: str | None = None, config: str | os.PathLike | None = None,
              overrides: Mapping[str, Any] | None = None) -> tuple[GridConfig, str]:
    """(grid, where it came from) for --budget or --config (not both; neither = quick)."""
    if budget is not None and config is not None:
        raise TallrecError("give --budget or --config, not both (a config file defines the whole grid)")
    path = resolve_config(config, "grid") if config is not None else budget_config(budget or "quick")
    grid = load_config(GridConfig, path, dict(overrides or {}))
    where = f"--budget {budget or 'quick'}" if config is None else str(path)
    validate_grid(grid, where, base=path.parent)
    return grid, where


# ---------------------------------------------------------------- value checks

def _str_list(value, name: str, where: str) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise TallrecError(f"{where}: {name} must be a non-empty list of names")
    return [v.strip() for v in value]


def _int_list(value, name: str, where: str, minimum: int) -> list[int]:
    if isinstance(value, str):
        try:
            value = [int(v) for v in value.split(",")]
        except ValueError:
            raise TallrecError(f"{where}: {name} {value!r}: expected whole numbers") from None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if (not isinstance(value, (list, tuple)) or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise TallrecError(f"{where}: {name} must be a non-empty list of whole numbers")
    bad = [v for v in value if v < minimum]
    if bad:
        raise TallrecError(f"{where}: {name}: {bad[0]} is not allowed (values must be >= {minimum})")
    return list(dict.fromkeys(value))


def _methods(value, where: str) -> list[str]:
    allowed = methods.grid_methods()
    out = []
    for m in _str_list(value, "methods", where):
        if m.lower() not in allowed:
            raise TallrecError(f"{where}: unknown method {m!r}; choose from {', '.join(allowed)}")
        out.append(m.lower())
    return list(dict.fromkeys(out))


def _domains(value, where: str) -> list[str]:
    out = []
    for d in _str_list(value, "domains", where):
        key = DOMAIN_ALIASES.get(d.lower())
        if key is None:
            raise TallrecError(f"{where}: unknown domain {d!r}; choose from {', '.join(DOMAINS)}")
        out.append(key)
    return list(dict.fromkeys(out))


def _test_limit(value, where: str) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
        raise TallrecError(f"{where}: test_limit must be a positive whole number or null, got {value!r}")
    return value


def _model(model: str, base: Path) -> str:
    if model in MODELS:
        return model
    for p in (Path(model).expanduser(), base / model):
        if p.exists():
            return str(p.resolve())
    return model


def _models(value, where: str, base: Path) -> list[str]:
    return [_model(m, base) for m in _str_list(value, "models", where)]


# ---------------------------------------------------------------- the grid

CHECKS = {"methods": lambda v, w, b: _methods(v, w), "domains": lambda v, w, b: _domains(v, w),
          "shots": lambda v, w, b: _int_list(v, "shots", w, 1), "seeds": lambda v, w, b: _int_list(v, "seeds", w, 0),
          "models": _models, "test_limit": lambda v, w, b: _test_limit(v, w)}


def _resolve_paths(grid: GridConfig, base: Path) -> None:
    """Relative file settings are relative to the config file's folder where they exist there (else
    the working folder, else - for the recipes - a packaged config of that name)."""
    for name in ("rec_config", "instruct_config", "instruct_adapter", "alpaca"):
        value = getattr(grid, name)
        if isinstance(value, str) and value and not Path(value).is_absolute() and (base / value).exists():
            setattr(grid, name, str((base / value).resolve()))


def _validate_blocks(grid: GridConfig, where: str, base: Path) -> None:
    if grid.blocks is None:
        return
    if not isinstance(grid.blocks, list) or not all(isinstance(b, dict) for b in grid.blocks):
        raise TallrecError(f"{where}: blocks must be a list of mappings")
    for i, b in enumerate(grid.blocks):
        unknown = sorted(set(b) - set(BLOCK_KEYS))
        if unknown:
            raise TallrecError(f"{where}: blocks[{i}]: unknown setting(s) {', '.join(unknown)}; "
                               f"known: {', '.join(BLOCK_KEYS)}")
        for key in list(b):
            b[key] = CHECKS[key](b[key], f"{where}: blocks[{i}]", base)


def _validate_cross_domain(grid: GridConfig, where: str, base: Path) -> None:
    xd = grid.cross_domain
    if xd is None:
        return
    if not isinstance(xd, dict):
        raise TallrecError(f"{where}: cross_domain must be a mapping ({', '.join(XD_KEYS)}) or null")
    unknown = sorted(set(xd) - set(XD_KEYS))
    if unknown:
        raise TallrecError(f"{where}: cross_domain: unknown setting(s) {', '.join(unknown)}; "
                           f"known: {', '.join(XD_KEYS)}")
    w = f"{where}: cross_domain"
    defaults = {"shots": [64], "seeds": grid.seeds, "models": grid.models, "test_limit": grid.test_limit}
    for key, default in defaults.items():
        xd[key] = CHECKS[key](xd.get(key, default), w, base)
    xd["valid_from"] = xd.get("valid_from", "both")
    if xd["valid_from"] not in ("first", "both"):
        raise TallrecError(f"{w}: valid_from {xd['valid_from']!r}: expected first or both")


def _validate_options(grid: GridConfig, where: str) -> None:
    if grid.test_split not in TEST_SPLITS:
        raise TallrecError(f"{where}: test_split {grid.test_split!r}: expected one of {', '.join(TEST_SPLITS)}")
    if grid.test_split != "official":
        cells = expand_grid(grid)
        domains = sorted({d for c in cells for d in c.domains if d != "movie"})
        if domains:
            raise TallrecError(f"{where}: test_split {grid.test_split} has movie samples only; "
                               f"remove {', '.join(domains)} (and cross_domain) from the grid")
    if not isinstance(grid.icl_demos, int) or isinstance(grid.icl_demos, bool) or grid.icl_demos < 0:
        raise TallrecError(f"{where}: icl_demos must be a whole number >= 0, got {grid.icl_demos!r}")
    if not isinstance(grid.baseline_options, dict):
        raise TallrecError(f"{where}: baseline_options must be a mapping of baseline name to options")
    baselines = methods.of_kind("baseline", "floor")
    for name, opts in grid.baseline_options.items():
        if name not in baselines:
            raise TallrecError(f"{where}: baseline_options: unknown baseline {name!r}; "
                               f"choose from {', '.join(baselines)}")
        if not isinstance(opts, dict):
            raise TallrecError(f"{where}: baseline_options: {name} must map option names to values")
    for name in ("rec_overrides", "instruct_overrides"):
        if not isinstance(getattr(grid, name), dict):
            raise TallrecError(f"{where}: {name} must be a mapping of settings")


def _check_models(grid: GridConfig, where: str) -> None:
    used = set(grid.models) | {m for b in grid.blocks or [] for m in b.get("models", [])}
    used |= set((grid.cross_domain or {}).get("models", []))
    for m in sorted(used):
        if m not in MODELS and not Path(m).expanduser().exists():
            raise TallrecError(f"{where}: model {m!r}: no such model folder or file "
                               f"(registry names: {', '.join(MODELS)})")


def validate_grid(grid: GridConfig, where: str, base: Path | None = None) -> GridConfig:
    """Normalise and check every setting (in place; returned for convenience). Relative paths are
    taken relative to `base` (the config file's folder) where they exist there."""
    base = base or Path(".")
    _resolve_paths(grid, base)
    for key in BLOCK_KEYS:
        setattr(grid, key, CHECKS[key](getattr(grid, key), where, base))
    _validate_blocks(grid, where, base)
    _validate_cross_domain(grid, where, base)
    _validate_options(grid, where)
    _check_models(grid, where)
    if not expand_grid(grid):
        raise TallrecError(f"{where}: the grid holds no cells")
    return grid
