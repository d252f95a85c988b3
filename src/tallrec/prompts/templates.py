"""Prompts of samples and records in a prompt style, and the Yes/No answer tokens.

The styles are data (prompts/styles/*.json, see registry.py), so nothing from the source code can
leak into the prompt text. The default is the paper's Alpaca template. The answer token ids are
read from the tokenizer in use, never hard-coded.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..core.errors import ModelError
from .chat import ChatTemplate
from .layout import Template
from .registry import DEFAULT_STYLE, list_styles, load_style, load_template

YES_WORD, NO_WORD = "Yes", "No"
_TARGET_PROBE = "\ue000target\ue000"  # a private-use marker no real title holds

__all__ = ["Template", "ChatTemplate", "DEFAULT_STYLE", "list_styles", "load_style", "load_template",
           "sample_prompt", "record_prompt", "split_prompt", "answer_token_ids", "AnswerTokens", "YES_WORD", "NO_WORD"]


def sample_prompt(sample, template: Template | ChatTemplate | None = None) -> str:
    """The scoring prompt of a Sample: everything up to the answer."""
    t = template or load_template()
    return t.render(sample.instruction, t.sample_input(sample))


def split_prompt(sample, template: Template | ChatTemplate | None = None) -> tuple[str, str]:
    """(prefix, suffix) of a sample's prompt: everything before the target title, and the rest.

    The prefix depends on the user alone (instruction, history, any statistics line), so every
    candidate item of one user shares it; prefix + suffix is exactly `sample_prompt(sample)`.
    """
    t = template or load_template()
    probe = sample_prompt(replace(sample, target=_TARGET_PROBE), t)
    full = sample_prompt(sample, t)
    at = probe.find(_TARGET_PROBE)
    prefix, rest = probe[:at], probe[at + len(_TARGET_PROBE):]
    if probe.count(_TARGET_PROBE) != 1 or full != prefix + sample.target + rest:
        raise ModelError("this prompt style does not write the target title once between the user's part and "
                         "the answer header, so its prompt cannot be split into a user prefix and a target suffix")
    return prefix, full[len(prefix):]


def record_prompt(record: dict, template: Template | ChatTemplate | None = None) -> str:
    """The prompt of an Alpaca-format record (instruction, optional input)."""
    return (template or load_template()).render(record["instruction"], record.get("input") or None)


@dataclass(frozen=True)
class AnswerTokens:
    yes: int
    no: int


def answer_token_ids(tokenizer, template: Template | ChatTemplate | None = None) -> AnswerTokens:
    """Token ids of the first answer token for "Yes" and "No" as they follow the response header.

    Found by tokenizing a prompt with and without each answer and taking the first new token, so
    the ids are right for whatever tokenizer (and whatever merge behaviour at the boundary) and
    whatever prompt style is used.
    """
    t = template or load_template()
    prompt = t.render("Answer.", "x")
    special = t.add_special_tokens
    base = tokenizer(prompt, add_special_tokens=special)["input_ids"]
    ids = []
    for word in (YES_WORD, NO_WORD):
        full = tokenizer(prompt + word + ".", add_special_tokens=special)["input_ids"]
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
