"""`tallrec reproduce`: the paper's grid of methods x domains x shots x seeds, resumable, in one folder.

Methods (see METHODS):

* tallrec - stage 1 (Alpaca tuning, once per model) + rec-tuning of that adapter on K samples;
* r       - rec-tuning only: a fresh LoRA on K samples;
* at      - the stage-1 adapter alone (no rec-tuning): independent of K and the seed, one cell per
            domain and model (recorded with shots=0, seed=0);
* icl     - the untuned model in context, zero-shot by default (`icl_demos: 0`): likewise one cell
            per domain and model (with demonstrations, one per seed: they are drawn with the seed);
* gru4rec, caser, sasrec, dros, gru-bert, dros-bert - the paper's classic baselines;
* like-share, logreg - the simple floors.

The baselines do not depend on the LLM: one cell per domain/K/seed whatever `models` says.
The cross-domain matrix (train on movie, book, both; test on each) is one unit per K/seed/model,
recorded as six rows with methods xd-movie, xd-book, xd-both (the training rows) and the test domain.

Layout of DIR::

    reproduce.json                  the grid of the last run (settings, planned cells)
    results.jsonl                   the store: one JSON line per finished cell (store.py)
    cells/<method>/<domain>/k<K>-s<seed>[-<model>]/   each cell's own output (metrics.json, scores.jsonl,
                                    and for trained cells adapter/, config.yaml, history.json, ...);
                                    the model suffix only for an LLM other than the default model
    cells/stage1/<model>/           the stage-1 run of each model (tallrec and at)
    cells/cross-domain/k<K>-s<seed>[-<model>]/        one cross-domain matrix (cross_domain.py's layout)
    report.md, summary.json, plots/ written at the end of a run; `tallrec report DIR` rebuilds them
    .reproduce.lock                 held while a run works here: one run per folder at a time

A rerun skips every cell in the store. A cell that finished its evaluation but was killed before its
row was written is recorded from its metrics.json; a trained but unevaluated LLM cell is only
evaluated. A cell recorded with other settings (test limit, recipe, ...) is an error naming them.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..baselines import BASELINES, run_baseline
from ..core.config import load_config, resolve_config
from ..core.errors import TallrecError
from ..core.io import ensure_dir, write_json_atomic
from ..core.paths import data_dir as resolve_data_dir
from ..data.datasets import DOMAINS as DOMAIN_ALIASES
from ..data.datasets import DomainData, load_domain
from ..tuning.config import TrainConfig
from ..tuning.rec_tune import rec_tune
from .cells import (
    DEFAULT_INSTRUCT_CONFIG,
    DEFAULT_REC_CONFIG,
    check_lora_shape,
    data_label,
    evaluate_cell,
    is_done,
    limit_test,
    load_lm,
    read_metrics,
    trained,
    with_shots,
)
from .store import STORE_NAME, ResultStore

DEFAULT_MODEL = "smollm2-135m"
LLM_METHODS = ("tallrec", "r", "at", "icl")
BASELINE_METHODS = tuple(BASELINES)
METHODS = LLM_METHODS + BASELINE_METHODS
METHOD_LABELS = {
    "tallrec": "TALLRec (stage 1 + rec-tuning)",
    "r": "R (rec-tuning only)",
    "at": "AT (stage 1 only)",
    "icl": "in-context (untuned LLM)",
    **{name: name for name in BASELINE_METHODS},
}
K_INDEPENDENT = ("at", "icl")    # one cell per domain/model (icl: per seed with demonstrations)
XD_ROWS = ("movie", "book", "both")
XD_METHODS = tuple(f"xd-{r}" for r in XD_ROWS)
DOMAINS = ("movie", "book")
BUDGETS = {"quick": "reproduce-quick", "full": "reproduce-full"}
DEFAULT_ALPACA = Path("alpaca") / "alpaca_data_2k.json"
# Order cells run in: cheap first, so a short run records the most.
RUN_ORDER = ("like-share", "logreg", "gru4rec", "caser", "sasrec", "dros", "gru-bert", "dros-bert",
             "icl", "at", "r", "tallrec", "cross-domain")
BLOCK_KEYS = ("methods", "domains", "shots", "seeds", "models", "test_limit")
XD_KEYS = ("shots", "seeds", "models", "test_limit", "valid_from")


# ---------------------------------------------------------------- the grid config

@dataclass
class GridConfig:
    """A reproduce grid. The top-level methods/domains/shots/seeds/models/test_limit form one
    product; with `blocks`, the grid is the union of the blocks' products, each block taking the
    top-level value of any key it leaves out."""

    description: str = ""
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    domains: list[str] = field(default_factory=lambda: list(DOMAINS))
    shots: list[int] = field(default_factory=lambda: [16, 64, 256])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    models: list[str] = field(default_factory=lambda: [DEFAULT_MODEL])
    test_limit: int | None = None
    blocks: list[dict] | None = None
    cross_domain: dict | None = None        # {shots, seeds, models, test_limit, valid_from}; None = none
    rec_config: str = DEFAULT_REC_CONFIG    # rec-tuning recipe (file, or a packaged config name)
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


def _resolve_paths(grid: GridConfig, base: Path) -> None:
    """Relative file settings are relative to the config file's folder (else the working folder,
    else - for the recipes - a packaged config of that name)."""
    for name in ("rec_config", "instruct_config", "instruct_adapter", "alpaca"):
        value = getattr(grid, name)
        if isinstance(value, str) and value and not Path(value).is_absolute() and (base / value).exists():
            setattr(grid, name, str((base / value).resolve()))


def _norm_model(model: str, base: Path) -> str:
    from ..llm.models import REGISTRY

    if model in REGISTRY:
        return model
    for p in (Path(model).expanduser(), base / model):
        if p.exists():
            return str(p.resolve())
    return model


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
    out = []
    for m in _str_list(value, "methods", where):
        key = m.lower()
        if key not in METHODS:
            raise TallrecError(f"{where}: unknown method {m!r}; choose from {', '.join(METHODS)}")
        out.append(key)
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
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise TallrecError(f"{where}: test_limit must be a positive whole number or null, got {value!r}")
    return value


def validate_grid(grid: GridConfig, where: str, base: Path | None = None) -> None:
    """Normalise and check every setting; a one-line TallrecError naming the setting otherwise.
    Relative paths are taken relative to `base` (the config file's folder) where they exist there."""
    base = base or Path(".")
    _resolve_paths(grid, base)
    grid.methods = _methods(grid.methods, where)
    grid.domains = _domains(grid.domains, where)
    grid.shots = _int_list(grid.shots, "shots", where, 1)
    grid.seeds = _int_list(grid.seeds, "seeds", where, 0)
    grid.models = [_norm_model(m, base) for m in _str_list(grid.models, "models", where)]
    grid.test_limit = _test_limit(grid.test_limit, where)
    if grid.blocks is not None:
        if not isinstance(grid.blocks, list) or not all(isinstance(b, dict) for b in grid.blocks):
            raise TallrecError(f"{where}: blocks must be a list of mappings")
        for i, b in enumerate(grid.blocks):
            unknown = sorted(set(b) - set(BLOCK_KEYS))
            if unknown:
                raise TallrecError(f"{where}: blocks[{i}]: unknown setting(s) {', '.join(unknown)}; "
                                   f"known: {', '.join(BLOCK_KEYS)}")
            w = f"{where}: blocks[{i}]"
            if "methods" in b:
                b["methods"] = _methods(b["methods"], w)
            if "domains" in b:
                b["domains"] = _domains(b["domains"], w)
            if "shots" in b:
                b["shots"] = _int_list(b["shots"], "shots", w, 1)
            if "seeds" in b:
                b["seeds"] = _int_list(b["seeds"], "seeds", w, 0)
            if "models" in b:
                b["models"] = [_norm_model(m, base) for m in _str_list(b["models"], "models", w)]
            if "test_limit" in b:
                b["test_limit"] = _test_limit(b["test_limit"], w)
    if grid.cross_domain is not None:
        xd = grid.cross_domain
        if not isinstance(xd, dict):
            raise TallrecError(f"{where}: cross_domain must be a mapping ({', '.join(XD_KEYS)}) or null")
        unknown = sorted(set(xd) - set(XD_KEYS))
        if unknown:
            raise TallrecError(f"{where}: cross_domain: unknown setting(s) {', '.join(unknown)}; "
                               f"known: {', '.join(XD_KEYS)}")
        w = f"{where}: cross_domain"
        xd["shots"] = _int_list(xd.get("shots", [64]), "shots", w, 1)
        xd["seeds"] = _int_list(xd.get("seeds", grid.seeds), "seeds", w, 0)
        xd["models"] = [_norm_model(m, base) for m in _str_list(xd.get("models", grid.models), "models", w)]
        xd["test_limit"] = _test_limit(xd.get("test_limit", grid.test_limit), w)
        xd["valid_from"] = xd.get("valid_from", "both")
        if xd["valid_from"] not in ("first", "both"):
            raise TallrecError(f"{w}: valid_from {xd['valid_from']!r}: expected first or both")
    if not isinstance(grid.icl_demos, int) or isinstance(grid.icl_demos, bool) or grid.icl_demos < 0:
        raise TallrecError(f"{where}: icl_demos must be a whole number >= 0, got {grid.icl_demos!r}")
    if not isinstance(grid.baseline_options, dict):
        raise TallrecError(f"{where}: baseline_options must be a mapping of baseline name to options")
    for name, opts in grid.baseline_options.items():
        if name not in BASELINES:
            raise TallrecError(f"{where}: baseline_options: unknown baseline {name!r}; "
                               f"choose from {', '.join(BASELINES)}")
        if not isinstance(opts, dict):
            raise TallrecError(f"{where}: baseline_options: {name} must map option names to values")
    for name in ("rec_overrides", "instruct_overrides"):
        if not isinstance(getattr(grid, name), dict):
            raise TallrecError(f"{where}: {name} must be a mapping of settings")
    from ..llm.models import REGISTRY

    models = set(grid.models) | {m for b in grid.blocks or [] for m in b.get("models", [])}
    models |= set((grid.cross_domain or {}).get("models", []))
    for m in sorted(models):
        if m not in REGISTRY and not Path(m).expanduser().exists():
            raise TallrecError(f"{where}: model {m!r}: no such model folder or file "
                               f"(registry names: {', '.join(REGISTRY)})")
    if not expand_grid(grid):
        raise TallrecError(f"{where}: the grid holds no cells")


# ---------------------------------------------------------------- cells

def cell_key(method: str, domain: str, shots: int, seed: int, model: str | None) -> str:
    return f"{method}/{domain}/k{shots}/s{seed}/{model or '-'}"


def model_slug(model: str) -> str:
    from ..llm.models import REGISTRY

    if model in REGISTRY:
        return model
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(model).name or "model").strip("-")[:40] or "model"
    return f"{name}-{hashlib.sha1(model.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class Cell:
    """One unit of work. For method "cross-domain" it is a whole matrix (domain "movie+book"),
    recorded as six rows (`keys`)."""

    method: str
    domain: str
    shots: int
    seed: int
    model: str | None          # None for the baselines
    test_limit: int | None
    valid_from: str | None = None

    @property
    def is_xd(self) -> bool:
        return self.method == "cross-domain"

    @property
    def key(self) -> str:
        return cell_key(self.method, self.domain, self.shots, self.seed, self.model)

    @property
    def keys(self) -> list[str]:
        if not self.is_xd:
            return [self.key]
        return [cell_key(f"xd-{r}", c, self.shots, self.seed, self.model) for r in XD_ROWS for c in DOMAINS]

    def rel_dir(self) -> Path:
        leaf = f"k{self.shots}-s{self.seed}"
        if self.model is not None and self.model != DEFAULT_MODEL:
            leaf += f"-{model_slug(self.model)}"
        if self.is_xd:
            return Path("cells") / "cross-domain" / leaf
        return Path("cells") / self.method / self.domain / leaf

    def label(self) -> str:
        k = "K-independent" if self.shots == 0 else f"K={self.shots}"
        s = f"{self.method} {self.domain} {k} seed {self.seed}"
        if self.model is not None:
            s += f" [{self.model if len(self.model) <= 40 else model_slug(self.model)}]"
        return s


