"""The TALLRec sample and its JSON form.

The authors publish samples as Alpaca records::

    {"instruction": "Given the user's preference and unpreference, identify whether the user will
                     like the target movie by answering \"Yes.\" or \"No.\".",
     "input": "User Preference: \"A (1990)\", \"B (1991)\"\nUser Unpreference: \"C (1992)\"\n"
              "Whether the user will like the target movie \"D (1993)\"?",
     "output": "Yes."}

`Sample` holds the same information as structured data and renders back to exactly the same bytes.
Two item styles exist: movie titles are wrapped in quotes in the history (``quote_history=True``);
book items already carry their own quotes (``"Title" written by Author``) and are not wrapped again.
The target is always wrapped in quotes.

The JSON form keeps liked and disliked items in two lists, so a sample parsed from JSON has its
liked items first, then its disliked ones, each in their original order.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..core.errors import DataError
from ..core.io import read_json, write_text_atomic

INSTRUCTION = (
    "Given the user's preference and unpreference, identify whether the user will like the target "
    '{noun} by answering "Yes." or "No.".'
)
YES, NO = "Yes.", "No."
_INSTRUCTION_RE = re.compile(
    r"Given the user's preference and unpreference, identify whether the user will like the target "
    r'(?P<noun>.+?) by answering "Yes\." or "No\."\.'
)
_INPUT_RE = re.compile(
    r"User Preference: (?P<liked>[^\n]*)\nUser Unpreference: (?P<disliked>[^\n]*)\n"
    r'Whether the user will like the target (?P<noun>.+?) "(?P<target>.*)"\?',
    re.S,
)
RECORD_KEYS = ("instruction", "input", "output")


@dataclass(frozen=True)
class Sample:
    """One TALLRec example: a user's history, a target item and (optionally) the answer.

    history: (item text, liked) pairs, oldest first.
    label: True (liked, "Yes."), False (not liked, "No.") or None (unknown: to be predicted).
    """

    history: tuple[tuple[str, bool], ...]
    target: str
    label: bool | None = None
    domain: str = "movie"
    quote_history: bool = True
    meta: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "history", tuple((str(t), bool(l)) for t, l in self.history))
        for text, _ in self.history:
            if "\n" in text:
                raise DataError(f"item text contains a newline: {text!r}")
        if "\n" in self.target:
            raise DataError(f"target text contains a newline: {self.target!r}")

    @property
    def liked(self) -> list[str]:
        return [t for t, l in self.history if l]

    @property
    def disliked(self) -> list[str]:
        return [t for t, l in self.history if not l]

    @property
    def instruction(self) -> str:
        return INSTRUCTION.format(noun=self.domain)

    def _items(self, items: Sequence[str]) -> str:
        if self.quote_history:
            return ", ".join(f'"{t}"' for t in items)
        return ", ".join(items)

    @property
    def input(self) -> str:
        return (
            f"User Preference: {self._items(self.liked)}\n"
            f"User Unpreference: {self._items(self.disliked)}\n"
            f'Whether the user will like the target {self.domain} "{self.target}"?'
        )

    @property
    def output(self) -> str:
        return "" if self.label is None else (YES if self.label else NO)

    def to_record(self) -> dict:
        """The authors' {"instruction", "input", "output"} form."""
        return {"instruction": self.instruction, "input": self.input, "output": self.output}

    @property
    def user(self):
        """The id of the user the sample belongs to, when known (builders from raw data set it in
        `meta`; it is never part of the JSON form, which must stay the authors' bytes)."""
        return self.meta.get("user")

    def with_user(self, user) -> Sample:
        return replace(self, meta={**self.meta, "user": user})

    def drop_oldest(self, n: int = 1) -> Sample:
        """The same sample with its `n` oldest history items removed (used to fit a length cutoff)."""
        return replace(self, history=self.history[n:])

    @classmethod
    def from_record(cls, record: dict, where: str = "record") -> Sample:
        """Parse an authors'-format record; raise a one-line DataError naming `where` otherwise."""
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected an object with instruction/input/output")
        missing = [k for k in ("instruction", "input") if k not in record]
        if missing:
            raise DataError(f"{where}: missing field {', '.join(repr(k) for k in missing)}")
        for k in RECORD_KEYS:
            if k in record and not isinstance(record[k], str):
                raise DataError(f"{where}: field {k!r} must be a string")
        output = record.get("output", "")
        if output == YES:
            label = True
        elif output == NO:
            label = False
        elif output == "":
            label = None
        else:
            raise DataError(f'{where}: output must be "Yes." or "No." (or empty to predict), got {output!r}')
        m = _INSTRUCTION_RE.fullmatch(record["instruction"])
        if not m:
            raise DataError(f"{where}: instruction is not the TALLRec instruction")
        noun = m["noun"]
        mi = _INPUT_RE.fullmatch(record["input"])
        if not mi:
            raise DataError(
                f"{where}: input is not 'User Preference: ...\\nUser Unpreference: ...\\n"
                f"Whether the user will like the target {noun} \"...\"?'"
            )
        if mi["noun"] != noun:
            raise DataError(f"{where}: instruction says {noun!r} but input says {mi['noun']!r}")
        quoted = _is_quoted(mi["liked"]) and _is_quoted(mi["disliked"])
        liked = _split_items(mi["liked"], quoted)
        disliked = _split_items(mi["disliked"], quoted)
        sample = cls(
            history=tuple((t, True) for t in liked) + tuple((t, False) for t in disliked),
            target=mi["target"],
            label=label,
            domain=noun,
            quote_history=quoted,
        )
        if sample.input != record["input"]:  # pragma: no cover - guarded by round-trip tests
            raise DataError(f"{where}: input cannot be parsed losslessly")
        return sample


