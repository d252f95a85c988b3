"""The listwise prompt (as LlamaRec): a user's history and N candidates listed with index letters in
one prompt; the answer is the letter of the item the user picks next.

One function writes it (`listwise_record`), used both by the training examples
(tuning/listwise_examples.py) and by the scorer (recommend/listwise.py), so the text a model is
tuned on and the text it is scored on cannot drift apart. The record is an Alpaca record
{instruction, input, output}: it renders through the configured prompt style like any other
(`templates.record_prompt`) and trains with the stage-1 trainer (tuning/instruct.py).

The history is TALLRec's: the liked titles, then the disliked ones, each quoted; the candidates
follow one per line, "A. Title", "B. Title", ...
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.errors import DataError
from .layout import plural

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

INSTRUCTION = (
    "Given the user's preference and unpreference, identify which of the candidate {nouns} the user will "
    "pick next by answering with the letter of that {noun} only."
)


def letters(n: int) -> str:
    """The index letters of `n` candidates (at most 26)."""
    if not 1 <= n <= len(LETTERS):
        raise DataError(f"listwise prompt: {n} candidates; it lists 1 to {len(LETTERS)} (one letter each)")
    return LETTERS[:n]


def _quoted(titles: Sequence[str]) -> str:
    return ", ".join(f'"{t}"' for t in titles)


def listwise_record(liked: Sequence[str], disliked: Sequence[str], candidates: Sequence[str],
                    answer: int | None = None, domain: str = "movie") -> dict:
    """The Alpaca record {instruction, input, output} of one user and N candidate titles; `answer`
    is the index of the true item in `candidates` (output: its letter), None to score (output "")."""
    marks = letters(len(candidates))
    for t in [*liked, *disliked, *candidates]:
        if "\n" in t or "\r" in t:
            raise DataError(f"listwise prompt: title {t[:60]!r} contains a line break")
    if answer is not None and not 0 <= answer < len(candidates):
        raise DataError(f"listwise prompt: answer {answer} is not one of the {len(candidates)} candidates")
    nouns = plural(domain)
    listed = "\n".join(f"{m}. {t}" for m, t in zip(marks, candidates))
    text = (f"User Preference: {_quoted(liked)}\nUser Unpreference: {_quoted(disliked)}\n"
            f"Candidate {nouns}:\n{listed}")
    return {"instruction": INSTRUCTION.format(noun=domain, nouns=nouns), "input": text,
            "output": "" if answer is None else marks[answer]}
