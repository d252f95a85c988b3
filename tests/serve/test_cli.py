"""`tallrec serve` refuses bad options in one line before it loads anything or binds a port."""

import pytest

from tallrec.core.errors import TallrecError
from tallrec.serve.engine import AdapterSpec, parse_adapter_specs


def _adapter(folder):
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    return folder


def test_adapter_specs_are_named_in_order(tmp_path):
    for d in ("runs/k64/adapter", "runs/k256/adapter", "other"):
        _adapter(tmp_path / d)
    specs = parse_adapter_specs([str(tmp_path / "runs/k64/adapter"), str(tmp_path / "runs/k256"),
                                 f"mine={tmp_path / 'other'}", "none"])
    assert specs == [AdapterSpec("k64", tmp_path / "runs/k64/adapter"), AdapterSpec("k256", tmp_path / "runs/k256"),
                     AdapterSpec("mine", tmp_path / "other"), AdapterSpec("base", None)]
    assert parse_adapter_specs(["none"]) == [AdapterSpec("base", None)]
    assert parse_adapter_specs(["plain=none"]) == [AdapterSpec("plain", None)]


@pytest.mark.parametrize("specs,message", [
    ([], "give --adapter RUN"),
    (["{tmp}/missing"], "missing: no such folder"),
    (["a={tmp}/x", "a={tmp}/y"], "two adapters named 'a'"),
    (["bad name={tmp}/x"], "adapter name 'bad name' must be"),
    (["{tmp}/empty"], "empty: not a run folder (with adapter/) or an adapter folder"),
    (["{tmp}/styled"], "unknown prompt style"),
])
def test_bad_adapter_specs(tmp_path, specs, message):
    _adapter(tmp_path / "x")
    _adapter(tmp_path / "y")
    (tmp_path / "empty").mkdir()
    (_adapter(tmp_path / "styled") / "tallrec-base.json").write_text('{"prompt": "no-such-style"}')
    with pytest.raises(TallrecError) as e:
        parse_adapter_specs([s.format(tmp=tmp_path) for s in specs])
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)


@pytest.mark.parametrize("args,message", [
    ([], "Missing option '--adapter'"),
    (["--adapter", "/nonexistent/run"], "/nonexistent/run: no such folder"),
    (["--adapter", "none", "--batch-size", "0"], "--batch-size': 0 is not 1 or more"),
    (["--adapter", "none", "--max-queue", "0"], "--max-queue must be at least 1"),
    (["--adapter", "none", "--max-candidates", "0"], "--max-candidates must be at least 1"),
    (["--adapter", "none", "--max-wait-ms", "-1"], "--max-wait-ms must be 0 or more"),
    (["--adapter", "none", "--port", "70000"], "--port 70000: not a TCP port"),
    (["--adapter", "none", "--domain", 'a"b'], "--domain 'a\"b': one word or phrase"),
])
def test_serve_refuses_bad_options(run_cli, args, message):
    code, _, err = run_cli("serve", *args)
    assert code == 1 and message in err and err.startswith("tallrec: error:") and err.count("\n") == 1, err