_PREFERENCES_RE = re.compile(r"User Preference: (?P<liked>[^\n]*)\nUser Unpreference: (?P<disliked>[^\n]*)(\n.*)?", re.S)


def parse_preferences(text: str) -> tuple[list[str], list[str]] | None:
    """(liked, disliked) titles of the TALLRec input text ("User Preference: ...\nUser Unpreference:
    ...", the target line optional); None when the text is not in that form."""
    m = _PREFERENCES_RE.fullmatch(text.strip())
    if not m:
        return None
    quoted = _is_quoted(m["liked"]) and _is_quoted(m["disliked"])
    return _split_items(m["liked"], quoted), _split_items(m["disliked"], quoted)


def _is_quoted(line: str) -> bool:
    return line == "" or (len(line) >= 2 and line.startswith('"') and line.endswith('"'))


def _split_items(line: str, quoted: bool) -> list[str]:
    if line == "":
        return []
    if quoted:
        return line[1:-1].split('", "')
    # Book style: each item starts with its own quote: '"T1" written by A, "T2" written by B'.
    return re.split(r', (?=")', line)


def samples_to_json(samples: Iterable[Sample]) -> str:
    """The authors' byte format: json.dump(indent=4), ASCII escapes, no trailing newline."""
    return json.dumps([s.to_record() for s in samples], indent=4)


def save_samples(path: str | os.PathLike, samples: Iterable[Sample]) -> Path:
    return write_text_atomic(path, samples_to_json(samples))


def users_path(path: str | os.PathLike) -> Path:
    """The side file holding the user id of each sample of `path`: test.json -> test.users.json."""
    p = Path(path)
    return p.with_name(f"{p.stem}.users.json")


def users_to_json(samples: Sequence[Sample]) -> str | None:
    """The side file's text (a JSON list, one user id per sample, in order); None unless every sample
    has a user id."""
    users = [s.user for s in samples]
    return None if not users or any(u is None for u in users) else json.dumps(users)


def read_users(path: str | os.PathLike, n: int) -> list | None:
    """The user ids of the side file of `path` (None when there is none); a one-line error when it
    does not hold one id per sample."""
    side = users_path(path)
    if not side.is_file():
        return None
    users = read_json(side)
    if not isinstance(users, list) or len(users) != n or any(not isinstance(u, (str, int)) for u in users):
        raise DataError(f"{side}: expected a JSON list of {n} user ids (one per sample of {Path(path).name})")
    return users


def load_samples(path: str | os.PathLike) -> list[Sample]:
    """Load an authors'-format JSON file (a list of records) into Samples, with the user ids of its
    side file (`users_path`) when there is one."""
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of records")
    if not data:
        raise DataError(f"{path}: contains no samples")
    samples = [Sample.from_record(r, where=f"{path}: record {i}") for i, r in enumerate(data)]
    users = read_users(path, len(samples))
    return samples if users is None else [s.with_user(u) for s, u in zip(samples, users)]