def expand_grid(grid: GridConfig) -> list[Cell]:
    """Every cell of the grid, in run order (cheap methods first), each once."""
    top = {k: getattr(grid, k) for k in BLOCK_KEYS}
    blocks = [{**top, **b} for b in grid.blocks] if grid.blocks is not None else [top]
    cells: dict[str, Cell] = {}
    for b in blocks:
        for m in b["methods"]:
            for d in b["domains"]:
                for model in (b["models"] if m in LLM_METHODS else [None]):
                    if m in K_INDEPENDENT:
                        shots = [0]
                        seeds = b["seeds"] if (m == "icl" and grid.icl_demos > 0) else [0]
                    else:
                        shots, seeds = b["shots"], b["seeds"]
                    for k in shots:
                        for s in seeds:
                            c = Cell(m, d, k, s, model, b["test_limit"])
                            prev = cells.get(c.key)
                            if prev is not None and prev.test_limit != c.test_limit:
                                raise TallrecError(f"cell {c.key} is in two blocks with different test_limit "
                                                   f"({prev.test_limit} and {c.test_limit})")
                            cells.setdefault(c.key, c)
    xd = grid.cross_domain
    if xd:
        for model in xd["models"]:
            for k in xd["shots"]:
                for s in xd["seeds"]:
                    c = Cell("cross-domain", "movie+book", k, s, model, xd["test_limit"], xd["valid_from"])
                    cells.setdefault(c.key, c)
    rank = {m: i for i, m in enumerate(RUN_ORDER)}
    return sorted(cells.values(), key=lambda c: (rank[c.method], c.shots, DOMAINS.index(c.domain)
                                                 if c.domain in DOMAINS else 0, c.seed, c.model or ""))


