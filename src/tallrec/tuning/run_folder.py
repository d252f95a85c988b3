"""A training run's folder: what run it holds, one writer at a time, resuming and finishing.

A run is identified by its settings (`config.yaml`, the config as YAML) and its inputs
(`inputs.json`: the sha256 of the training samples and validation samples, or of the Alpaca
records). Rerunning the same command finds one of three things in the folder:

* the same run, finished (its `done` file, e.g. history.json, and adapter/ are there): nothing is
  redone (`RunFolder.finished`);
* the same run, interrupted: training continues from the newest checkpoint in checkpoints/
  (checkpoints.py), or starts over when it was killed before its first checkpoint;
* another run: refused with the first differing setting named, unless `overwrite`, which replaces
  it (its adapter, checkpoints and records are removed before anything new is written).

`RunFolder(...)` validates the location (writable, not a file) and the identity without writing
anything; `with folder:` then creates the folder and holds its lock (core/lock.py) while the run
writes, so a second process on the same folder is refused with the holder's pid.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import yaml

from ..core.config import dump_config
from ..core.errors import TallrecError
from ..core.io import check_writable, write_json_atomic, write_text_atomic
from ..core.lock import locked_folder
from . import checkpoints
from .config import absent_means

INPUTS = "inputs.json"


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def launcher_main() -> bool:
    """True in the process that writes the run folder: the only one, or rank 0 of a torchrun/accelerate
    launch (known from RANK before the process group exists)."""
    return int(os.environ.get("RANK", "0")) == 0


def flat_dict(d: dict, prefix: str = "") -> dict:
    """Nested settings as one level of dotted keys ({"lora": {"r": 8}} -> {"lora.r": 8})."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat_dict(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def config_difference(old: dict, new: dict, default: dict) -> str | None:
    """The first setting that differs between a recorded config and this one (nested dicts compared
    key by key), or None. A setting added since the record, at its `default` here, and one since
    removed that was off there (load_in_8bit: false), are no difference: the run is the same."""
    old, new, default = flat_dict(old), flat_dict(new), flat_dict(default)
    for key in [*new, *(k for k in old if k not in new)]:
        if key not in old and new[key] == default.get(key, "(not set)"):
            continue
        if key not in new and not old[key]:
            continue
        if old.get(key, "(not set)") != new.get(key, "(not set)"):
            return f"{key}: {old.get(key, '(not set)')!r} there, {new.get(key, '(not set)')!r} here"
    return None


class RunFolder:
    """See the module docstring. `done` names the file a finished run has written last
    (history.json, instruct.json); `outputs` are the files a fresh start removes."""

    def __init__(self, out: str | os.PathLike, cfg, inputs: dict[str, str], *, overwrite: bool = False,
                 what: str = "tallrec train", done: str = "history.json", outputs: tuple[str, ...] = ()):
        self.out = check_writable(out)
        self.cfg, self.cfg_text, self.inputs = cfg, dump_config(cfg), dict(inputs)
        self.what, self.done, self.overwrite = what, done, overwrite
        self.outputs = ("adapter", done, *outputs)
        self.difference = self._difference()
        if self.difference and not overwrite:
            raise TallrecError(f"{self.out}: already holds a different run ({self.difference}); use another "
                               f"--out or --overwrite")
        self._lock = None

    # ---- what the folder holds
    def _difference(self) -> str | None:
        """The first setting (or input) in which the run in the folder differs from this one."""
        prev = self.out / "config.yaml"
        if not prev.is_file():
            return None
        if prev.read_text() == self.cfg_text:
            return self._input_difference()
        try:
            old = flat_dict(yaml.safe_load(prev.read_text()) or {})
        except yaml.YAMLError:
            return "config.yaml is not readable"
        new = self.cfg.to_dict() if hasattr(self.cfg, "to_dict") else asdict(self.cfg)
        diff = config_difference(old, new, absent_means(type(self.cfg)))
        if diff:
            return diff
        return self._input_difference()

    def _input_difference(self) -> str | None:
        try:
            old = json.loads((self.out / INPUTS).read_text())
        except (OSError, ValueError):
            return None  # a run from before inputs were recorded: its settings are what we know
        for key, value in self.inputs.items():
            if old.get(key) not in (None, value):
                return f"{key}: sha256 {old[key][:12]} there, {value[:12]} here"
        return None

    @property
    def finished(self) -> bool:
        """The same run, finished: nothing to redo."""
        return (not self.difference and (self.out / self.done).is_file()
                and (self.out / "adapter" / "adapter_config.json").is_file())

    def read_done(self) -> dict:
        return json.loads((self.out / self.done).read_text())

    # ---- one writer
    def __enter__(self) -> RunFolder:
        if launcher_main():
            self._lock = locked_folder(self.out, what=self.what)
            self._lock.__enter__()
            self.difference = self._difference()  # again, under the lock: another writer may have been here
            if self.difference and not self.overwrite:
                self.__exit__(None, None, None)
                raise TallrecError(f"{self.out}: already holds a different run ({self.difference}); use another "
                                   f"--out or --overwrite")
        return self

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            lock, self._lock = self._lock, None
            lock.__exit__(*exc)

    # ---- a run's life
    def start(self, extra: dict[str, str] | None = None) -> Path | None:
        """Before training: the checkpoint to resume from (None: a fresh start). A fresh start removes
        what an earlier run left (adapter, checkpoints, records), then writes config.yaml, inputs.json
        and the `extra` files (name -> text)."""
        resume = None if self.difference else checkpoints.latest(self.out)
        if launcher_main():
            if resume is None:
                checkpoints.clear(self.out)
                for name in self.outputs:
                    p = self.out / name
                    shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
            write_text_atomic(self.out / "config.yaml", self.cfg_text)
            write_json_atomic(self.out / INPUTS, self.inputs)
            for name, text in (extra or {}).items():
                write_text_atomic(self.out / name, text)
        self.difference = None
        return resume

    def finish(self) -> None:
        """After the run's last file: its checkpoints are no longer needed."""
        if launcher_main():
            checkpoints.clear(self.out)
