"""The experiments' shared helpers: option parsing, packaged configs, settings checks on resume."""

import pytest

from tallrec.core.config import packaged_config, resolve_config
from tallrec.core.errors import TallrecError
from tallrec.experiments.cells import check_settings, parse_int_list


def test_parse_int_list():
    assert parse_int_list("16,64", "--shots") == [16, 64]
    assert parse_int_list(" 64, 16 ,64", "--shots") == [64, 16]
    assert parse_int_list("0", "--seeds", minimum=0) == [0]
    assert parse_int_list([8, 8, 4], "--shots") == [8, 4]
    for bad in ("", "16;64", "1.5", "a"):
        with pytest.raises(TallrecError, match="expected comma-separated whole numbers"):
            parse_int_list(bad, "--shots")


def test_resolve_config(tmp_path):
    assert resolve_config(None, "instruct") is None
    assert resolve_config(None, "rec", "cpu-quick") == packaged_config("rec", "cpu-quick.yaml")
    assert resolve_config("alpaca-cpu", "instruct") == packaged_config("instruct", "alpaca-cpu.yaml")
    assert resolve_config("configs/alpaca-paper.yaml", "instruct") == packaged_config("instruct", "alpaca-paper.yaml")
    assert resolve_config("paper", "rec").is_file()
    mine = tmp_path / "alpaca-cpu.yaml"
    mine.write_text("lr: 1.0\n")
    assert resolve_config(mine, "instruct") == mine  # an existing file wins over the packaged name
    with pytest.raises(TallrecError, match="no such config file .*alpaca-cpu"):
        resolve_config(tmp_path / "missing.yaml", "instruct")
    with pytest.raises(TallrecError, match="packaged rec configs: cpu-quick, paper"):
        resolve_config("alpaca-cpu", "rec")  # a name of another schema is not found


def test_settings_are_replaced_until_there_are_results(tmp_path):
    check_settings(tmp_path, "s.json", {"a": 1}, "an experiment")
    check_settings(tmp_path, "s.json", {"a": 2}, "an experiment")  # nothing computed yet: replaced
    (tmp_path / "cell").mkdir()
    (tmp_path / "cell" / "metrics.json").write_text("{}")
    check_settings(tmp_path, "s.json", {"a": 2}, "an experiment")
    with pytest.raises(TallrecError, match="already holds an experiment with other settings \\(a differ\\)"):
        check_settings(tmp_path, "s.json", {"a": 3}, "an experiment")
