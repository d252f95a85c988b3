"""Write failures lose nothing: a disk-full or permission error while writing leaves the previous
files as they were, no temporary file behind, and one line."""

import errno
import json
import os

import pytest

from tallrec.core import io
from tallrec.core.errors import TallrecError


def _fail(exc_type=OSError, code=errno.ENOSPC):
    def boom(*a, **k):
        raise exc_type(code, os.strerror(code))
    return boom


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("where, code", [("fsync", errno.ENOSPC), ("replace", errno.EACCES)])
def test_a_failed_file_write_keeps_the_previous_file(tmp_path, monkeypatch, where, code):
    target = tmp_path / "metrics.json"
    io.write_json_atomic(target, {"auc": 0.6})
    monkeypatch.setattr(io.os, where, _fail(PermissionError if code == errno.EACCES else OSError, code))
    with pytest.raises(TallrecError) as e:
        io.write_json_atomic(target, {"auc": 0.9})
    monkeypatch.undo()
    assert "\n" not in str(e.value) and os.strerror(code) in str(e.value) and "previous file is unchanged" in str(e.value)
    assert json.loads(target.read_text()) == {"auc": 0.6} and _leftovers(tmp_path) == []


def test_several_files_are_all_written_or_none(tmp_path, monkeypatch):
    io.write_files_atomic(tmp_path, {"a.json": b"old a", "b.json": b"old b"})
    real, calls = os.fsync, []

    def fsync_then_fail(fd):
        calls.append(fd)
        if len(calls) == 2:  # the second file does not fit
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(io.os, "fsync", fsync_then_fail)
    with pytest.raises(TallrecError, match="No space left"):
        io.write_files_atomic(tmp_path, {"a.json": b"new a", "b.json": b"new b"})
    monkeypatch.undo()
    assert (tmp_path / "a.json").read_bytes() == b"old a" and (tmp_path / "b.json").read_bytes() == b"old b"
    assert _leftovers(tmp_path) == []


def test_a_failed_folder_swap_puts_the_previous_folder_back(tmp_path, monkeypatch):
    target = tmp_path / "adapter"
    with io.atomic_dir(target) as d:
        (d / "weights").write_text("old")
    real = os.replace

    def replace(src, dst):
        if ".adapter." in str(src) and ".old." not in str(src) and dst == target:  # the new folder's swap
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real(src, dst)

    monkeypatch.setattr(io.os, "replace", replace)
    with pytest.raises(TallrecError, match="previous folder is unchanged"):
        with io.atomic_dir(target) as d:
            (d / "weights").write_text("new")
    monkeypatch.undo()
    assert (target / "weights").read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_evaluate_that_cannot_write_keeps_the_previous_results(tmp_path, tiny_model_dir, run_cli, monkeypatch):
    from helpers import synthetic

    from tallrec.data import save_samples

    save_samples(tmp_path / "test.json", synthetic(6, seed=2))
    args = ("evaluate", "--adapter", "none", "--model", str(tiny_model_dir), "--precision", "fp32",
            "--data", str(tmp_path / "test.json"), "--out", str(tmp_path / "ev"))
    assert run_cli(*args)[0] == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "ev").iterdir()}
    monkeypatch.setattr(io.os, "fsync", _fail())
    code, _, err = run_cli(*args)
    monkeypatch.undo()
    lines = err.strip().splitlines()
    assert code == 1 and "Traceback" not in err and lines[-1].startswith("tallrec: error: ")
    assert "No space left on device" in lines[-1]
    assert {p.name: p.read_bytes() for p in (tmp_path / "ev").iterdir()} == before