# ---------------------------------------------------------------- settings of a cell (resume safety)

class Context:
    """Recipes, stage-1 descriptors and data shared by the cells of one run."""

    def __init__(self, grid: GridConfig, out: Path, data_dir, domains: Mapping[str, DomainData] | None):
        self.grid, self.out, self.data_dir = grid, out, data_dir
        self.rec_path = resolve_config(grid.rec_config, "rec", DEFAULT_REC_CONFIG)
        self.instruct_path = resolve_config(grid.instruct_config, "instruct", DEFAULT_INSTRUCT_CONFIG)
        self._domains = dict(domains or {})
        self._rec: dict[str, TrainConfig] = {}
        self._stage1: dict[str, dict] = {}
        self._alpaca_sha: str | None = None

    # recipes
    def rec_cfg(self, model: str) -> TrainConfig:
        if model not in self._rec:
            self._rec[model] = load_config(TrainConfig, self.rec_path, {**self.grid.rec_overrides, "model": model})
        return self._rec[model]

    def instruct_cfg(self, model: str):
        from ..tuning.instruct import InstructConfig
        from .ablation import stage1_config

        icfg = load_config(InstructConfig, self.instruct_path, dict(self.grid.instruct_overrides))
        return stage1_config(icfg, self.rec_cfg(model))

    def alpaca_path(self) -> Path:
        p = Path(self.grid.alpaca) if self.grid.alpaca else resolve_data_dir(self.data_dir) / DEFAULT_ALPACA
        if not p.is_file():
            raise TallrecError(f"{p}: Alpaca records for stage 1 (methods tallrec, at) not found; set `alpaca:` "
                               f"or `instruct_adapter:` in the grid config, or put alpaca/alpaca_data_2k.json "
                               f"in the data folder")
        return p.resolve()

    def stage1(self, model: str) -> dict:
        """What stage 1 is for `model`: a given adapter, or Alpaca records + recipe (trained here)."""
        if model not in self._stage1:
            if self.grid.instruct_adapter:
                self._stage1[model] = {"adapter": str(Path(self.grid.instruct_adapter).resolve())}
            else:
                from ..core.io import sha256_file

                alpaca = self.alpaca_path()
                if self._alpaca_sha is None:
                    self._alpaca_sha = sha256_file(alpaca)
                self._stage1[model] = {"alpaca": str(alpaca), "alpaca_sha256": self._alpaca_sha,
                                       "config": self.instruct_cfg(model).to_dict()}
        return self._stage1[model]

    def stage1_dir(self, model: str) -> Path:
        return self.out / "cells" / "stage1" / model_slug(model)

    # data
    def domain(self, name: str) -> DomainData:
        if name not in self._domains:
            self._domains[name] = load_domain(name, self.data_dir)
        return self._domains[name]

    def test(self, domain: str, limit: int | None):
        return limit_test(self.domain(domain).test, limit, domain)

    def settings(self, cell: Cell) -> dict:
        s: dict[str, Any] = {"method": cell.method, "domain": cell.domain, "shots": cell.shots, "seed": cell.seed,
                             "model": cell.model, "test_limit": cell.test_limit}
        if cell.method in BASELINE_METHODS:
            s["baseline_options"] = dict(self.grid.baseline_options.get(cell.method, {}))
        elif cell.method == "icl":
            from ..llm.icl import ICL_CUTOFF

            s["icl_demos"] = self.grid.icl_demos
            s["cutoff"] = ICL_CUTOFF
        else:
            s["rec_config"] = self.rec_cfg(cell.model).to_dict()
            if cell.method in ("tallrec", "at"):
                s["stage1"] = self.stage1(cell.model)
            if cell.is_xd:
                s["valid_from"] = cell.valid_from
        return s


