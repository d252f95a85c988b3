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
                return json.loads(text)
            except json.JSONDecodeError as e:
                raise ValueError(f"not JSON ({e.msg}); a query is {QUERY_FORMS}") from None
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
