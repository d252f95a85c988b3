"""One writer per run folder: `tallrec train`, `tune-instruct` and `evaluate` hold a lock on their
folder while they write; a second process is refused with one line naming the holder's pid."""

import os
import subprocess
import sys

import pytest

from tallrec.core.errors import TallrecError
from tallrec.core.lock import FolderLock, locked_folder
from tallrec.tuning import callback as callback_module
from tallrec.tuning.rec_tune import rec_tune

from .helpers import POOL, VALID, one_thread, quick_cfg, quick_yaml, write_samples


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("tallrec: error:")]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


@pytest.mark.integration
def test_a_second_train_on_a_folder_in_training_is_refused(tmp_path, tiny_model_dir, monkeypatch):
    """While this process trains into `out`, a real `tallrec train` on the same folder (same command)
    gets one error line naming this process; the training here is not disturbed."""
    out = tmp_path / "run"
    train, valid = write_samples(tmp_path)
    cmd = [sys.executable, "-m", "tallrec", "train", "--config", quick_yaml(tmp_path, tiny_model_dir),
           "--train", train, "--valid", valid, "--out", out]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TALLREC_CACHE_DIR": str(tmp_path / "cache")}
    seen = {}
    original = callback_module.ValidationCallback.on_step_end

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == 3 and not seen:
            seen["proc"] = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=300)
        return original(self, args, state, control, **kw)

    monkeypatch.setattr(callback_module.ValidationCallback, "on_step_end", on_step_end)
    with one_thread():
        res = rec_tune(quick_cfg(tiny_model_dir), POOL, VALID, out, progress=False, log=lambda m: None)
    proc = seen["proc"]
    assert proc.returncode == 1
    line = _one_error_line(proc.stderr)
    assert line == (f"tallrec: error: {out}: another `tallrec train` (pid {os.getpid()}) is working in this folder; "
                    f"wait for it or use another folder")
    assert res.steps == 12 and (out / "history.json").is_file() and not (out / ".tallrec.lock").exists()


def test_the_lock_is_held_while_training_and_released_after(tmp_path, tiny_model_dir, monkeypatch):
    out = tmp_path / "run"
    refused = []
    original = callback_module.ValidationCallback.on_step_end

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == 1:
            with pytest.raises(TallrecError, match=rf"pid {os.getpid()}\)") as e:
                FolderLock(out, what="tallrec train").acquire()  # another open file: refused like a process
            refused.append(str(e.value))
        return original(self, args, state, control, **kw)

    monkeypatch.setattr(callback_module.ValidationCallback, "on_step_end", on_step_end)
    with one_thread():
        rec_tune(quick_cfg(tiny_model_dir, epochs=1), POOL, VALID, out, progress=False, log=lambda m: None)
    assert refused and "another `tallrec train`" in refused[0]
    FolderLock(out).acquire().release()  # free again


def test_tune_instruct_holds_the_lock(tmp_path, tiny_model_dir):
    from tallrec.core.config import load_config
    from tallrec.tuning.instruct import InstructConfig, tune_instruct

    out = tmp_path / "stage1"
    cfg = load_config(InstructConfig, None, {"model": str(tiny_model_dir), "precision": "fp32", "batch_size": 2,
                                             "micro_batch_size": 2, "epochs": 1, "cutoff": 128})
    records = [{"instruction": "Name a colour.", "input": "", "output": "Red."}] * 2
    out.mkdir()
    with FolderLock(out, what="tallrec tune-instruct"):
        with pytest.raises(TallrecError, match=rf"another `tallrec tune-instruct` \(pid {os.getpid()}\)"):
            tune_instruct(cfg, records, out, log=lambda m: None)


def test_evaluate_holds_the_lock_on_its_folder(tmp_path, tiny_model_dir):
    from helpers import synthetic

    from tallrec.llm.evaluation import evaluate
    from tallrec.llm.models import load_model
    from tallrec.llm.scoring import ScoreOptions

    lm = load_model(str(tiny_model_dir), precision="fp32", device="cpu")
    samples = synthetic(8, seed=3)
    out = tmp_path / "eval"
    with locked_folder(out, what="tallrec evaluate"):
        with pytest.raises(TallrecError, match=rf"another `tallrec evaluate` \(pid {os.getpid()}\)"):
            evaluate(lm, samples, out, data="x", options=ScoreOptions(progress=False))
    evaluate(lm, samples, out, data="x", options=ScoreOptions(progress=False))
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "scores.jsonl"]  # no lock file left


def test_locked_folder_removes_a_folder_it_created_when_the_work_fails(tmp_path):
    with pytest.raises(RuntimeError):
        with locked_folder(tmp_path / "new"):
            raise RuntimeError("failed before writing")
    assert not (tmp_path / "new").exists()
    (tmp_path / "old").mkdir()
    with pytest.raises(RuntimeError):
        with locked_folder(tmp_path / "old"):
            raise RuntimeError("failed")
    assert (tmp_path / "old").is_dir() and not list((tmp_path / "old").iterdir())


@pytest.mark.integration
def test_a_stale_lock_of_a_killed_process_is_taken_over(tmp_path):
    """A holder killed with SIGKILL leaves its lock file (pid inside) but not the flock."""
    code = (f"from tallrec.core.lock import FolderLock; FolderLock({str(tmp_path)!r}, remove=True).acquire(); "
            "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", code])
    assert proc.returncode == -9 and (tmp_path / ".tallrec.lock").exists()
    with FolderLock(tmp_path, remove=True) as lock:
        assert lock.held and (tmp_path / ".tallrec.lock").read_text().strip() == str(os.getpid())
    assert not (tmp_path / ".tallrec.lock").exists()
