"""Resumable training: an interrupted run, rerun with the same command, ends with the adapter and the
validation history of an uninterrupted run; a finished run is not redone; another run is refused."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tallrec.core.errors import TallrecError
from tallrec.tuning import callback as callback_module
from tallrec.tuning import checkpoints
from tallrec.tuning.rec_tune import rec_tune

from .helpers import (
    POOL,
    VALID,
    checks,
    max_diff,
    one_thread,
    quick_cfg,
    quick_yaml,
    write_samples,
)

FP32_ROUND_OFF = 1e-6


@pytest.fixture(scope="module")
def reference(tiny_model_dir, tmp_path_factory):
    """The uninterrupted run (one thread), once for the module."""
    out = tmp_path_factory.mktemp("reference") / "run"
    with one_thread():
        res = rec_tune(quick_cfg(tiny_model_dir), POOL, VALID, out, progress=False, log=lambda m: None)
    assert res.steps == 12 and [h["step"] for h in res.history] == [3, 6, 9, 12]
    return out, res


def _interrupt_at(monkeypatch, step: int):
    """Make the next run die at the end of optimizer step `step`, before that step's checkpoint."""
    original = callback_module.ValidationCallback.on_step_end

    def on_step_end(self, args, state, control, **kw):
        control = original(self, args, state, control, **kw)
        if state.global_step == step:
            raise KeyboardInterrupt(f"interrupted at step {step}")
        return control

    monkeypatch.setattr(callback_module.ValidationCallback, "on_step_end", on_step_end)


@pytest.mark.parametrize("kill_at,resumed_from", [(5, 4), (9, 8)])  # mid-epoch; after a check, before its save
def test_interrupted_run_resumes_to_the_same_adapter(tmp_path, tiny_model_dir, reference, monkeypatch,
                                                     kill_at, resumed_from):
    ref_out, ref = reference
    out = tmp_path / "run"
    cfg = quick_cfg(tiny_model_dir)
    with one_thread():
        _interrupt_at(monkeypatch, kill_at)
        with pytest.raises(KeyboardInterrupt):
            rec_tune(cfg, POOL, VALID, out, progress=False)
        monkeypatch.undo()
        assert checkpoints.latest(out).name == f"step-{resumed_from}"
        assert not (out / "history.json").exists() and not (out / ".tallrec.lock").exists()
        logs = []
        res = rec_tune(cfg, POOL, VALID, out, progress=False, log=logs.append)
    assert f"resuming from step-{resumed_from}" in logs[0]
    assert max_diff(out / "adapter", ref_out / "adapter") <= FP32_ROUND_OFF
    assert checks(res.history) == checks(ref.history) and res.steps == ref.steps
    assert json.loads((out / "history.json").read_text())["best_step"] == ref.best_step
    # a finished run keeps no checkpoint and no lock
    assert sorted(p.name for p in out.iterdir()) == ["adapter", "config.yaml", "history.json", "inputs.json",
                                                     "train_samples.json"]


def test_checkpoints_hold_the_trainer_state_and_the_early_stopping_state(tmp_path, tiny_model_dir, monkeypatch):
    out = tmp_path / "run"
    with one_thread():
        _interrupt_at(monkeypatch, 7)
        with pytest.raises(KeyboardInterrupt):
            rec_tune(quick_cfg(tiny_model_dir), POOL, VALID, out, progress=False)
    ckpts = list((out / "checkpoints").iterdir())
    assert [p.name for p in ckpts] == ["step-6"]  # older ones pruned, the Trainer's staging folder renamed
    names = {p.name for p in ckpts[0].iterdir()}
    assert {"adapter_model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json",
            checkpoints.STATE} <= names
    state = checkpoints.read_state(ckpts[0])
    assert [h["step"] for h in state["history"]] == [3, 6]
    assert state["best"] == max(h["valid_auc"] for h in state["history"]) and state["bad"] in (0, 1)
    assert state["best_step"] in (3, 6) and (out / "adapter" / "adapter_model.safetensors").is_file()