def _diff(a: dict, b: dict) -> list[str]:
    return sorted(k for k in set(a) | set(b) if json.dumps(a.get(k), sort_keys=True) != json.dumps(b.get(k), sort_keys=True))


# ---------------------------------------------------------------- host information

_HOST: dict | None = None


def host_info() -> dict:
    """CPU model, cores, memory, GPU (if any): recorded with every row."""
    global _HOST
    if _HOST is None:
        import platform

        cpu = platform.processor() or platform.machine()
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.lower().startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        mem = None
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    mem = round(int(line.split()[1]) / 1024 / 1024, 1)
        except (OSError, ValueError, IndexError):
            pass
        try:
            usable = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            usable = os.cpu_count()
        gpus: list[str] = []
        threads = None
        try:
            import torch

            threads = torch.get_num_threads()
            if torch.cuda.is_available():
                gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        except Exception:  # torch missing or broken: report what is known
            pass
        _HOST = {"hostname": platform.node(), "cpu": cpu, "logical_cores": os.cpu_count(), "usable_cores": usable,
                 "torch_threads": threads, "memory_gib": mem, "gpus": gpus, "os": platform.platform()}
    return _HOST


# ---------------------------------------------------------------- time estimates

# Seconds per cell on the development machine (2 shared CPU cores, SmolLM2-135M in bf16), used for
# a method until a cell of it has been timed in this folder: scoring ~0.12 s per test sample, a
# rec-tuning step ~0.85 s per training sample (both measured with one other job on the cores; with
# the cores heavily shared both were several times slower).
SCORE_S, TRAIN_S, LOAD_S = 0.12, 0.85, 10.0


