"""`tallrec.User` and `tallrec.Item`: the one definition of a user and an item, used by the Python
API, users.jsonl and the HTTP schemas alike (pydantic, unknown fields refused).

An item is a title (a string) or an `Item` {"title", "id"} ("id" optional: a string or an integer;
it comes back in results, the title goes into the prompt). A user is a list of liked and a list of
disliked items; the history the model sees is the liked items, then the disliked ones, each in the
order given (what a sample parsed from the authors' JSON holds), so truncation drops the first
liked items first.

Every check fails with one line (`one_line` turns pydantic's report into it).
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_serializer,
)

from ..core.errors import DataError
from .samples import Sample


class Strict(BaseModel):
    """A record that refuses unknown fields (a typo is an error, not a silent default)."""

    model_config = ConfigDict(extra="forbid")


def check_title(title: str) -> str:
    if not title.strip():
        raise ValueError("empty title")
    if "\n" in title or "\r" in title:
        raise ValueError(f"title {title[:60]!r} contains a line break")
    return title


class Item(Strict):
    """An item with an id of the caller's: the title goes into the prompt, the id comes back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: StrictStr
    id: StrictStr | StrictInt | None = None

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        return check_title(v)

    @model_serializer(mode="wrap")
    def _dump(self, handler):  # {"title"} alone when there is no id, as the caller sent it
        out = handler(self)
        return {k: v for k, v in out.items() if v is not None}


ItemLike = StrictStr | Item
"""Wherever an item goes, a bare title does too."""


def title(item: ItemLike) -> str:
    return item if isinstance(item, str) else item.title


def item_key(item: ItemLike) -> tuple:
    """What makes two candidates the same: the id when given, else the title."""
    if isinstance(item, Item) and item.id is not None:
        return ("id", item.id)
    return ("title", title(item))


def dump_item(item: ItemLike) -> Any:
    """An item as JSON: a title stays a string, an Item becomes {"title", "id"} (id only when set)."""
    return item if isinstance(item, str) else item.model_dump()


def _check_items(items: list[ItemLike]) -> list[ItemLike]:
    for i, item in enumerate(items):
        if isinstance(item, str):
            try:
                check_title(item)
            except ValueError as e:
                raise ValueError(f"item {i}: {e}") from None
    return items


def check_candidates(items: list[ItemLike]) -> list[ItemLike]:
    """At least one candidate, no empty titles, no two with the same id (or, without ids, title)."""
    if not items:
        raise ValueError("no candidates")
    _check_items(items)
    seen: dict = {}
    for i, item in enumerate(items):
        key = item_key(item)
        if key in seen:
            raise ValueError(f"duplicate candidate {key[1]!r} (items {seen[key]} and {i})")
        seen[key] = i
    return items


class User(Strict):
    """A user as TALLRec sees one: liked and disliked items, oldest first, and an optional id."""

    liked: list[ItemLike] = Field(default_factory=list)
    disliked: list[ItemLike] = Field(default_factory=list)
    id: StrictStr | StrictInt | None = None

    @field_validator("liked", "disliked")
    @classmethod
    def _items(cls, v):
        return _check_items(v)

    @property
    def history(self) -> tuple[tuple[str, bool], ...]:
        return tuple((title(t), True) for t in self.liked) + tuple((title(t), False) for t in self.disliked)

    def sample(self, domain: str = "movie", quote_history: bool = True) -> Sample:
        """The user's part of a TALLRec sample (the target is filled in per candidate)."""
        return Sample(history=self.history, target="", domain=domain, quote_history=quote_history)


UNION_TAGS = ("str", "int", "Item", "RerankDocument", "none")
ITEM_SHAPE = {"Item": 'an item is a title or {"title", "id"}', "RerankDocument": 'a document is a text or {"text"}'}


def one_line(e: ValidationError) -> str:
    """One line for the first problem pydantic found (where, then what)."""
    errors = e.errors(include_url=False)
    # An item that is an object was tried as a string first: report what is wrong with the object.
    err = next((x for x in errors if not (x["type"] == "string_type" and isinstance(x["input"], dict))), errors[0])
    loc = [str(p) for p in err["loc"]]
    kind, msg = err["type"], err["msg"]
    tags = [p for p in loc if p in UNION_TAGS or p.startswith("function-")]
    loc = [p for p in loc if p not in tags]  # pydantic names the Union member it tried: drop it
    where = ".".join(loc) or "body"
    if kind == "extra_forbidden":
        return f"unknown field {where!r}"
    if kind == "missing":
        return f"missing field {where!r}"
    if tags and kind in ("string_type", "model_type", "model_attributes_type", "dict_type"):
        other = next((t for t in ITEM_SHAPE if any(t in str(x["loc"]) for x in errors)), "Item")
        return f"{where}: {ITEM_SHAPE[other]}"
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    return f"{where}: {msg}" if loc else msg


def as_user(user: User | dict | Any, where: str = "user") -> User:
    """A `User` from a User or a plain dict {"liked", "disliked", "id"}; a one-line DataError otherwise."""
    if isinstance(user, User):
        return user
    if not isinstance(user, dict):
        raise DataError(f"{where}: expected a tallrec.User or an object with liked, disliked")
    try:
        return User.model_validate(user)
    except ValidationError as e:
        raise DataError(f"{where}: {one_line(e)}") from None


class _Candidates(Strict):
    candidates: list[ItemLike]

    @field_validator("candidates")
    @classmethod
    def _candidates(cls, v):
        return check_candidates(v)


def as_candidates(candidates: Any, where: str = "candidates") -> list[ItemLike]:
    """Checked candidates (titles or Items, dicts turned into Items); a one-line DataError otherwise."""
    if not isinstance(candidates, (list, tuple)):
        raise DataError(f"{where}: candidates must be a list of items, got {type(candidates).__name__}")
    try:
        return _Candidates(candidates=list(candidates)).candidates
    except ValidationError as e:
        raise DataError(f"{where}: {one_line(e)}") from None
