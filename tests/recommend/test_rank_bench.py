"""benchmarks/rank_bench.py runs end to end on the tiny model and writes what it promises (no timing asserts)."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # a benchmark smoke run

REPO = Path(__file__).resolve().parents[2]


def test_rank_bench_json(tmp_path, tiny_model_dir):
    main = runpy.run_path(str(REPO / "benchmarks" / "rank_bench.py"), run_name="bench")["main"]
    out = tmp_path / "rank.json"
    main(["--model", str(tiny_model_dir), "--precision", "fp32", "--synthetic", "--users", "2",
          "--candidates", "20,100", "--json", str(out)])
    fig = json.loads(out.read_text())
    assert {"ratio_20", "ratio_100", "fraction_of_peak", "gemm_peak_flops"} <= fig.keys()
    assert fig["max_abs_diff"] < 1e-4 and fig["dtype"] == "float32"
    by = fig["by_candidates"]
    assert by["20"]["pairs"] == 40 and by["100"]["pairs"] == 200
    # The engine runs each user's prefix once: fewer FLOPs per candidate with more candidates.
    assert by["100"]["engine_flops"] / 200 < by["20"]["engine_flops"] / 40