def prior_seconds(cell: Cell, n_test: int, ctx: Context | None) -> float:
    if cell.method in ("like-share", "logreg"):
        return 1.0
    if cell.method in BASELINE_METHODS:
        return 30.0 if cell.method.endswith("bert") else 5.0  # the first one per domain embeds every item text
    if cell.method in ("icl", "at"):
        return LOAD_S + n_test * SCORE_S
    cfg = ctx.rec_cfg(cell.model) if ctx else TrainConfig()

    def train(k: int) -> float:
        steps = math.ceil(k / max(1, cfg.batch_size)) * cfg.epochs
        checks = (steps // cfg.eval_every + 1) if cfg.eval_every else 1
        valid = cfg.valid_size or 1000
        return LOAD_S + steps * min(cfg.batch_size, k) * TRAIN_S + checks * valid * SCORE_S

    if cell.is_xd:
        return train(cell.shots) * 2 + train(2 * cell.shots) + 6 * (LOAD_S + n_test * SCORE_S)
    return train(cell.shots) + LOAD_S + n_test * SCORE_S


def stage1_prior(ctx: Context, cells: Sequence[Cell]) -> float:
    """Seconds of the stage-1 trainings still to do for `cells` (~1.35 s per Alpaca record on 2 cores)."""
    total = 0.0
    if ctx.grid.instruct_adapter:
        return total
    from ..tuning.instruct import instruct_done

    for model in sorted({c.model for c in cells if c.method in ("tallrec", "at")}):
        icfg = ctx.instruct_cfg(model)
        if not instruct_done(ctx.stage1_dir(model), icfg):
            total += LOAD_S + (icfg.limit or 2000) * max(1, icfg.epochs) * 1.35
    return total


class Estimator:
    """Seconds left: measured means of finished cells (same method and K, else same method), else
    the priors above."""

    def __init__(self, rows: Sequence[dict]):
        self.times: dict[tuple, list[float]] = {}
        for r in rows:
            self.add(r)

    def add(self, row: dict) -> None:
        sec = row.get("cell_seconds")
        if isinstance(sec, (int, float)):
            method, sec = row["method"], float(sec)
            if method in XD_METHODS:  # each of the six rows holds a sixth of the matrix's time
                method, sec = "cross-domain", sec * len(XD_METHODS) * len(DOMAINS)
            self.times.setdefault((method, row["shots"], row.get("model")), []).append(sec)
            self.times.setdefault((method,), []).append(sec)

    def seconds(self, cell: Cell, n_test: int, ctx: Context | None) -> float:
        for key in ((cell.method, cell.shots, cell.model), (cell.method,)):
            if key in self.times:
                return sum(self.times[key]) / len(self.times[key])
        return prior_seconds(cell, n_test, ctx)


def fmt_duration(seconds: float) -> str:
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    seconds = int(round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {round(seconds % 3600 / 60):02d} min"


# ---------------------------------------------------------------- running

def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Plan:
    cells: list[Cell]
    done: set[str]            # keys already in the store
    settings: dict[str, dict]  # cell key -> settings


def plan(out: Path, grid: GridConfig, ctx: Context, store: ResultStore) -> Plan:
    """Every cell with its settings, checked against what the folder already holds (before any work)."""
    cells = expand_grid(grid)
    rows = store.by_key()
    settings, done = {}, set()
    for c in cells:
        s = ctx.settings(c)
        settings[c.key] = s
        for key in c.keys:
            row = rows.get(key)
            if row is not None:
                diff = _diff(s, row.get("settings", {}))
                if diff:
                    raise TallrecError(f"{out}: cell {key} was recorded with other settings ({', '.join(diff)} "
                                       f"differ); use another --out, or the recorded grid")
                done.add(key)
        cdir = out / c.rel_dir()
        prev = _read_cell_json(cdir)
        if prev is not None and not all(k in done for k in c.keys):
            diff = _diff(s, prev.get("settings", {}))
            if diff:
                raise TallrecError(f"{cdir}: holds a cell with other settings ({', '.join(diff)} differ); "
                                   f"use another --out, or remove that folder")
    return Plan(cells, done, settings)


def _read_cell_json(cdir: Path) -> dict | None:
    try:
        return json.loads((cdir / "cell.json").read_text())
    except (OSError, ValueError):
        return None


def run_reproduce(out: str | os.PathLike, grid: GridConfig, *, source: str = "", data_dir=None,
                  domains: Mapping[str, DomainData] | None = None, log: Callable[[str], None] | None = None,
                  progress: bool = True, report: bool = True) -> dict:
    """Run (or resume) the grid into `out`; returns counts. `domains` injects loaded data (tests)."""
    out = ensure_dir(out)
    lock = _lock(out)
    try:
        return _run(out, grid, source, data_dir, domains, log, progress, report)
    finally:
        lock.close()


def _lock(out: Path):
    """An exclusive lock on DIR/.reproduce.lock for the whole run (released by the OS on any exit,
    SIGKILL included): two runs appending to one store would record cells twice."""
    f = open(out / ".reproduce.lock", "a")
    try:
        import fcntl

        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # not POSIX: no lock
        pass
    except OSError:
        f.close()
        raise TallrecError(f"{out}: another `tallrec reproduce` is running on this folder") from None
    return f


def _free_memory() -> None:
    """Drop the last cell's models (reference cycles in HF models outlive the cell otherwise)."""
    import gc

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _run(out: Path, grid: GridConfig, source: str, data_dir, domains, log, progress: bool, report: bool) -> dict:
    store = ResultStore(out / STORE_NAME)
    cut = store.repair()
    ctx = Context(grid, out, data_dir, domains)
    pl = plan(out, grid, ctx, store)
    todo = [c for c in pl.cells if not all(k in pl.done for k in c.keys)]
    # Load the data of the unfinished cells now: a missing data folder fails before any work.
    needed = sorted({d for c in todo for d in (DOMAINS if c.is_xd else [c.domain])}, key=DOMAINS.index)
    for d in needed:
        ctx.domain(d)
    try:
        prev_data = json.loads((out / "reproduce.json").read_text()).get("data") or {}
    except (OSError, ValueError, AttributeError):
        prev_data = {}
    write_json_atomic(out / "reproduce.json", {
        "source": source, "grid": grid.to_dict(), "planned": [k for c in pl.cells for k in c.keys],
        "started": _now(), "data": {**prev_data, **{d: ctx.domain(d).source for d in needed}}})

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(pl.cells), initial=len(pl.cells) - len(todo), desc="reproduce", unit="cell",
                   dynamic_ncols=True, file=sys.stderr,
                   bar_format="{desc}: {n_fmt}/{total_fmt} cells |{bar}| {elapsed} elapsed{postfix}")
    say = log or (bar.write if bar is not None else print)

    rows = store.load()
    est = Estimator(rows)

    def n_test(c: Cell) -> int:
        doms = DOMAINS if c.is_xd else [c.domain]
        return sum(len(ctx.domain(d).test) if c.test_limit is None else c.test_limit for d in doms if d in ctx._domains)

    def left(i: int) -> float:
        return sum(est.seconds(c, n_test(c), ctx) for c in todo[i:]) + stage1_prior(ctx, todo[i:])

    say(f"[reproduce] {source or 'grid'}: {len(pl.cells)} cells, {len(pl.cells) - len(todo)} done before, "
        f"{len(todo)} to run (estimate {fmt_duration(left(0))}) -> {out}")
    if cut:
        say(f"[reproduce] {store.path}: dropped a partial last line ({cut} bytes) left by an interrupted write")
    failures: list[tuple[Cell, str]] = []
    try:
        for i, c in enumerate(todo):
            if bar is not None:
                bar.set_postfix_str(f"~{fmt_duration(left(i))} left (estimate); now: {c.label()}", refresh=True)
            if c.model is not None:  # LLM cells take minutes: say what starts
                say(f"[reproduce] ({len(pl.cells) - len(todo) + i + 1}/{len(pl.cells)}) {c.label()}: running")
            t0 = time.time()
            try:
                new_rows = run_cell(c, ctx, pl.settings[c.key], say)
            except TallrecError as e:
                failures.append((c, str(e)))
                cdir = out / c.rel_dir()
                ensure_dir(cdir)
                (cdir / "error.txt").write_text(str(e) + "\n")
                say(f"[reproduce] {c.label()}: FAILED: {e}")
            else:
                have = {r["key"] for r in rows}
                for r in new_rows:
                    if r["key"] in have:
                        continue
                    store.append(r)
                    rows.append(r)
                    est.add(r)
                auc = ", ".join(f"{r['method']}->{r['domain']} {r['auc']:.4f}" if c.is_xd else f"{r['auc']:.4f}"
                                for r in new_rows)
                say(f"[reproduce] {c.label()}: AUC {auc} ({time.time() - t0:.0f} s) recorded")
            if bar is not None:
                bar.update(1)
            if c.model is not None:
                _free_memory()
    finally:
        if bar is not None:
            bar.set_postfix_str("", refresh=False)
            bar.close()
        if report and rows:
            from .report import build_report

            try:
                path = build_report(out)
                say(f"[reproduce] report -> {path}")
            except Exception as e:  # the results are safe in the store; `tallrec report` can retry
                say(f"[reproduce] report not written ({type(e).__name__}: {e}); run `tallrec report {out}`")
    result = {"cells": len(pl.cells), "done_before": len(pl.cells) - len(todo), "ran": len(todo) - len(failures),
              "failed": len(failures), "store": str(store.path), "report": str(out / "report.md")}
    if failures:
        c, msg = failures[0]
        raise TallrecError(f"{len(failures)} of {len(todo)} cells failed (first: {c.label()}: {msg}); the others "
                           f"are recorded in {store.path}; rerun to retry the failed ones")
    return result


# ---------------------------------------------------------------- one cell

def run_cell(cell: Cell, ctx: Context, settings: dict, log: Callable[[str], None]) -> list[dict]:
    """Do (or finish) one cell; return its store rows."""
    cdir = ensure_dir(ctx.out / cell.rel_dir())
    write_json_atomic(cdir / "cell.json", {"key": cell.key, "settings": settings, "started": _now()})
    t0 = time.time()
    if cell.is_xd:
        return _run_xd(cell, ctx, settings, cdir, t0, log)
    recovered = is_done(cdir)
    if recovered:  # evaluated before a kill, not yet recorded: record it, compute nothing
        rec = read_metrics(cdir)
        log(f"[reproduce] {cell.label()}: evaluated before (metrics.json found); recording it")
    elif cell.method in BASELINE_METHODS:
        rec = _run_baseline_cell(cell, ctx, cdir)
    elif cell.method == "icl":
        rec = _run_icl_cell(cell, ctx, cdir)
    elif cell.method == "at":
        rec = _run_at_cell(cell, ctx, cdir, log)
    else:
        rec = _run_tuned_cell(cell, ctx, cdir, log)
    return [_row(cell.key, cell.method, cell.domain, cell, ctx, settings, rec, cdir,
                 None if recovered else time.time() - t0)]


def _row(key: str, method: str, domain: str, cell: Cell, ctx: Context, settings: dict, rec: dict, cdir: Path,
         seconds: float | None, **extra) -> dict:
    return {"key": key, "method": method, "domain": domain, "shots": cell.shots, "seed": cell.seed,
            "model": cell.model, "auc": rec["auc"], "n": rec["n"], "test_limit": cell.test_limit,
            "cell_seconds": None if seconds is None else round(seconds, 1), "dir": str(cdir.relative_to(ctx.out)),
            "finished": _now(), **extra, "settings": settings, "metrics": rec, "host": host_info()}


def _label(cell: Cell, ctx: Context, domain: str | None = None) -> str:
    d = domain or cell.domain
    return data_label(d, len(ctx.test(d, cell.test_limit)), cell.test_limit)


def _run_baseline_cell(cell: Cell, ctx: Context, cdir: Path) -> dict:
    data = ctx.domain(cell.domain)
    opts = dict(ctx.grid.baseline_options.get(cell.method, {}))
    return run_baseline(cell.method, data.train, data.valid, ctx.test(cell.domain, cell.test_limit), cell.shots,
                        cell.seed, out=cdir, data=_label(cell, ctx), **opts)


def _run_icl_cell(cell: Cell, ctx: Context, cdir: Path) -> dict:
    from ..llm.icl import ICL_CUTOFF, run_icl
    from ..llm.scoring import ScoreOptions

    cfg = ctx.rec_cfg(cell.model)
    data = ctx.domain(cell.domain)
    return run_icl(load_lm(cfg), data.train, ctx.test(cell.domain, cell.test_limit), ctx.grid.icl_demos, cell.seed,
                   cdir, data=_label(cell, ctx), options=ScoreOptions(batch_size=cfg.eval_batch_size, cutoff=ICL_CUTOFF))


def stage1_adapter(ctx: Context, model: str, log: Callable[[str], None]) -> Path:
    """The stage-1 adapter of `model`: the given one, or trained once into cells/stage1/<model>/."""
    from ..llm.adapters import require_adapter_dir

    cfg = ctx.rec_cfg(model)
    desc = ctx.stage1(model)
    if "adapter" in desc:
        adapter = require_adapter_dir(Path(desc["adapter"]))
        check_lora_shape(adapter, cfg)
        return adapter
    from ..tuning.instruct import instruct_done, load_alpaca_records, tune_instruct

    icfg = ctx.instruct_cfg(model)
    folder = ctx.stage1_dir(model)
    if not instruct_done(folder, icfg):
        records = load_alpaca_records(desc["alpaca"])
        log(f"[reproduce] stage 1 for {model}: Alpaca tuning on {desc['alpaca']} -> {folder} (once per model)")
        t0 = time.time()
        res = tune_instruct(icfg, records, folder, lm=load_lm(icfg), overwrite=True, source=desc["alpaca"], log=log)
        log(f"[reproduce] stage 1: {res.steps} steps on {res.used} records ({time.time() - t0:.0f} s)")
    adapter = (folder / "adapter").resolve()
    check_lora_shape(adapter, cfg)
    return adapter


def _run_at_cell(cell: Cell, ctx: Context, cdir: Path, log) -> dict:
    cfg = ctx.rec_cfg(cell.model)
    adapter = stage1_adapter(ctx, cell.model, log)
    return evaluate_cell(load_lm(cfg, adapter), ctx.test(cell.domain, cell.test_limit), cdir, cfg,
                         _label(cell, ctx), adapter, desc=cell.label(), method="at", rec_tuned=False,
                         note="AT does not depend on K or the seed")


def _run_tuned_cell(cell: Cell, ctx: Context, cdir: Path, log) -> dict:
    base = ctx.rec_cfg(cell.model)
    adapter = stage1_adapter(ctx, cell.model, log) if cell.method == "tallrec" else None
    cfg = with_shots(base, cell.shots, cell.seed, adapter)
    data = ctx.domain(cell.domain)
    if trained(cdir):
        log(f"[reproduce] {cell.label()}: training finished before; evaluating")
    else:
        rec_tune(cfg, data.train, data.valid, cdir, lm=load_lm(cfg))
    return evaluate_cell(load_lm(cfg, cdir / "adapter"), ctx.test(cell.domain, cell.test_limit), cdir, cfg,
                         _label(cell, ctx), cdir / "adapter", desc=cell.label(), seed=cell.seed, method=cell.method,
                         shots=cell.shots, rec_tuned=True, best_valid_auc=_best_valid(cdir),
                         stage1_adapter=None if adapter is None else str(adapter))


def _best_valid(cdir: Path) -> float | None:
    try:
        return json.loads((cdir / "history.json").read_text()).get("best_valid_auc")
    except (OSError, ValueError):
        return None


def _run_xd(cell: Cell, ctx: Context, settings: dict, cdir: Path, t0: float, log) -> list[dict]:
    from .cross_domain import run_cross_domain

    run_cross_domain(cdir, cell.shots, cell.seed, rec_config=ctx.rec_cfg(cell.model), valid_from=cell.valid_from,
                     test_limit=cell.test_limit, domains={d: ctx.domain(d) for d in DOMAINS}, log=log)
    share = (time.time() - t0) / 6
    rows = []
    for r in XD_ROWS:
        for col in DOMAINS:
            e = cdir / f"train-{r}" / f"test-{col}"
            rows.append(_row(cell_key(f"xd-{r}", col, cell.shots, cell.seed, cell.model), f"xd-{r}", col, cell, ctx,
                             settings, read_metrics(e), e, share, trained_on=r, tested_on=col,
                             valid_from=cell.valid_from if r == "both" else r))
    return rows


# ---------------------------------------------------------------- dry run

def describe(out: str | os.PathLike, grid: GridConfig, source: str = "", data_dir=None,
             domains: Mapping[str, DomainData] | None = None) -> str:
    """The planned cells (done / to run) per method, with the time estimate; runs nothing."""
    out = Path(out)
    store = ResultStore(out / STORE_NAME)
    ctx = Context(grid, out, data_dir, domains)
    cells = expand_grid(grid)
    rows = store.by_key()
    est = Estimator(rows.values())
    per: dict[str, list] = {}
    for c in cells:
        done = all(k in rows for k in c.keys)
        try:
            n = sum(len(ctx.test(d, c.test_limit)) for d in (DOMAINS if c.is_xd else [c.domain]))
        except TallrecError:
            n = c.test_limit or 1000
        p = per.setdefault(c.method, [0, 0, 0.0, set(), set(), set()])
        p[0] += 1
        p[1] += done
        p[2] += 0.0 if done else est.seconds(c, n, ctx)
        p[3].add(c.domain)
        p[4].add(c.shots)
        p[5].add(c.test_limit)
    lines = [f"{source or 'grid'}: {len(cells)} cells -> {out}", "",
             "| method | cells | done | domains | K | test limit | estimate left |", "|---|---|---|---|---|---|---|"]
    for m, (n, d, sec, doms, ks, lim) in per.items():
        lines.append(f"| {m} | {n} | {d} | {', '.join(sorted(doms))} | {', '.join('–' if k == 0 else str(k) for k in sorted(ks))} | "
                     f"{', '.join('all' if x is None else str(x) for x in lim)} | {fmt_duration(sec)} |")
    total = sum(p[2] for p in per.values())
    s1 = stage1_prior(ctx, [c for c in cells if not all(k in rows for k in c.keys)])
    if s1:
        total += s1
        lines += ["", f"stage 1 (Alpaca tuning, once per model, before the first tallrec/at cell): "
                      f"{fmt_duration(s1)}"]
    lines += ["", f"estimate left: {fmt_duration(total)} (2-core CPU figures until cells of a method have been timed "
                  f"in this folder)"]
    return "\n".join(lines)
