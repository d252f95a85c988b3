"""How a prompt is laid out: the text template (Alpaca) and the optional history-statistics line.

A template turns (instruction, input) into the prompt text up to the answer, and a Sample into its
input text (`sample_input`). The plain Alpaca template uses the sample's own input unchanged, so the
paper's prompt stays byte for byte what the authors' files hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


def plural(noun: str) -> str:
    """movie -> movies, book -> books (a noun that already ends in s is kept)."""
    return noun if noun.endswith("s") else noun + "s"


@dataclass(frozen=True)
class StatsSentence:
    """One sentence stating the history's own like count, computed from the sample alone.

    `many`, `one` and `none` are format strings for a history of several, one and no items; they
    may use {liked}, {total}, {noun} and {nouns}.
    """

    many: str
    one: str
    none: str

    def text(self, sample) -> str:
        total, liked = len(sample.history), len(sample.liked)
        form = self.none if total == 0 else self.one if total == 1 else self.many
        return form.format(liked=liked, total=total, noun=sample.domain, nouns=plural(sample.domain))


def sample_input(sample, stats: StatsSentence | None) -> str:
    """The sample's input text; with `stats`, the statistics line goes just before the question.

    The line describes the history as shown (after any truncation) and never depends on the
    target, so it belongs to the user's part of the prompt.
    """
    text = sample.input
    if stats is None:
        return text
    head, _, question = text.rpartition("\n")  # items and the target hold no newline
    return f"{head}\n{stats.text(sample)}\n{question}"


@dataclass(frozen=True)
class Template:
    """A text template: the Alpaca header, instruction, input and response header."""

    prompt_input: str
    prompt_no_input: str
    response_split: str
    stats: StatsSentence | None = None
    add_special_tokens: ClassVar[bool] = True   # tokenize prompts with the tokenizer's own BOS

    def render(self, instruction: str, input: str | None = None) -> str:
        """The prompt up to and including the response header (the answer follows directly)."""
        if input:
            return self.prompt_input.format(instruction=instruction, input=input)
        return self.prompt_no_input.format(instruction=instruction)

    def sample_input(self, sample) -> str:
        return sample_input(sample, self.stats)
