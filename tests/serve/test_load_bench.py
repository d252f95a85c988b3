"""benchmarks/serve_load.py on the tiny model: it starts and stops its own servers, every request is
answered with every score, and the served scores are the offline Recommender's."""

import json
import runpy
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # a benchmark smoke run: it starts and stops real servers

REPO = Path(__file__).resolve().parents[2]
KEYS = ("clients", "requests", "errors", "lost", "throughput_batched", "throughput_batch1", "ratio",
        "ratio_vs_offline", "p99_ms_batched", "p99_ms_batch1")


def test_serve_load_on_the_tiny_model(tiny_model_dir, tmp_path, capsys):
    main = runpy.run_path(str(REPO / "benchmarks" / "serve_load.py"), run_name="bench")["main"]
    out = tmp_path / "load.json"
    res = main(["--model", str(tiny_model_dir), "--no-adapter", "--clients", "4", "--requests", "3",
                "--batch1-clients", "2", "--batch1-requests", "2", "--candidates", "5", "--history", "4",
                "--max-wait-ms", "20", "--precision", "fp32", "--data-dir", str(tmp_path / "no-data"), "--json", str(out)])
    saved = json.loads(out.read_text())
    assert all(k in saved for k in KEYS), sorted(saved)
    assert saved["clients"] == 4 and saved["requests"] == 12 and saved["settings"]["batch1_requests"] == 4
    assert saved["errors"] == 0 and saved["lost"] == 0 and saved["settings"]["exit_codes"] == [0, 0]
    assert saved["max_abs_diff_vs_offline"] < 1e-4
    assert res["requests"] == saved["requests"]
    printed = capsys.readouterr().out
    assert "p99" in printed and "micro-batching / --max-batch 1" in printed
