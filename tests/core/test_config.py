"""Settings: one schema per config kind, packaged configs that load and explain every key,
values checked when a config is built, and command-line flags derived from the dataclasses."""

import dataclasses
import inspect
import re

import pytest
import yaml

from tallrec.baselines.settings import CollabSettings, SeqSettings, SimpleSettings
from tallrec.core.config import (
    build_config,
    load_config,
    packaged_config,
    packaged_configs,
    resolve_config,
)
from tallrec.core.errors import TallrecError
from tallrec.experiments.grid.schema import GridConfig
from tallrec.tuning.config import InstructConfig, TrainConfig

SCHEMAS = {"rec": TrainConfig, "instruct": InstructConfig, "baselines": None, "grid": GridConfig}
KEY = re.compile(r"^(\w+):")


def _all_packaged():
    return [(kind, name) for kind in SCHEMAS for name in packaged_configs(kind)]


@pytest.mark.parametrize("kind, name", _all_packaged(), ids=lambda v: str(v))
def test_every_packaged_config_loads_and_comments_every_key(kind, name):
    path = packaged_config(kind, f"{name}.yaml")
    if kind == "baselines":
        cls = {"sequential": SeqSettings, "simple": SimpleSettings, "collab": CollabSettings}[name]
    else:
        cls = SCHEMAS[kind]
    load_config(cls, path)
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        m = KEY.match(line)
        if m and m.group(1) != "description":
            commented = "#" in line or (i > 0 and lines[i - 1].lstrip().startswith("#"))
            assert commented, f"{path.name}: key {m.group(1)!r} has no comment"


@pytest.mark.parametrize("name, cls", [("sequential", SeqSettings), ("simple", SimpleSettings)])
def test_baseline_configs_spell_out_the_defaults(name, cls):
    values = yaml.safe_load(packaged_config("baselines", f"{name}.yaml").read_text())
    assert load_config(cls, packaged_config("baselines", f"{name}.yaml")) == cls()
    assert set(values) == {f.name for f in dataclasses.fields(cls)}


def test_packaged_names_resolve_per_schema(tmp_path):
    assert resolve_config("paper", "rec") == packaged_config("rec", "paper.yaml")
    assert resolve_config("configs/rec/cpu-quick.yaml", "rec") == packaged_config("rec", "cpu-quick.yaml")
    assert resolve_config("sequential", "baselines") == packaged_config("baselines", "sequential.yaml")
    own = tmp_path / "paper.yaml"
    own.write_text("lr: 0.5\n")
    assert resolve_config(own, "rec") == own  # a real path wins over a packaged name
    with pytest.raises(TallrecError, match="packaged rec configs: cpu-augment, cpu-quick, paper, ranking-cpu"):
        resolve_config("papr", "rec")


@pytest.mark.parametrize("yaml_text, fragment", [
    ("lr: fast\n", "lr: expected a number, got 'fast'"),
    ("lr: -1\n", "lr: must be more than 0.0, got -1.0"),
    ("epochs: 2.5\n", "epochs: expected an integer, got 2.5"),
    ("epochs: .inf\n", "epochs: expected an integer, got inf"),  # not an OverflowError traceback
    ("lr: .nan\n", "lr: expected a number, got nan"),
    ("balanced: yes please\n", "balanced: expected true or false"),
    ("lora: {r: 0}\n", "lora.r: must be at least 1, got 0"),
    ("lora: 8\n", "lora: expected a mapping of settings"),
    ("lora: {rank: 8}\n", "unknown setting(s) lora.rank"),
    ("precision: fp8\n", "precision: 'fp8' is not one of auto, fp32, bf16, fp16"),
    ("batch_size: 10\nmicro_batch_size: 4\n", "micro_batch_size 4 must divide batch_size 10"),
    ("prompt: fancy\n", "unknown prompt style 'fancy'"),
    ("model: 7\n", "model: expected a string, got 7"),
    ("lora: {targets: []}\n", "lora.targets: must not be empty"),
])
def test_a_bad_value_in_a_file_is_one_line_naming_the_file_and_key(tmp_path, yaml_text, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(TallrecError) as e:
        load_config(TrainConfig, path)
    assert fragment in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_yaml_and_command_line_values_are_coerced_to_the_field_types(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: 1e-4\nshots: 16\nlora: {targets: [q_proj, k_proj]}\n")  # YAML reads 1e-4 as a string
    cfg = load_config(TrainConfig, path, {"epochs": "3", "lora.r": 4})
    assert cfg.lr == 1e-4 and isinstance(cfg.lr, float) and cfg.epochs == 3 and cfg.lora.r == 4
    assert cfg.lora.targets == ["q_proj", "k_proj"] and cfg.lora.alpha == 16
    assert load_config(TrainConfig, None, {"lora.targets": "q_proj, o_proj"}).lora.targets == ["q_proj", "o_proj"]
    with pytest.raises(TallrecError, match=r"^--lr: must be more than 0.0, got -1.0$"):
        load_config(TrainConfig, path, {"lr": -1})
    assert build_config(SeqSettings, {"lr": "0.01"}, "grid").lr == 0.01


def test_every_setting_is_a_flag_of_its_command():
    from tallrec.cli.baseline import baseline
    from tallrec.cli.train import train, tune_instruct_cmd

    def flags(command):
        return set(inspect.signature(command).parameters)

    def keys(cls, prefix=""):
        for f in dataclasses.fields(cls):
            if dataclasses.is_dataclass(f.default_factory) if f.default_factory is not dataclasses.MISSING else False:
                yield from keys(f.default_factory, f"{prefix}{f.name}_")
            else:
                yield prefix + f.name

    assert set(keys(TrainConfig)) <= flags(train)
    assert set(keys(InstructConfig)) <= flags(tune_instruct_cmd)
    assert set(keys(SeqSettings)) | set(keys(SimpleSettings)) <= flags(baseline)
    assert "lora_r" in flags(train) and "overrides" not in flags(train)


def test_flags_reach_the_config(run_cli, tmp_path):
    """A flag set on the command line is the value the run uses (checked through its error)."""
    code, _, err = run_cli("train", "--config", "paper", "--train", str(tmp_path / "t.json"), "--valid", str(tmp_path / "v.json"),
                           "--out", str(tmp_path / "o"), "--config", "cpu-quick", "--lora-r", "0")
    assert code == 1 and "--lora-r: must be at least 1, got 0" in err
    code, _, err = run_cli("paper", "baseline", "sasrec", "--train", "t", "--valid", "v", "--test", "t", "--out",
                           str(tmp_path / "b"), "--head", "cosine")
    assert code == 1 and "--head: 'cosine' is not one of dot+user, dot" in err


def test_a_command_that_needs_a_missing_extra_names_it_in_one_line(monkeypatch, run_cli):
    import importlib.util

    from tallrec.core.errors import TallrecError
    from tallrec.core.extras import require_extra

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    with pytest.raises(TallrecError, match=r"needs the \[serve\] extra \(fastapi missing\): pip install 'tallrec\[serve\]'"):
        require_extra("serve", "tallrec serve")
    code, _, err = run_cli("serve", "--adapter", "none")
    assert code == 1 and "tallrec serve needs the [serve] extra" in err and len(err.strip().splitlines()) == 1
    require_extra("report", "the report")  # installed here: no error
