"""Dataclass configs: defaults in code, a YAML file over them, command-line options over both.

`load_config(TrainConfig, "configs/cpu-quick.yaml", {"lr": 3e-4})` gives the defaults, replaced by
the file's keys, replaced by the non-None overrides. Unknown keys are an error naming the file.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import TallrecError

T = TypeVar("T")


def _build(cls: type[T], values: dict, where: str) -> T:
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise TallrecError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(names)}")
    kwargs = {}
    for k, v in values.items():
        f = names[k]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default) and isinstance(v, dict):
            merged = {**asdict(default), **v}
            v = _build(type(default), merged, f"{where}: {k}")
        kwargs[k] = v
    return cls(**kwargs)


def load_config(cls: type[T], path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> T:
    values: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise TallrecError(f"{p}: no such config file")
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise TallrecError(f"{p}: malformed YAML ({str(e).splitlines()[0]})") from None
        if not isinstance(loaded, dict):
            raise TallrecError(f"{p}: expected a mapping of settings")
        values.update(loaded)
    for k, v in (overrides or {}).items():
        if v is None:
            continue
        if "." in k:  # lora.r -> nested
            outer, inner = k.split(".", 1)
            values.setdefault(outer, {})
            values[outer] = {**values[outer], inner: v}
        else:
            values[k] = v
    return _build(cls, values, str(path) if path else "options")


def dump_config(cfg) -> str:
    return yaml.safe_dump(asdict(cfg), sort_keys=False)


# ---------------------------------------------------------------- packaged configs

CONFIG_KINDS = ("rec", "instruct", "grid", "baselines")


def packaged_config(kind: str, name: str) -> Path:
    """The packaged config `configs/<kind>/<name>` (a path; it may not exist)."""
    from importlib import resources

    return Path(str(resources.files("tallrec").joinpath("configs", kind, name)))


def packaged_configs(kind: str) -> list[str]:
    """Names of the packaged configs of one schema, without the .yaml suffix."""
    from importlib import resources

    folder = resources.files("tallrec").joinpath("configs", kind)
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def resolve_config(value: str | os.PathLike | None, kind: str, default: str | None = None) -> Path | None:
    """A config file: the given path if it exists, else the packaged config of that name in
    configs/<kind>/ (`cpu-quick`, `cpu-quick.yaml`, `configs/cpu-quick.yaml`), else the packaged
    `default` when no value is given."""
    if value is None:
        return packaged_config(kind, f"{default}.yaml" if default and not default.endswith(".yaml") else default) \
            if default else None
    p = Path(value)
    if p.is_file():
        return p
    name = p.name if p.suffix in (".yaml", ".yml") else f"{p.name}.yaml"
    parent = p.parent.as_posix()
    if parent in ("", ".", "configs", f"configs/{kind}") and packaged_config(kind, name).is_file():
        return packaged_config(kind, name)
    raise TallrecError(f"{value}: no such config file (packaged {kind} configs: {', '.join(packaged_configs(kind))})")
