"""The probe benchmarks behind rejected or settled ideas run end to end on a tiny model (no timing asserts)."""

import json
import sys

import pytest
from helpers import synthetic

from tallrec.data import save_samples


def test_allocator_ab_alternates_fresh_processes(tmp_path, tiny_model_dir, shared_data, monkeypatch, study_main):
    monkeypatch.setenv("TALLREC_DATA_DIR", str(shared_data))
    out = tmp_path / "alloc.json"
    study_main("allocator/allocator_ab.py")(["--n", "4", "--batch-size", "2", "--reps", "1", "--rounds", "2",
                                             "--model", str(tiny_model_dir), "--json", str(out)])
    fig = json.loads(out.read_text())
    assert [r["first"] for r in fig["rounds"]] == ["default", "tuned"]  # the order swaps every round
    for r in fig["rounds"]:
        assert r["default"]["applied"] is False
        assert r["tuned"]["applied"] is sys.platform.startswith("linux")  # glibc: see tests/core/test_runtime.py
        assert r["default"]["samples_per_s"] > 0 and r["tuned"]["samples_per_s"] > 0


def test_allocator_ab_reports_a_bad_model_in_one_line(tmp_path, study_main):
    with pytest.raises(SystemExit) as e:
        study_main("allocator/allocator_ab.py")(["--rounds", "1", "--model", str(tmp_path / "missing")])
    msg = str(e.value)
    assert "missing" in msg and "no such model" in msg and "\n" not in msg and "Traceback" not in msg


def test_int8_probe_runs_and_compares_on_the_same_samples(tmp_path, tiny_model_dir, study_main):
    save_samples(tmp_path / "s.json", synthetic(8, seed=4))
    out = tmp_path / "int8.json"
    study_main("int8-probe/int8_probe.py")(["--n", "8", "--model", str(tiny_model_dir),
                                            "--data", str(tmp_path / "s.json"), "--json", str(out)])
    fig = json.loads(out.read_text())
    assert fig["n"] == 8 and fig["fp32_seconds"] > 0 and fig["int8_seconds"] > 0
    assert 0 <= fig["fp32_auc"] <= 1 and 0 <= fig["int8_auc"] <= 1
    assert fig["max_abs_diff"] > 0  # int8 weights change the scores: the probe measures by how much
