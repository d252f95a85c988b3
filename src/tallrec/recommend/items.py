"""Items and users of the recommender: titles or {id, title} records, checked up front.

An item is a title (a string) or a record {"title": ..., "id": ...} ("id" optional, a string or an
integer). A user is a list of liked and a list of disliked items; the history the model sees is the
liked items, then the disliked ones, each in the order given (what a sample parsed from the
authors' JSON holds), so truncation drops the first liked items first.

Every check raises a one-line DataError that names `where` (a file line, an argument).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.errors import DataError
from ..data.samples import Sample

Item = str | dict
ITEM_KEYS = ("id", "title")


def item_title(item: Any, where: str = "item") -> str:
    """The title of an item (a non-empty, one-line string), or a one-line DataError."""
    if isinstance(item, dict):
        unknown = sorted(set(item) - set(ITEM_KEYS))
        if unknown:
            raise DataError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))} (an item has id and title)")
        if "title" not in item:
            raise DataError(f"{where}: missing field 'title'")
        if "id" in item and (isinstance(item["id"], bool) or not isinstance(item["id"], (str, int))):
            raise DataError(f"{where}: id must be a string or an integer, got {type(item['id']).__name__}")
        title = item["title"]
    else:
        title = item
    if not isinstance(title, str):
        raise DataError(f"{where}: an item is a title (string) or an {{id, title}} object, got {type(title).__name__}")
    if not title.strip():
        raise DataError(f"{where}: empty title")
    if "\n" in title or "\r" in title:
        raise DataError(f"{where}: title {title[:60]!r} contains a line break")
    return title


def item_key(item: Item) -> Any:
    """What makes two candidates the same: the id when given, else the title."""
    if isinstance(item, dict) and "id" in item:
        return ("id", item["id"])
    return ("title", item_title(item))


def check_items(items: Any, what: str, where: str, allow_empty: bool = True) -> list[str]:
    """The titles of a list of items; refuses a non-list, an empty list (unless allowed) and bad items."""
    if not isinstance(items, (list, tuple)):
        raise DataError(f"{where}: {what} must be a list of items, got {type(items).__name__}")
    if not items and not allow_empty:
        raise DataError(f"{where}: no {what}")
    return [item_title(it, f"{where}: {what}[{i}]") for i, it in enumerate(items)]


def check_candidates(candidates: Any, where: str = "candidates") -> list[str]:
    """Titles of the candidates; refuses none, bad items and duplicates (same id, or same title)."""
    titles = check_items(candidates, "candidates", where, allow_empty=False)
    seen: dict = {}
    for i, it in enumerate(candidates):
        key = item_key(it)
        if key in seen:
            raise DataError(f"{where}: duplicate candidate {key[1]!r} (candidates[{seen[key]}] and candidates[{i}])")
        seen[key] = i
    return titles


def user_sample(liked: Sequence[Item], disliked: Sequence[Item], domain: str = "movie",
                quote_history: bool = True, where: str = "user") -> Sample:
    """The user's part of a sample (the target is filled in per candidate)."""
    liked_t = check_items(liked if liked is not None else [], "liked", where)
    disliked_t = check_items(disliked if disliked is not None else [], "disliked", where)
    history = tuple((t, True) for t in liked_t) + tuple((t, False) for t in disliked_t)
    return Sample(history=history, target="", domain=domain, quote_history=quote_history)
