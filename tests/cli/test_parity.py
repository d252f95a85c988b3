"""Every command with a Python twin gives the same result: one set of defaults (core/defaults.py).

`TrainConfig()` is the recipe of `tallrec train`, `tallrec quickstart` and `tallrec.train()`; the
paper's recipe is the packaged `paper` config. `tallrec evaluate` and `tallrec.load(RUN).evaluate`
score at the adapter's own cutoff with the same batch size, so they agree to the last digit.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
from helpers import synthetic

import tallrec
from tallrec.core.config import load_config, resolve_config
from tallrec.core.defaults import DEFAULT_RECIPE, PAPER_RECIPE
from tallrec.data import load_samples, save_samples
from tallrec.tuning.api import train_config
from tallrec.tuning.config import PAPER_SETTINGS, TrainConfig

TINY = {"shots": 8, "batch_size": 4, "micro_batch_size": 4, "epochs": 1, "eval_every": 1, "cutoff": 160,
        "precision": "fp32", "augment": 1}


def test_train_config_is_the_default_recipe_of_every_command():
    default = TrainConfig()
    assert load_config(TrainConfig, resolve_config(None, "rec", DEFAULT_RECIPE)) == default  # train, quickstart
    assert train_config() == default                                                          # tallrec.train
    assert (default.lr, default.batch_size, default.epochs, default.augment, default.loss_on) == (
        1e-3, 8, 1, 2, "answer")


def test_the_paper_recipe_is_the_packaged_paper_config():
    paper = load_config(TrainConfig, resolve_config(PAPER_RECIPE, "rec"))
    assert asdict(paper) == {**asdict(TrainConfig()), **PAPER_SETTINGS}


def test_python_overrides_are_the_command_flags():
    assert train_config("paper", lr=3e-4, lora_r=16) == load_config(
        TrainConfig, resolve_config("paper", "rec"), {"lr": 3e-4, "lora.r": 16})


@pytest.fixture
def files(tmp_path):
    save_samples(tmp_path / "train.json", synthetic(30, seed=0))
    save_samples(tmp_path / "valid.json", synthetic(16, seed=1))
    save_samples(tmp_path / "test.json", synthetic(12, seed=2))
    return tmp_path


def test_train_and_evaluate_equal_their_python_twins(run_cli, files, tiny_model_dir):
    flags = [x for k, v in TINY.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    code, _, err = run_cli("train", "--train", files / "train.json", "--valid", files / "valid.json",
                           "--out", files / "cli-run", "--model", tiny_model_dir, *flags)
    assert code == 0, err
    run = tallrec.train(train=files / "train.json", valid=files / "valid.json", out=files / "py-run",
                        model=str(tiny_model_dir), **TINY)
    assert run == files / "py-run"
    assert (run / "config.yaml").read_text() == (files / "cli-run" / "config.yaml").read_text()
    cli_hist = json.loads((files / "cli-run" / "history.json").read_text())
    py_hist = json.loads((run / "history.json").read_text())
    assert cli_hist["best_valid_auc"] == py_hist["best_valid_auc"]

    code, _, err = run_cli("evaluate", "--adapter", files / "cli-run", "--data", files / "test.json",
                           "--out", files / "ev", "--precision", "fp32")
    assert code == 0, err
    rec = tallrec.load(files / "cli-run", precision="fp32")
    assert rec.cutoff == TINY["cutoff"]  # the adapter's own training cutoff, in both
    py = rec.evaluate(load_samples(files / "test.json"), data=str(files / "test.json"), out=files / "ev-py")
    cli = json.loads((files / "ev" / "metrics.json").read_text())
    assert py["auc"] == cli["auc"] and py["n"] == cli["n"]
    assert (files / "ev" / "scores.jsonl").read_text() == (files / "ev-py" / "scores.jsonl").read_text()
    # the cutoff matters here (these prompts are longer than 160 tokens): a 512 cutoff scores otherwise
    code, _, err = run_cli("evaluate", "--adapter", files / "cli-run", "--data", files / "test.json",
                           "--out", files / "ev512", "--precision", "fp32", "--cutoff", "512")
    assert code == 0, err
    assert (files / "ev512" / "scores.jsonl").read_text() != (files / "ev" / "scores.jsonl").read_text()


def test_load_takes_what_recommender_load_takes(tiny_model_dir):
    rec = tallrec.load("none", model=str(tiny_model_dir), precision="fp32", device="cpu", batch_size=3, cutoff=200,
                       domain="book")
    assert (rec.cutoff, rec.engine.batch_size, rec.domain, rec.adapter) == (200, 3, "book", None)
    top = rec.rank(tallrec.User(liked=["A (1990)"], disliked=[]), ["B (1991)", tallrec.Item(title="C", id=7)], k=None)
    assert all(isinstance(r.item, tallrec.Item) for r in top)  # a bare title comes back as an Item
    assert {r.item.id for r in top} == {None, 7}