def test_a_half_written_checkpoint_is_ignored(tmp_path, tiny_model_dir, reference, monkeypatch):
    """A kill while the Trainer writes checkpoint-N leaves that folder unrenamed: resume skips it."""
    ref_out, ref = reference
    out = tmp_path / "run"
    cfg = quick_cfg(tiny_model_dir)
    with one_thread():
        _interrupt_at(monkeypatch, 5)
        with pytest.raises(KeyboardInterrupt):
            rec_tune(cfg, POOL, VALID, out, progress=False)
        monkeypatch.undo()
        partial = out / "checkpoints" / "checkpoint-6"
        partial.mkdir()
        (partial / "adapter_model.safetensors").write_bytes(b"\0" * 10)
        logs = []
        res = rec_tune(cfg, POOL, VALID, out, progress=False, log=logs.append)
    assert "resuming from step-4" in logs[0]
    assert max_diff(out / "adapter", ref_out / "adapter") <= FP32_ROUND_OFF and checks(res.history) == checks(ref.history)


def test_finished_run_is_reported_and_not_redone(reference, tiny_model_dir):
    ref_out, ref = reference
    before = {p.name: p.stat().st_mtime_ns for p in ref_out.rglob("*")}
    logs = []
    res = rec_tune(quick_cfg(tiny_model_dir), POOL, VALID, ref_out, lm=object(), progress=False, log=logs.append)
    assert logs and logs[0].startswith(f"already trained: {ref_out}")
    assert res.best_valid_auc == ref.best_valid_auc and res.steps == ref.steps
    assert {p.name: p.stat().st_mtime_ns for p in ref_out.rglob("*")} == before  # nothing rewritten


def test_other_settings_are_refused_with_the_first_difference(reference, tiny_model_dir):
    ref_out, _ = reference
    with pytest.raises(TallrecError, match=r"already holds a different run \(lr: 0.005 there, 0.001 here\); "
                                           r"use another --out or --overwrite"):
        rec_tune(quick_cfg(tiny_model_dir, lr=1e-3), POOL, VALID, ref_out, progress=False)
    with pytest.raises(TallrecError, match=r"\(lora.r: 8 there, 4 here\)"):
        rec_tune(quick_cfg(tiny_model_dir, lora={"r": 4}), POOL, VALID, ref_out, progress=False)
    with pytest.raises(TallrecError, match=r"\(train samples: sha256 \w{12} there, \w{12} here\)"):
        rec_tune(quick_cfg(tiny_model_dir), POOL[::-1], VALID, ref_out, progress=False)
    with pytest.raises(TallrecError, match=r"\(validation samples: sha256"):
        rec_tune(quick_cfg(tiny_model_dir), POOL, VALID[::-1], ref_out, progress=False)


def test_overwrite_replaces_another_run(tmp_path, reference, tiny_model_dir):
    import shutil

    ref_out, _ = reference
    out = tmp_path / "run"
    shutil.copytree(ref_out, out)
    (out / "checkpoints" / "step-4").mkdir(parents=True)  # a stale checkpoint of the old run: not resumed
    cfg = quick_cfg(tiny_model_dir, epochs=1, eval_every=2, checkpoint_every=0)
    with one_thread():
        res = rec_tune(cfg, POOL, VALID, out, overwrite=True, progress=False, log=lambda m: None)
    assert res.steps == 4 and [h["step"] for h in res.history] == [2, 4]
    assert (out / "config.yaml").read_text().count("epochs: 1") == 1 and not (out / "checkpoints").exists()


