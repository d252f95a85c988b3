"""mkdocs hook: the CLI reference page, rendered from the `tallrec` typer app itself.

A page holding the line `<!-- tallrec-cli-reference -->` gets, in its place, one section per
command (every group and subcommand, walked from the app) with that command's `--help` text.
The help is produced in one child process (this file run as a script) with TYPER_USE_RICH=0, so
it is the plain text a terminal shows, independent of the width or colours of the build machine.
Why not a plugin: typer 0.29 carries its own click, and mkdocs-typer2 0.4.1 fails on its options
while mkdocs-click 0.9.0 leaves them out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

MARKER = "<!-- tallrec-cli-reference -->"
_cache: dict[str, str] = {}


def command_helps() -> dict[str, str]:
    """{"tallrec data prepare movielens": help text, ...}, walked from the app (run in the child)."""
    import contextlib
    import io

    import typer

    from tallrec.cli import app, main

    out: dict[str, str] = {}

    def walk(cmd, path: list[str]) -> None:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            main(path[1:] + ["--help"])
        out[" ".join(path)] = buf.getvalue().rstrip()
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            if not getattr(sub, "hidden", False):
                walk(sub, path + [name])

    walk(typer.main.get_command(app), ["tallrec"])
    return out


def render() -> str:
    env = {**os.environ, "TYPER_USE_RICH": "0", "COLUMNS": "100", "TERMINAL_WIDTH": "100"}
    done = subprocess.run([sys.executable, __file__], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"cli_reference: rendering the help failed:\n{done.stderr[-2000:]}")
    helps = json.loads(done.stdout)
    parts = []
    for path, text in helps.items():
        level = "#" * min(2 + path.count(" ") - 1, 4) if " " in path else "##"
        parts.append(f"{level} `{path}`\n\n```text\n{text}\n```\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:
    if MARKER not in markdown:
        return markdown
    if "text" not in _cache:
        _cache["text"] = render()
    return markdown.replace(MARKER, _cache["text"])


if __name__ == "__main__":
    print(json.dumps(command_helps()))
