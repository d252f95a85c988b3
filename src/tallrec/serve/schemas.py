"""Request and response bodies of `tallrec serve` (pydantic), and the checks that turn a bad body
into one line a client can act on.

Shape is checked by the models (unknown fields refused, candidates present, no empty or duplicate
titles); size limits that the operator configures (`Limits`) are checked by `check_limits`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)


class RequestError(Exception):
    """A request the server refuses: an HTTP status and one line that says why."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class Limits:
    """What one request may hold (operator settings; `tallrec serve --max-...`)."""

    max_candidates: int = 200
    max_history: int = 200
    max_title_chars: int = 300
    max_body_bytes: int = 1_000_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemRecord(Strict):
    """An item with an id of the caller's: the title goes into the prompt, the id comes back."""

    id: Union[StrictStr, StrictInt]
    title: StrictStr


Item = Union[StrictStr, ItemRecord]


def title(item: Item) -> str:
    return item if isinstance(item, str) else item.title


def item_key(item: Item):
    """What makes two candidates the same: the id of a record, else the title."""
    return ("title", item) if isinstance(item, str) else ("id", item.id)


def dump_item(item: Item):
    return item if isinstance(item, str) else item.model_dump()


def check_items(items: list[Item], unique: bool) -> list[Item]:
    seen = set()
    for i, item in enumerate(items):
        if not title(item).strip():
            raise ValueError(f"item {i} has an empty title")
        if "\n" in title(item) or "\r" in title(item):
            raise ValueError(f"item {i}: a title holds no line break")
        if unique:
            key = item_key(item)
            if key in seen:
                raise ValueError(f"duplicate candidate {key[1]!r} (item {i})")
            seen.add(key)
    return items


class User(Strict):
    """A user as TALLRec sees one: liked and disliked items, oldest first."""

    liked: list[Item] = Field(default_factory=list)
    disliked: list[Item] = Field(default_factory=list)

    @field_validator("liked", "disliked")
    @classmethod
    def _titles(cls, v):
        return check_items(v, unique=False)


class ScoreRequest(User):
    candidates: list[Item]
    adapter: StrictStr | None = None

    @field_validator("candidates")
    @classmethod
    def _candidates(cls, v):
        if not v:
            raise ValueError("no candidates")
        return check_items(v, unique=True)


class RankRequest(ScoreRequest):
    top_k: int | None = Field(default=None, ge=1)


class RerankDocument(Strict):
    text: StrictStr


class RerankRequest(Strict):
    """Cohere-style rerank: `query` is the user, `documents` the candidates, `model` the adapter."""

    query: User
    documents: list[Union[StrictStr, RerankDocument]]
    top_n: int | None = Field(default=None, ge=1)
    model: StrictStr | None = None
    return_documents: bool = False

    @field_validator("documents")
    @classmethod
    def _documents(cls, v):
        if not v:
            raise ValueError("no documents")
        texts = [d if isinstance(d, str) else d.text for d in v]
        check_items(texts, unique=True)
        return v

    def as_rank(self) -> RankRequest:
        texts = [d if isinstance(d, str) else d.text for d in self.documents]
        return RankRequest(liked=self.query.liked, disliked=self.query.disliked, candidates=texts,
                           adapter=self.model, top_k=self.top_n)


class ItemScore(BaseModel):
    item: Union[str, dict]
    p_yes: float


class RankedItem(ItemScore):
    index: int


class ScoreResponse(BaseModel):
    scores: list[ItemScore]
    adapter: str
    model: str
    latency_ms: float


class RankResponse(BaseModel):
    ranked: list[RankedItem]
    adapter: str
    model: str
    latency_ms: float


class RerankResult(BaseModel):
    index: int
    relevance_score: float
    document: RerankDocument | None = None


class RerankResponse(BaseModel):
    id: str
    results: list[RerankResult]
    meta: dict


def parse_body(raw: bytes, model: type[BaseModel]):
    """The request body as `model`, or a RequestError: 400 for bytes that are not a JSON object,
    422 for JSON of the wrong shape (the first problem, named by its field)."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RequestError(400, f"malformed JSON body ({e})") from None
    if not isinstance(data, dict):
        raise RequestError(400, f"the body must be a JSON object, not {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise RequestError(422, validation_message(e)) from None


UNION_TAGS = ("str", "int", "ItemRecord", "RerankDocument")
ITEM_SHAPE = {"ItemRecord": 'an item is a title or {"id", "title"}', "RerankDocument": 'a document is a text or {"text"}'}


def validation_message(e: ValidationError) -> str:
    """One line for the first error pydantic found (where, then what)."""
    errors = e.errors(include_url=False)
    # An item that is an object was tried as a string first: report what is wrong with the object.
    err = next((x for x in errors if not (x["type"] == "string_type" and isinstance(x["input"], dict))), errors[0])
    loc = [str(p) for p in err["loc"]]
    kind, msg = err["type"], err["msg"]
    tags = [p for p in loc if p in UNION_TAGS]
    loc = [p for p in loc if p not in UNION_TAGS]  # pydantic names the Union member it tried: drop it
    where = ".".join(loc) or "body"
    if kind == "extra_forbidden":
        return f"unknown field {where!r}"
    if kind == "missing":
        return f"missing field {where!r}"
    if tags and kind in ("string_type", "model_type", "model_attributes_type", "dict_type"):
        other = next((t for t in ITEM_SHAPE if any(t in str(x["loc"]) for x in errors)), "ItemRecord")
        return f"{where}: {ITEM_SHAPE[other]}"
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    return f"{where}: {msg}"


def check_limits(req: ScoreRequest, limits: Limits) -> None:
    """Refuse what the operator's limits do not allow (422, one line)."""
    n = len(req.candidates)
    if n > limits.max_candidates:
        raise RequestError(422, f"{n} candidates; at most {limits.max_candidates} per request")
    for field in ("liked", "disliked"):
        if len(getattr(req, field)) > limits.max_history:
            raise RequestError(422, f"{field}: {len(getattr(req, field))} items; at most {limits.max_history}")
    for field in ("candidates", "liked", "disliked"):
        for i, item in enumerate(getattr(req, field)):
            if len(title(item)) > limits.max_title_chars:
                raise RequestError(422, f"{field}.{i}: title of {len(title(item))} characters; "
                                        f"at most {limits.max_title_chars}")