def _tallrec_train(folder: Path, model_dir, out: Path, **popen) -> subprocess.Popen:
    train, valid = write_samples(folder)
    cmd = [sys.executable, "-m", "tallrec", "train", "--config", quick_yaml(folder, model_dir), "--train", train,
           "--valid", valid, "--out", out]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TALLREC_CACHE_DIR": str(folder / "cache")}
    return subprocess.Popen([str(c) for c in cmd], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


def _wait_for_checkpoint(proc: subprocess.Popen, out: Path, at_least: int, timeout: float = 300) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ckpt = checkpoints.latest(out)
        if ckpt is not None and checkpoints.step_of(ckpt) >= at_least:
            return ckpt
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    proc.kill()
    raise AssertionError(f"no checkpoint >= step {at_least} appeared; rc={proc.poll()}: {proc.communicate()[1][-2000:]}")


@pytest.mark.integration
@pytest.mark.slow
def test_sigkill_a_real_train_at_a_random_step_then_rerun(tmp_path, tiny_model_dir, reference):
    """`tallrec train` SIGKILLed at a random step after its first checkpoint; the same command again
    resumes (taking over the dead process's lock) and ends with the uninterrupted run's adapter."""
    ref_out, ref = reference
    out = tmp_path / "run"
    target = random.Random().choice([2, 3, 4, 6, 8, 9])  # a checkpoint step; the kill lands at or after it
    victim = _tallrec_train(tmp_path, tiny_model_dir, out)
    seen = _wait_for_checkpoint(victim, out, target)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL and not (out / "history.json").exists(), f"target {target}"
    last = checkpoints.latest(out)
    assert checkpoints.step_of(last) >= checkpoints.step_of(seen)
    rerun = _tallrec_train(tmp_path, tiny_model_dir, out)
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr[-3000:]
    assert f"resuming from {last.name}" in stdout
    history = json.loads((out / "history.json").read_text())
    diff = max_diff(out / "adapter", ref_out / "adapter")
    print(f"killed after {seen.name}, resumed from {last.name}; max |w - w_ref| = {diff:.3g}; "
          f"validation AUC {[round(a, 4) for _, a in checks(history['checks'])]} vs "
          f"{[round(a, 4) for _, a in checks(ref.history)]}")
    assert diff <= FP32_ROUND_OFF, f"target {target}"
    assert checks(history["checks"]) == checks(ref.history) and history["best_valid_auc"] == ref.best_valid_auc
    assert not (out / "checkpoints").exists()


def test_a_grid_cell_resumes_its_training(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """`tallrec paper reproduce` trains through rec_tune into the cell folder: a grid killed mid-training
    continues that cell from its last checkpoint and ends with the uninterrupted grid's adapter."""
    from experiments.helpers import domains, write_grid_yaml, write_rec_yaml

    from tallrec.experiments.grid.runner import run_grid
    from tallrec.experiments.grid.schema import load_grid

    rec = write_rec_yaml(tmp_path / "rec.yaml", valid_size=8, epochs=2)  # 4 steps, a check (and checkpoint) each
    cfg = write_grid_yaml(tmp_path / "grid.yaml", models=[str(tiny_model_dir)], seeds=[0], test_limit=12,
                          rec_config=str(rec), blocks=[{"methods": ["r"], "domains": ["movie"], "shots": [8]}])
    grid, source = load_grid(config=cfg)
    data = domains()

    def run(out):
        return run_grid(out, grid, source=source, domains=data, log=lambda m: None, progress=False, report=False)

    with one_thread():
        run(tmp_path / "ref")
        _interrupt_at(monkeypatch, 3)
        with pytest.raises(KeyboardInterrupt):
            run(tmp_path / "grid")
        monkeypatch.undo()
        cell = next((tmp_path / "grid" / "cells" / "r").rglob("checkpoints")).parent
        assert checkpoints.latest(cell).name == "step-2"
        capsys.readouterr()
        res = run(tmp_path / "grid")
    assert "resuming from step-2" in capsys.readouterr().out and res["ran"] == 1
    ref_cell = tmp_path / "ref" / cell.relative_to(tmp_path / "grid")
    assert max_diff(cell / "adapter", ref_cell / "adapter") <= FP32_ROUND_OFF
    assert json.loads((cell / "history.json").read_text())["checks"][-1]["valid_auc"] == \
        json.loads((ref_cell / "history.json").read_text())["checks"][-1]["valid_auc"]


def test_a_run_from_before_a_setting_existed_is_the_same_run(reference, tiny_model_dir):
    """A finished run whose config.yaml predates a setting (absent there, at its default here) or
    holds a removed one that was off (load_in_8bit: false) is still that run."""
    import yaml

    ref_out, ref = reference
    cfg_file = ref_out / "config.yaml"
    saved = cfg_file.read_text()
    try:
        old = yaml.safe_load(saved)
        old.pop("gradient_checkpointing")
        old["load_in_8bit"] = False
        cfg_file.write_text(yaml.safe_dump(old, sort_keys=False))
        logs = []
        res = rec_tune(quick_cfg(tiny_model_dir), POOL, VALID, ref_out, lm=object(), progress=False, log=logs.append)
        assert logs[0].startswith(f"already trained: {ref_out}") and res.steps == ref.steps
        with pytest.raises(TallrecError, match=r"\(gradient_checkpointing: '\(not set\)' there, True here\)"):
            rec_tune(quick_cfg(tiny_model_dir, gradient_checkpointing=True), POOL, VALID, ref_out, progress=False)
    finally:
        cfg_file.write_text(saved)
