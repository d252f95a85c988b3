"""benchmarks/gpu_check.py's CPU part (--cpu-smoke): every step that needs no GPU, on the tiny model."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_gpu_check_cpu_smoke_runs_every_cpu_step(tmp_path):
    out = tmp_path / "smoke.json"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--cpu-smoke", "--json", str(out)],
                          env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["step"]: r for r in json.loads(out.read_text())["steps"]}
    expected = {"tiny model", "tiny train fp32", "tiny train bf16", "tiny train fp16", "tiny train 8bit",
                "tiny train 4bit", "tiny evaluate 64", "tiny rank 4 users", "http round trip", "torchrun rank"}
    assert set(rows) == expected
    assert rows["tiny train fp16"]["status"] == "skipped" and "CUDA" in rows["tiny train fp16"]["reason"]
    for name in expected - {"tiny train fp16", "tiny train 8bit", "tiny train 4bit"}:
        assert rows[name]["status"] == "ok", (name, rows[name])
    quantized = "ok" if importlib.util.find_spec("bitsandbytes") else "skipped"
    for name in ("tiny train 8bit", "tiny train 4bit"):  # bitsandbytes 0.50 trains on a CPU too
        assert rows[name]["status"] == quantized, rows[name]
    assert rows["tiny evaluate 64"]["data"]["n"] == 64
    assert proc.stdout.count("tiny train") >= 5 and "ok," in proc.stdout  # the table and its summary line
