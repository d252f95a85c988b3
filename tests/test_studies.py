"""The research in studies/ is not part of the package and CI does not run it. This smoke test
catches what a package change would break there: every study script still imports (loaded by
path, `main` not run), and every study grid config still loads by path. Their own tests:
`pytest studies/tests`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tallrec.experiments.grid.cells import expand_grid
from tallrec.experiments.grid.schema import load_grid

STUDIES = Path(__file__).resolve().parents[1] / "studies"
SCRIPTS = sorted(p for p in STUDIES.glob("*/*.py") if p.parent.name != "tests")
GRIDS = sorted(STUDIES.glob("*/*.yaml"))


def test_there_are_studies():
    assert len(SCRIPTS) >= 10 and GRIDS


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(STUDIES)))
def test_every_study_script_imports(path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))  # the scripts put studies/common on the path
    spec = importlib.util.spec_from_file_location(f"study_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # __name__ is not "__main__": nothing runs
    assert callable(getattr(module, "main", None)) or path.parent.name == "common"


@pytest.mark.parametrize("path", GRIDS, ids=lambda p: str(p.relative_to(STUDIES)))
def test_every_study_grid_loads_by_path(path):
    grid, where = load_grid(config=path)
    assert where == str(path) and expand_grid(grid)
