"""Request and response bodies of `tallrec serve` (pydantic), and the checks that turn a bad body
into one line a client can act on.

Shape is checked by the models (unknown fields refused, candidates present, no empty or duplicate
titles); size limits that the operator configures (`Limits`) are checked by `check_limits`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import BaseModel, Field, StrictStr, ValidationError, field_validator

from ..data.samples import parse_preferences
from ..data.users import ItemLike, Strict, User, check_candidates, one_line, title
from ..recommend.records import RankedItem, RecommendedItem


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


Item = ItemLike  # a title or a tallrec.Item


class UserBody(Strict):
    """The user of a request: tallrec.User's history (its id, if any, is the caller's business)."""

    liked: list[Item] = Field(default_factory=list)
    disliked: list[Item] = Field(default_factory=list)

    @field_validator("liked", "disliked")
    @classmethod
    def _items(cls, v):
        return User(liked=v).liked


class ScoreRequest(UserBody):
    candidates: list[Item]
    adapter: StrictStr | None = None

    @field_validator("candidates")
    @classmethod
    def _candidates(cls, v):
        return check_candidates(v)


class RankRequest(ScoreRequest):
    top_k: int | None = Field(default=None, ge=1)


class RerankDocument(Strict):
    text: StrictStr


QUERY_FORMS = ('a user object {"liked", "disliked"}, that object as JSON text, or the TALLRec input text '
               '("User Preference: ...\\nUser Unpreference: ...")')


class RerankRequest(Strict):
    """Cohere's rerank (v1 and v2 bodies): `query` is the user, `documents` the candidates, `model`
    the adapter. Cohere clients send `query` as a string: JSON text of the user, or the TALLRec
    input text. Cohere's options that do not apply (chunking, token limits, rank fields) are
    accepted and ignored."""

    query: UserBody
    documents: list[StrictStr | RerankDocument]
    top_n: int | None = Field(default=None, ge=1)
    model: StrictStr | None = None
    return_documents: bool = False
    max_chunks_per_doc: int | None = None
    max_tokens_per_doc: int | None = None
    rank_fields: list[StrictStr] | None = None

    @field_validator("query", mode="before")
    @classmethod
    def _query(cls, v):
        if not isinstance(v, str):
            return v
        text = v.strip()
        if text.startswith("{"):
            try:
                return load_json(text, "query")
            except BodyError as e:
                raise ValueError(f"{e}; a query is {QUERY_FORMS}") from None
        prefs = parse_preferences(text)
        if prefs is None:
            raise ValueError(f"a query is {QUERY_FORMS}")
        return {"liked": prefs[0], "disliked": prefs[1]}

    @field_validator("documents")
    @classmethod
    def _documents(cls, v):
        if not v:
            raise ValueError("no documents")
        try:
            check_candidates([d if isinstance(d, str) else d.text for d in v])
        except ValueError as e:
            raise ValueError(str(e).replace("candidate", "document")) from None
        return v

    def as_rank(self) -> RankRequest:
        texts = [d if isinstance(d, str) else d.text for d in self.documents]
        return RankRequest(liked=self.query.liked, disliked=self.query.disliked, candidates=texts,
                           adapter=self.model, top_k=self.top_n)


class RecommendRequest(UserBody):
    """A user's history; the server's catalogue (`tallrec serve --catalogue`) supplies the items."""

    k: int = Field(default=10, ge=1, le=100)
    adapter: StrictStr | None = None


class CatalogueItem(BaseModel):
    id: int
    title: str


class ItemsResponse(BaseModel):
    """`GET /v1/items?q=TEXT&limit=N`: catalogue titles holding TEXT, the most popular first."""

    items: list[CatalogueItem]
    query: str


class RecommendResponse(BaseModel):
    items: list[RecommendedItem]
    stage: str
    note: str
    adapter: str | None
    model: str
    latency_ms: float


class ItemScore(BaseModel):
    item: Item
    p_yes: float


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


MAX_DEPTH = 32  # a request body is 4 levels deep; anything near Python's recursion limit is hostile


class BodyError(ValueError):
    """JSON text a request may not carry (one line)."""


def _refuse_constant(name: str):
    raise BodyError(f"malformed JSON body ({name} is not JSON)")


def load_json(raw: bytes | str, what: str = "body", max_depth: int = MAX_DEPTH):
    """Strict JSON as Python values, or one-line BodyError: not UTF-8, malformed (NaN and Infinity
    included), nested deeper than `max_depth` (never Python's RecursionError, whatever the depth), or
    holding a lone surrogate escape ("\\ud800", which no response could encode)."""
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise BodyError(f"JSON {what} nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError as e:
        raise BodyError(f"{what} is not UTF-8 ({e.reason} at byte {e.start})") from None
    except BodyError:
        raise
    except ValueError as e:  # JSONDecodeError, and integers of more than 4300 digits
        raise BodyError(f"malformed JSON {what} ({str(e).splitlines()[0]})") from None
    check_tree(data, what, max_depth)
    return data


def check_tree(data, what: str = "body", max_depth: int = MAX_DEPTH) -> None:
    """Walk parsed JSON without recursion: refuse nesting deeper than `max_depth` and lone surrogates."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    raise BodyError(f"JSON {what} holds a lone surrogate escape (\\u{ord(value[_bad(value)]):04x})") from None
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > max_depth:
            raise BodyError(f"JSON {what} nested deeper than {max_depth} levels")
        if isinstance(value, dict):
            stack.extend((k, depth) for k in value)
            value = value.values()
        stack.extend((v, depth + 1) for v in value if isinstance(v, (str, dict, list)))


def _bad(text: str) -> int:
    return next(i for i, c in enumerate(text) if 0xD800 <= ord(c) <= 0xDFFF)


def is_json_type(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def parse_body(raw: bytes, model: type[BaseModel]):
    """The request body as `model`, or a RequestError: 400 for bytes that are not a JSON object
    (load_json's refusals), 422 for JSON of the wrong shape (the first problem, named by its field)."""
    try:
        data = load_json(raw)
    except BodyError as e:
        raise RequestError(400, str(e)) from None
    if not isinstance(data, dict):
        raise RequestError(400, f"the body must be a JSON object, not {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise RequestError(422, one_line(e)) from None


def check_limits(req: UserBody, limits: Limits) -> None:
    """Refuse what the operator's limits do not allow (422, one line)."""
    candidates = getattr(req, "candidates", [])  # a recommend request has none: the catalogue supplies them
    if len(candidates) > limits.max_candidates:
        raise RequestError(422, f"{len(candidates)} candidates; at most {limits.max_candidates} per request")
    for field in ("liked", "disliked"):
        if len(getattr(req, field)) > limits.max_history:
            raise RequestError(422, f"{field}: {len(getattr(req, field))} items; at most {limits.max_history}")
    for field in ("candidates", "liked", "disliked"):
        for i, item in enumerate(getattr(req, field, [])):
            if len(title(item)) > limits.max_title_chars:
                raise RequestError(422, f"{field}.{i}: title of {len(title(item))} characters; "
                                        f"at most {limits.max_title_chars}")
