"""The files of `tallrec rank`: users.jsonl in, ranked.jsonl out, and users sharded over processes.

Input, one JSON object a line (blank lines are skipped)::

    {"user": "u1", "liked": ["Heat (1995)"], "disliked": [], "candidates": ["Casino (1995)", ...]}

"user" (a string or an integer) and "candidates" are required, "liked" and "disliked" default to
none; an optional "target" (the id or title of one candidate: the item the user really chose) makes
the file a ranking benchmark (`tallrec evaluate-ranking`). Items are titles or {"title", "id"}
objects (`tallrec.Item`). The whole file is checked before any model loads; an error names the
file and the line.

Output, one line per user in input order::

    {"user": "u1", "top": [{"item": ..., "p_yes": 0.71, "index": 3}, ...], "scores": [P(Yes) per candidate]}
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field, StrictInt, StrictStr, ValidationError, field_validator, model_validator

from ..core.distributed import shard_and_gather
from ..core.errors import DataError
from ..data.users import ItemLike, Strict, User, check_candidates, item_key, one_line, title
from .records import ranked


class UserLine(Strict):
    """One line of users.jsonl (see the module docstring)."""

    user: StrictStr | StrictInt
    liked: list[ItemLike] = []
    disliked: list[ItemLike] = []
    candidates: list[ItemLike]
    target: StrictStr | StrictInt | None = None
    line: int = Field(default=0, exclude=True)  # where it was read (set by read_users), for messages

    @field_validator("candidates")
    @classmethod
    def _candidates(cls, v):
        return check_candidates(v)

    @model_validator(mode="after")
    def _target(self):
        if self.target is not None and len(self._hits()) != 1:
            raise ValueError(f"target {self.target!r} is not the id or title of one candidate")
        return self

    def _hits(self) -> list[int]:
        return [i for i, c in enumerate(self.candidates) if item_key(c)[1] == self.target]

    @property
    def target_index(self) -> int | None:
        """Position of the target among the candidates, when the line names one."""
        return None if self.target is None else self._hits()[0]

    @property
    def as_user(self) -> User:
        return User(liked=self.liked, disliked=self.disliked, id=self.user)

    @property
    def titles(self) -> list[str]:
        return [title(c) for c in self.candidates]


def parse_user(obj, where: str) -> UserLine:
    """One checked input line, or a one-line DataError naming `where`."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object with user, liked, disliked, candidates")
    try:
        line = UserLine.model_validate(obj)
        User(liked=line.liked, disliked=line.disliked)  # the history's own checks (empty titles, ...)
        return line
    except ValidationError as e:
        raise DataError(f"{where}: {one_line(e)}") from None


def json_lines(path: str | os.PathLike) -> list[tuple[int, str, object]]:
    """(line number, "FILE: line N", parsed object) of every non-blank line of a JSON-lines file of
    users; a one-line DataError for a missing, non-UTF-8, invalid or empty file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file (users, one JSON object a line)")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    out = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{p}: line {n}"
        try:
            out.append((n, where, json.loads(raw)))
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: invalid JSON ({e.msg} at column {e.colno})") from None
    if not out:
        raise DataError(f"{p}: holds no users")
    return out


def read_users(path: str | os.PathLike) -> list[UserLine]:
    """Every line of a users.jsonl file of candidates, checked; a one-line DataError naming the line."""
    users = []
    for n, where, obj in json_lines(path):
        if isinstance(obj, dict) and "line" in obj:
            raise DataError(f"{where}: unknown field 'line'")
        users.append(parse_user(obj, where).model_copy(update={"line": n}))
    return users


def ranked_line(u: UserLine, scores: Sequence[float], k: int) -> dict:
    return {"user": u.user, "top": [r.model_dump() for r in ranked(u.candidates, scores, k)],
            "scores": [float(s) for s in scores]}


def render_ranked(users: Sequence[UserLine], scores: Sequence[Sequence[float]], k: int) -> str:
    return "".join(json.dumps(ranked_line(u, s, k)) + "\n" for u, s in zip(users, scores))


def shard_users(rec, users: Sequence[UserLine], progress: bool = True) -> list[list[float]]:
    """P(Yes) of every user's candidates from a Recommender, users split round-robin over the
    torch.distributed ranks (when initialized). Every rank gets the merged list in input order."""
    def work(mine: list[UserLine], main: bool):
        return rec.score_many([(u.as_user, u.candidates) for u in mine], progress=progress and main)

    return shard_and_gather(users, work)


class HistoryLine(Strict):
    """One line of the users.jsonl of `tallrec recommend`: a user and their history, no candidates."""

    user: StrictStr | StrictInt
    liked: list[ItemLike] = []
    disliked: list[ItemLike] = []

    @property
    def as_user(self) -> User:
        return User(liked=self.liked, disliked=self.disliked, id=self.user)


def read_history_users(path: str | os.PathLike) -> list[HistoryLine]:
    """Every line of a users.jsonl of histories, checked; a one-line DataError naming the line."""
    out = []
    for _, where, obj in json_lines(path):
        try:
            line = HistoryLine.model_validate(obj)
            line.as_user  # the history's own checks  # noqa: B018
        except ValidationError as e:
            raise DataError(f"{where}: {one_line(e)}") from None
        out.append(line)
    return out
