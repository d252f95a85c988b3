"""One vocabulary: every command's options walked, each thing has one name and each name one meaning.

`--adapter` (never --no-adapter), `--batch-size` (sequences per forward pass; train's is the
optimizer batch), `--limit` (never --test-limit), `--catalogue` (a recommender folder), and
`--model`, `--device`, `--precision` on every command that loads a model and scores.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import typer.main

from tallrec.cli import app

SRC = Path(__file__).resolve().parents[2] / "src" / "tallrec" / "cli"
GONE = ["--no-adapter", "--test-limit", "--max-batch", "--memory"]
# Commands that load a model and score with it: each takes the same model options.
SCORING = ["evaluate", "predict", "calibrate", "rank", "evaluate-ranking", "recommend", "serve", "paper icl"]
MODEL_OPTIONS = {"--model", "--device", "--precision", "--batch-size", "--limit"}


def commands(group: click.Command, path: str = ""):
    """(path, command) of every command, the groups' callbacks included."""
    yield path.strip(), group
    for name, sub in getattr(group, "commands", {}).items():
        yield from commands(sub, f"{path} {name}")


ALL = dict(commands(typer.main.get_command(app)))


def names(cmd: click.Command) -> set[str]:
    return {o for p in cmd.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")}


def test_no_old_spelling_is_declared():
    for path, cmd in ALL.items():
        assert not names(cmd) & set(GONE), (path, names(cmd) & set(GONE))


def test_no_second_spelling_in_the_cli_source():
    text = "\n".join(p.read_text() for p in SRC.glob("*.py"))
    for old in GONE:
        assert not re.search(rf'"{old}[" ]', text), old


@pytest.mark.parametrize("path", SCORING)
def test_scoring_commands_share_the_model_options(path):
    wanted = MODEL_OPTIONS - ({"--limit"} if path == "serve" else set())  # a server has no input file to cut
    assert wanted <= names(ALL[path]), wanted - names(ALL[path])


def test_one_name_one_meaning():
    """An option shared by several commands is declared with one parameter name and one type."""
    seen: dict[str, tuple] = {}
    for path, cmd in ALL.items():
        for p in cmd.params:
            for opt in p.opts:
                if not opt.startswith("--") or opt in ("--help", "--out", "--data", "--config", "--k", "--seed"):
                    continue
                kind = (p.name, getattr(p, "is_flag", False))
                if opt == "--batch-size" and path == "train":
                    continue  # the optimizer batch (a TrainConfig setting); its scoring batch: --eval-batch-size
                seen.setdefault(opt, (kind, path))
                assert seen[opt][0] == kind, f"{opt}: {kind} in {path}, {seen[opt][0]} in {seen[opt][1]}"


def test_the_adapter_option_reads_the_same_everywhere():
    helps = {path: next(p.help for p in cmd.params if "--adapter" in p.opts)
             for path, cmd in ALL.items() if "--adapter" in names(cmd)}
    assert len(helps) >= 7
    for path, text in helps.items():
        assert "`none`" in text and "run folder" in text.lower(), (path, text)


def test_catalogue_is_always_a_recommender_folder():
    for path, cmd in ALL.items():
        for p in cmd.params:
            if "--catalogue" in p.opts:
                assert "Recommender folder" in p.help, path
    assert "--items" in names(ALL["recommend build"])


def test_plan_loads_no_model_and_has_no_device():
    assert "--device" not in names(ALL["plan"]) and "--gpu-memory" in names(ALL["plan"])


def test_options_are_declared_one_way():
    """Every option is an `Annotated[..., typer.Option(...)]` (cli/options.py holds the shared ones):
    none is a `typer.Option` default, and no alias is defined twice."""
    where: dict[str, str] = {}
    for path in SRC.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s+\w+: [^=]+ = typer\.(Option|Argument)\(", text, re.M), path.name
        for alias in re.findall(r"^(\w+Opt) = ", text, re.M):
            assert alias not in where, f"{alias} is defined in {where[alias]} and {path.name}"
            where[alias] = path.name
