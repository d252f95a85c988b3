"""The Alpaca prompt and the Yes/No answer words.

The template is data (prompts/styles/alpaca.json), so nothing from the source code can leak into the
prompt text. The answer token ids are read from the tokenizer in use, never hard-coded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..core.errors import ModelError

YES_WORD, NO_WORD = "Yes", "No"


@dataclass(frozen=True)
class Template:
    prompt_input: str
    prompt_no_input: str
    response_split: str

    def render(self, instruction: str, input: str | None = None) -> str:
        """The prompt up to and including the response header (the answer follows directly)."""
        if input:
            return self.prompt_input.format(instruction=instruction, input=input)
        return self.prompt_no_input.format(instruction=instruction)


@lru_cache(maxsize=None)
def load_template(name: str = "alpaca") -> Template:
    text = resources.files("tallrec").joinpath("prompts", "styles", f"{name}.json").read_text("utf-8")
    d = json.loads(text)
    return Template(d["prompt_input"], d["prompt_no_input"], d["response_split"])


def sample_prompt(sample, template: Template | None = None) -> str:
    """The scoring prompt of a Sample: everything up to the answer."""
    return (template or load_template()).render(sample.instruction, sample.input)


def record_prompt(record: dict, template: Template | None = None) -> str:
    """The prompt of an Alpaca-format record (instruction, optional input)."""
    return (template or load_template()).render(record["instruction"], record.get("input") or None)


@dataclass(frozen=True)
class AnswerTokens:
    yes: int
    no: int


def answer_token_ids(tokenizer, template: Template | None = None) -> AnswerTokens:
    """Token ids of the first answer token for "Yes" and "No" as they follow the response header.

    Found by tokenizing a prompt with and without each answer and taking the first new token, so
    the ids are right for whatever tokenizer (and whatever merge behaviour at the boundary) is used.
    """
    prompt = (template or load_template()).render("Answer.", "x")
    base = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    ids = []
    for word in (YES_WORD, NO_WORD):
        full = tokenizer(prompt + word + ".", add_special_tokens=True)["input_ids"]
        if full[: len(base)] != base or len(full) <= len(base):
            raise ModelError(
                f"tokenizer {type(tokenizer).__name__}: the answer {word!r} merges with the response "
                "header, so its first token cannot be read from the prompt's last position"
            )
        ids.append(full[len(base)])
    if ids[0] == ids[1]:
        raise ModelError(
            f"tokenizer {type(tokenizer).__name__}: 'Yes' and 'No' start with the same token "
            f"({ids[0]}); P(Yes) cannot be read from one token"
        )
    return AnswerTokens(yes=ids[0], no=ids[1])
