"""The registry of prompt styles: one JSON file per style in prompts/styles/.

A style file holds a `description`, a `kind` ("text" templates such as the paper's Alpaca prompt,
or "chat": the model's own chat template), the template strings of its kind, and optionally
`stats` (a sentence with the history's like count, placed before the question). `extends` names a
style whose keys this one starts from, so a variant states only what it changes.
Adding a style = adding a file; `list_styles()` finds it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from ..core.errors import TallrecError
from .chat import ChatTemplate
from .layout import StatsSentence, Template

DEFAULT_STYLE = "alpaca"
KINDS = {"text": ("prompt_input", "prompt_no_input", "response_split"), "chat": ("messages", "messages_no_input")}


def _styles_dir():
    return resources.files("tallrec").joinpath("prompts", "styles")


def list_styles() -> list[str]:
    """Names of the packaged prompt styles, sorted."""
    return sorted(p.name[:-5] for p in _styles_dir().iterdir() if p.name.endswith(".json"))


@dataclass(frozen=True)
class PromptStyle:
    name: str
    description: str
    kind: str
    data: dict = field(compare=False, repr=False)

    def template(self, tokenizer=None) -> Template | ChatTemplate:
        """The renderer of this style (a chat style needs the tokenizer whose template it uses)."""
        d = self.data
        stats = StatsSentence(**d["stats"]) if d.get("stats") else None
        if self.kind == "chat":
            return ChatTemplate(tokenizer, d["messages"], d["messages_no_input"], stats, style=self.name)
        return Template(d["prompt_input"], d["prompt_no_input"], d["response_split"], stats)


@cache
def _style_data(name: str, chain: tuple[str, ...] = ()) -> dict:
    known = list_styles()
    if name not in known:
        raise TallrecError(f"unknown prompt style {name!r}; known styles: {', '.join(known)}")
    where = f"prompts/styles/{name}.json"
    try:
        d = json.loads(_styles_dir().joinpath(f"{name}.json").read_text("utf-8"))
    except json.JSONDecodeError as e:
        raise TallrecError(f"{where}: not valid JSON ({e})") from None
    base = d.pop("extends", None)
    if base is not None:
        if base == name or base in chain:
            raise TallrecError(f"{where}: 'extends' makes a cycle through {base!r}")
        d = {**_style_data(base, chain + (name,)), **d}
    return d


def load_style(name: str = DEFAULT_STYLE) -> PromptStyle:
    """The style `name`; an unknown name or an incomplete file is a one-line error."""
    d = _style_data(name)
    where = f"prompts/styles/{name}.json"
    kind = d.get("kind", "text")
    if kind not in KINDS:
        raise TallrecError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    missing = [k for k in ("description",) + KINDS[kind] if not d.get(k)]
    if missing:
        raise TallrecError(f"{where}: missing {', '.join(missing)}")
    if d.get("stats") and set(d["stats"]) != {"many", "one", "none"}:
        raise TallrecError(f"{where}: stats needs exactly the sentences 'many', 'one' and 'none'")
    return PromptStyle(name=name, description=d["description"], kind=kind, data=d)


def load_template(name: str = DEFAULT_STYLE, tokenizer=None) -> Template | ChatTemplate:
    """The renderer of style `name` (the paper's Alpaca template by default)."""
    return load_style(name).template(tokenizer)
