"""What the cells of one grid run share: the recipes, each model's stage 1, the loaded data.

`settings(cell)` is what a cell is recorded with; a rerun compares it with the stored row, so a
folder never mixes results of different recipes, test limits or stage-1 adapters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...core.config import load_config, resolve_config
from ...core.defaults import DEFAULT_RECIPE
from ...core.errors import TallrecError
from ...core.io import sha256_file
from ...core.paths import data_dir as resolve_data_dir
from ...data.datasets import DomainData, load_domain
from ...tuning.config import InstructConfig, TrainConfig
from .. import methods
from ..common import DEFAULT_INSTRUCT_CONFIG
from ..llm_cells import limit_test
from .cells import Cell, model_slug

DEFAULT_ALPACA = Path("alpaca") / "alpaca_data_2k.json"


def stage1_config(icfg: InstructConfig, rec: TrainConfig) -> InstructConfig:
    """Stage-1 settings with the rec-tuning model, precision, quantization, memory lever and LoRA
    shape, so that rec-tuning can continue the adapter on the same machine."""
    return replace(icfg, model=rec.model, precision=rec.precision, quantize=rec.quantize,
                   gradient_checkpointing=rec.gradient_checkpointing, lora=rec.lora)


class Context:
    """Recipes, stage-1 descriptors and data shared by the cells of one run."""

    def __init__(self, grid, out: Path, data_dir=None, domains: Mapping[str, DomainData] | None = None):
        self.grid, self.out, self.data_dir = grid, Path(out), data_dir
        self.rec_path = resolve_config(grid.rec_config, "rec", DEFAULT_RECIPE)
        self.instruct_path = resolve_config(grid.instruct_config, "instruct", DEFAULT_INSTRUCT_CONFIG)
        self.domains: dict[str, DomainData] = dict(domains or {})
        self._rec: dict[str, TrainConfig] = {}
        self._stage1: dict[str, dict] = {}
        self._alpaca_sha: str | None = None

    @staticmethod
    def method(cell: Cell) -> methods.Method:
        return methods.get(cell.method)

    # ------------------------------------------------------------ recipes

    def rec_cfg(self, model: str) -> TrainConfig:
        if model not in self._rec:
            self._rec[model] = load_config(TrainConfig, self.rec_path, {**self.grid.rec_overrides, "model": model})
        return self._rec[model]

    def instruct_cfg(self, model: str) -> InstructConfig:
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
                alpaca = self.alpaca_path()
                if self._alpaca_sha is None:
                    self._alpaca_sha = sha256_file(alpaca)
                self._stage1[model] = {"alpaca": str(alpaca), "alpaca_sha256": self._alpaca_sha,
                                       "config": self.instruct_cfg(model).to_dict()}
        return self._stage1[model]

    def stage1_dir(self, model: str) -> Path:
        return self.out / "cells" / "stage1" / model_slug(model)

    # ------------------------------------------------------------ data

    def domain(self, name: str) -> DomainData:
        if name not in self.domains:
            self.domains[name] = load_domain(name, self.data_dir, self.grid.test_split)
        return self.domains[name]

    def test(self, domain: str, limit: int | None):
        return limit_test(self.domain(domain).test, limit, domain)

    def n_test(self, cell: Cell, default: int = 1000) -> int:
        """Test samples a cell scores (the limit, or `default` for data not loaded yet)."""
        return sum(cell.test_limit or (len(self.domains[d].test) if d in self.domains else default)
                   for d in cell.domains)

    # ------------------------------------------------------------ what a cell is recorded with

    def settings(self, cell: Cell) -> dict:
        m = self.method(cell)
        s: dict[str, Any] = {"method": cell.method, "domain": cell.domain, "shots": cell.shots, "seed": cell.seed,
                             "model": cell.model, "test_limit": cell.test_limit}
        if self.grid.test_split != "official":  # absent for the official files: older runs stay valid
            s["test_split"] = self.grid.test_split
        if m.kind in ("baseline", "floor"):
            s["baseline_options"] = dict(self.grid.baseline_options.get(cell.method, {}))
        elif m.kind == "llm-untuned":
            from ...baselines.icl import ICL_CUTOFF

            s["icl_demos"] = self.grid.icl_demos
            s["cutoff"] = ICL_CUTOFF
        else:
            s["rec_config"] = self.rec_cfg(cell.model).to_dict()
            if m.needs_stage1:
                s["stage1"] = self.stage1(cell.model)
            if cell.valid_from is not None:
                s["valid_from"] = cell.valid_from
        return s
