"""Nothing is written before the inputs are validated; stage 1 resumes like rec-tuning."""

import os
from dataclasses import replace

import pytest

from tallrec.core.config import load_config
from tallrec.core.errors import TallrecError
from tallrec.tuning import callback as callback_module
from tallrec.tuning import checkpoints
from tallrec.tuning.instruct import InstructConfig, tune_instruct
from tallrec.tuning.rec_tune import rec_tune

from .helpers import POOL, VALID, max_diff, one_thread, quick_cfg


def _no_model(**over):
    """A config whose model cannot load: an error about anything else proves it came first."""
    return quick_cfg("/nonexistent/model", **over)


def test_an_output_that_is_a_file_is_refused_before_any_work(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(TallrecError, match="exists and is not a folder"):
        rec_tune(_no_model(), POOL, VALID, target, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_an_unwritable_output_is_refused_before_the_model_loads(tmp_path):
    with pytest.raises(TallrecError, match="cannot write there"):
        rec_tune(_no_model(), POOL, VALID, "/proc/tallrec-nope", progress=False)


@pytest.mark.parametrize("valid,match", [([], "needs validation samples"),
                                         ([s for s in VALID if s.label][:4], "both liked and not-liked")])
def test_bad_validation_samples_write_nothing(tmp_path, valid, match):
    with pytest.raises(TallrecError, match=match):
        rec_tune(_no_model(), POOL, valid, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_bad_settings_write_nothing(tmp_path):
    with pytest.raises(TallrecError, match="cannot draw 999 shots"):
        rec_tune(_no_model(shots=999), POOL, VALID, tmp_path / "run", progress=False)
    cfg = replace(_no_model(), micro_batch_size=3)  # built in Python, past load_config's checks
    with pytest.raises(TallrecError, match="micro_batch_size 3 must divide batch_size 2"):
        rec_tune(cfg, POOL, VALID, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_a_failure_after_the_model_loaded_leaves_no_folder(tmp_path, tiny_model_dir):
    """A question longer than the cutoff is found once the tokenizer is there: the folder created for
    the lock is removed again."""
    long = [replace(s, target="a very long title " * 40) for s in POOL]
    with pytest.raises(TallrecError):
        rec_tune(quick_cfg(tiny_model_dir), long, VALID, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


RECORDS = [{"instruction": f"Say the number {i}.", "input": "" if i % 2 else f"{i}", "output": f"{i}."}
           for i in range(6)]


def _icfg(model_dir, **over):
    return load_config(InstructConfig, None, {"model": str(model_dir), "precision": "fp32", "batch_size": 2,
                                              "micro_batch_size": 2, "epochs": 2, "cutoff": 128, "lr": 5e-3,
                                              "warmup_steps": 0, **over})


def test_stage1_resumes_from_its_epoch_checkpoint(tmp_path, tiny_model_dir, monkeypatch):
    """Without validation a checkpoint is taken at the end of each epoch (checkpoint_every 0)."""
    quiet = lambda m: None  # noqa: E731
    with one_thread():
        ref = tune_instruct(_icfg(tiny_model_dir), RECORDS, tmp_path / "ref", log=quiet)
        original = callback_module.ValidationCallback.on_step_end

        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 5:
                raise KeyboardInterrupt("interrupted")
            return original(self, args, state, control, **kw)

        monkeypatch.setattr(callback_module.ValidationCallback, "on_step_end", on_step_end)
        with pytest.raises(KeyboardInterrupt):
            tune_instruct(_icfg(tiny_model_dir), RECORDS, tmp_path / "run", log=quiet)
        monkeypatch.undo()
        assert checkpoints.latest(tmp_path / "run").name == "step-3"  # the end of epoch 1
        logs = []
        res = tune_instruct(_icfg(tiny_model_dir), RECORDS, tmp_path / "run", log=logs.append)
    assert any("resuming from step-3" in m for m in logs)
    assert res.steps == ref.steps == 6
    assert max_diff(tmp_path / "run" / "adapter", tmp_path / "ref" / "adapter") <= 1e-6
    assert not (tmp_path / "run" / "checkpoints").exists()
    logs = []
    again = tune_instruct(_icfg(tiny_model_dir), RECORDS, tmp_path / "run", lm=object(), log=logs.append)
    assert logs[0].startswith("already trained:") and again.steps == 6 and again.used == 6
    with pytest.raises(TallrecError, match=r"already holds a different run \(epochs: 2 there, 1 here\)"):
        tune_instruct(_icfg(tiny_model_dir, epochs=1), RECORDS, tmp_path / "run", log=quiet)
    with pytest.raises(TallrecError, match=r"\(records: sha256"):
        tune_instruct(_icfg(tiny_model_dir), RECORDS[:4], tmp_path / "run", log=quiet)
