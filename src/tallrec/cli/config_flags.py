"""Command-line flags derived from a config dataclass (the trl / litgpt way).

`@config_flags(TrainConfig)` adds one `--flag` per setting (nested ones as `--lora-r`) to a typer
command, with the help text of `core.config.setting`; the command receives the given ones as one
`overrides` dict for `load_config`, so the YAML file and the command line share one schema and
adding a setting to the dataclass adds its flag.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from typing import Annotated

import typer


def _flat_fields(cls, prefix: str = ""):
    """(key, type, field) of every setting, nested dataclasses flattened to `outer.inner` keys."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            yield from _flat_fields(tp, f"{prefix}{f.name}.")
        else:
            yield prefix + f.name, tp, f


def _cli_type(tp):
    """The type typer parses; lists are given comma-separated and split by load_config."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and args:
        if len(args) > 1:  # `int | str` ("32" or "auto"): load_config coerces the text
            return str
        tp = args[0]
    return str if typing.get_origin(tp) is list else tp


def _help(f: dataclasses.Field, default, label: str) -> str:
    text = f.metadata.get("help", "")
    choices = f.metadata.get("choices")
    if choices and "|" not in text:
        text += f" ({' | '.join(choices)})"
    shown = ",".join(default) if isinstance(default, list) else default
    return text if default is None or default is False else f"{text} [{label}: {shown}]"


def config_flags(*classes, exclude: tuple[str, ...] = (), default_label: str = "config default"):
    """Decorator: the command gets one flag per setting of the config classes (except `exclude`;
    a name two classes share is one flag), collected into its `overrides: dict` parameter (only
    the flags given, None for the rest, which come from --config)."""

    def default_of(cls, key: str):
        value = cls()
        for part in key.split("."):
            value = getattr(value, part)
        return value

    def wrap(command):
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "overrides"]
        taken = {p.name for p in own}
        derived = {}
        for cls, (key, tp, f) in ((c, item) for c in classes for item in _flat_fields(c)):
            name = key.replace(".", "_")
            if key in exclude or name in taken or name in derived:
                continue
            flag = "--" + name.replace("_", "-")
            # A bool gets --x/--no-x, except a setting that is itself a negation (no_x: --no-x).
            decl = f"{flag}/--no-{flag[2:]}" if _cli_type(tp) is bool and not name.startswith("no_") else flag
            option = typer.Option(decl, help=_help(f, default_of(cls, key), default_label), show_default=False)
            derived[name] = (key, inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                                    annotation=Annotated[_cli_type(tp) | None, option]))

        @functools.wraps(command)
        def run(**kwargs):
            overrides = {key: kwargs.pop(name) for name, (key, _) in derived.items()}
            return command(**kwargs, overrides=overrides)

        del run.__wrapped__  # typer must read the signature below, not the command's own
        params = own + [p for _, p in derived.values()]
        run.__signature__ = inspect.Signature(params)
        run.__annotations__ = {p.name: p.annotation for p in params}
        return run

    return wrap
