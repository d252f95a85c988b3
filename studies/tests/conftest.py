"""The studies' own tests (`pytest studies/tests`; CI runs only tests/test_studies.py, the import
smoke test). They reuse the package tests' fixtures and helpers rather than copying them."""

from __future__ import annotations

import importlib.util
import runpy
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "studies" / "common")]  # `helpers`, `validation_protocol`

_spec = importlib.util.spec_from_file_location("tallrec_tests_conftest", REPO / "tests" / "conftest.py")
_package_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_package_fixtures)
shared_data = _package_fixtures.shared_data
tiny_model_dir = _package_fixtures.tiny_model_dir


@pytest.fixture
def study_main():
    """study_main("int8-probe/int8_probe.py"): that script's `main`, loaded without running it."""
    return lambda relpath: runpy.run_path(str(REPO / "studies" / relpath), run_name="study")["main"]
