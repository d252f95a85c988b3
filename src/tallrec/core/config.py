"""Dataclass configs: defaults in code, a YAML file over them, command-line options over both.

`load_config(TrainConfig, resolve_config("cpu-quick", "rec"), {"lr": 3e-4})` gives the defaults, replaced by
the file's keys, replaced by the non-None overrides. Unknown keys are an error naming the file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import types
import typing
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import TallrecError

T = TypeVar("T")


def setting(default, help: str, *, choices: tuple | None = None, min: float | None = None,
            gt: float | None = None, below: float | None = None, nonempty: bool = False):
    """A config field with its help text and range: the one place a setting is described.

    `default` may be a dataclass (its defaults) or a list/tuple (copied per instance).
    """
    meta = {"help": help, "choices": choices, "min": min, "gt": gt, "below": below, "nonempty": nonempty}
    if isinstance(default, type):
        return dataclasses.field(default_factory=default, metadata=meta)
    if isinstance(default, (list, tuple)):
        items = list(default)
        return dataclasses.field(default_factory=lambda: list(items), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _kind_name(tp) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list:
        return f"a list of {_kind_name(args[0])[2:].lstrip('n ')}s" if args else "a list"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string",
            dict: "a mapping"}.get(origin or tp, str(tp))


def _coerce(tp, v, key: str):
    """`v` as the field type `tp` (YAML gives '1e-4' as a string; the command line gives 'a,b' lists)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if v is None and type(None) in args:
            return None
        kinds = [a for a in args if a is not type(None)]
        if len(kinds) > 1:  # `int | str` (a number or a word such as "auto"): the first kind that takes it
            for kind in kinds:
                with contextlib.suppress(TallrecError):
                    return _coerce(kind, v, key)
            raise TallrecError(f"{key}: expected {' or '.join(map(_kind_name, kinds))}, got {v!r}")
        tp = kinds[0]
        origin, args = typing.get_origin(tp), typing.get_args(tp)
    bad = TallrecError(f"{key}: expected {_kind_name(tp)}, got {v!r}")
    if origin is list:
        items = [x.strip() for x in v.split(",") if x.strip()] if isinstance(v, str) else v
        if not isinstance(items, (list, tuple)):
            raise bad
        try:
            return [_coerce(args[0], x, key) for x in items] if args else list(items)
        except TallrecError:
            raise bad from None
    if (origin or tp) is dict:
        if not isinstance(v, dict):
            raise bad
        return v
    if tp is bool:
        if not isinstance(v, bool):
            raise bad
        return v
    if tp in (int, float):
        if isinstance(v, bool):
            raise bad
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                raise bad from None
        if not isinstance(v, (int, float)) or not math.isfinite(v) or (tp is int and float(v) != int(v)):
            raise bad
        return int(v) if tp is int else float(v)
    if tp is str and not isinstance(v, str):
        raise bad
    return v


def _check_range(f: dataclasses.Field, v, key: str) -> None:
    m = f.metadata
    if v is None or not m:
        return
    number = isinstance(v, (int, float)) and not isinstance(v, bool)
    numeric_range = any(m.get(k) is not None for k in ("min", "gt", "below"))
    # A `number | word` setting (micro_batch_size: 32 or auto): words are checked against its
    # choices, numbers against its range.
    if m.get("choices") and v not in m["choices"] and not (number and numeric_range):
        raise TallrecError(f"{key}: {v!r} is not one of {', '.join(map(str, m['choices']))}")
    if not number and numeric_range:
        return
    if m.get("min") is not None and v < m["min"]:
        raise TallrecError(f"{key}: must be at least {m['min']}, got {v}")
    if m.get("gt") is not None and v <= m["gt"]:
        raise TallrecError(f"{key}: must be more than {m['gt']}, got {v}")
    if m.get("below") is not None and v >= m["below"]:
        raise TallrecError(f"{key}: must be less than {m['below']}, got {v}")
    if m.get("nonempty") and not v:
        raise TallrecError(f"{key}: must not be empty")


def _build(cls: type[T], values: dict, where: str, prefix: str = "") -> T:
    """`cls` from `values` over its defaults; every value type- and range-checked, one line per problem."""
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise TallrecError(f"{where}: unknown setting(s) {', '.join(prefix + u for u in unknown)}; "
                           f"known: {', '.join(names)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for k, v in values.items():
        f, key = names[k], prefix + k
        if dataclasses.is_dataclass(hints[k]):
            if not isinstance(v, dict):
                raise TallrecError(f"{where}: {key}: expected a mapping of settings, got {v!r}")
            kwargs[k] = _build(hints[k], v, where, prefix=f"{key}.")
            continue
        try:
            kwargs[k] = _coerce(hints[k], v, key)
            _check_range(f, kwargs[k], key)
        except TallrecError as e:
            raise TallrecError(f"{where}: {e}") from None
    cfg = cls(**kwargs)
    problems = cfg.check() if hasattr(cfg, "check") else []
    if problems:
        raise TallrecError(f"{where}: {problems[0]}")
    return cfg


def load_config(cls: type[T], path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> T:
    """The defaults of `cls`, replaced by the YAML file's keys, replaced by the non-None overrides
    (`lora.r` style keys for nested settings). A bad value is one line naming the file or the flag."""
    values: dict[str, Any] = _read_yaml(Path(path)) if path else {}
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    for k, v in given.items():
        _check_override(cls, k, v)
        if "." in k:  # lora.r -> nested
            outer, inner = k.split(".", 1)
            nested = values.get(outer) if isinstance(values.get(outer), dict) else {}
            values[outer] = {**nested, inner: v}
        else:
            values[k] = v
    return _build(cls, values, str(path) if path else "settings")


def _read_yaml(p: Path) -> dict:
    if not p.is_file():
        raise TallrecError(f"{p}: no such config file")
    try:
        loaded = yaml.safe_load(p.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise TallrecError(f"{p}: malformed YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(loaded, dict):
        raise TallrecError(f"{p}: expected a mapping of settings")
    return loaded


def _check_override(cls, key: str, value) -> None:
    """Type and range of one command-line value, reported under its flag name."""
    flag = "--" + key.replace(".", "-").replace("_", "-")
    owner, name = cls, key
    while "." in name:
        outer, name = name.split(".", 1)
        owner = typing.get_type_hints(owner).get(outer)
        if not dataclasses.is_dataclass(owner):
            return  # an unknown key: _build names it
    f = {f.name: f for f in fields(owner)}.get(name)
    if f is None:
        return
    _check_range(f, _coerce(typing.get_type_hints(owner)[name], value, flag), flag)


def build_config(cls: type[T], values: dict[str, Any], where: str) -> T:
    """`cls` from a mapping of settings (a grid's options, an API call), checked like a file's."""
    return _build(cls, dict(values), where)


def dump_config(cfg) -> str:
    return yaml.safe_dump(cfg.to_dict() if hasattr(cfg, "to_dict") else asdict(cfg), sort_keys=False)


# ---------------------------------------------------------------- packaged configs



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
