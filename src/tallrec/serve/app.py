"""The HTTP app of `tallrec serve` (FastAPI).

The model is loaded in a background thread after the server starts: `/health` answers at once,
`/ready` answers 503 until the engine is loaded. Scoring requests go through the micro-batcher
(batcher.py), whose one worker thread owns the model; handlers only await its futures. Every
response carries the request's `X-Request-ID` (the client's, or a new one), and every refusal is a
JSON body `{"error": "<one line>", "request_id": ...}` with a 4xx/5xx status.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..core.errors import DataError
from ..data.users import title
from ..recommend.records import ranked
from .batcher import BatcherClosed, MicroBatcher, QueueFull
from .metrics import ServeMetrics
from .page import add_page_routes
from .schemas import (
    Limits,
    RankRequest,
    RankResponse,
    RecommendRequest,
    RecommendResponse,
    RequestError,
    RerankRequest,
    RerankResponse,
    ScoreRequest,
    ScoreResponse,
    check_limits,
    is_json_type,
    parse_body,
)

log = logging.getLogger("tallrec.serve")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class Engine(Protocol):
    """What the server needs from a loaded model: adapter names (the first is the default), the
    base model's name, a batched scorer and a description for `/v1/models`."""

    adapters: list[str]
    model: str

    def score_many(self, adapter: str, users: list[dict]) -> Sequence[Sequence[float]]: ...

    def info(self) -> dict: ...


@dataclass
class ServeSettings:
    limits: Limits = field(default_factory=Limits)
    max_batch: int = 32
    max_wait_ms: float = 5.0
    max_queue: int = 256
    api_key: str | None = None
    retry_after_s: int = 1


class ServeState:
    """The engine and batcher of one app, loaded in the background and closed at shutdown."""

    def __init__(self, loader: Callable[[], Engine], settings: ServeSettings,
                 on_load_error: Callable[[str], None] | None = None):
        self.loader, self.settings, self.on_load_error = loader, settings, on_load_error
        self.engine: Engine | None = None
        self.batcher: MicroBatcher | None = None
        self.error: str | None = None
        self.metrics = ServeMetrics(settings.max_batch, lambda: self.batcher.depth if self.batcher else 0)

    def start_loading(self) -> None:
        threading.Thread(target=self._load, name="tallrec-loader", daemon=True).start()

    def _load(self) -> None:
        t0 = time.monotonic()
        try:
            engine = self.loader()
            s = self.settings
            self.batcher = MicroBatcher(engine.score_many, s.max_batch, s.max_wait_ms, s.max_queue,
                                        observer=self.metrics.observe_batch).start()
            self.engine = engine
        except Exception as e:
            self.error = str(e).splitlines()[0] if str(e) else type(e).__name__
            log.error("loading failed: %s", self.error)
            if self.on_load_error is not None:
                self.on_load_error(self.error)
            return
        self.metrics.ready.set(1)
        log.info("ready: model %s, adapters %s (%.1f s)", engine.model, ", ".join(engine.adapters), time.monotonic() - t0)

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()

    def require_engine(self) -> Engine:
        if self.engine is None:
            why = f"loading failed: {self.error}" if self.error else "the model is still loading"
            raise RequestError(503, why, {"Retry-After": str(self.settings.retry_after_s)})
        return self.engine

    def require_catalogue(self):
        """The engine's catalogue pipeline (`tallrec serve --catalogue`), or 404."""
        pipe = getattr(self.require_engine(), "catalogue", None)
        if pipe is None:
            raise RequestError(404, "this server has no catalogue: start it with `tallrec serve --catalogue FOLDER`")
        return pipe

    async def score(self, req: ScoreRequest) -> tuple[str, list[float]]:
        """(adapter name, P(Yes) per candidate) through the micro-batcher."""
        engine = self.require_engine()
        name = req.adapter if req.adapter is not None else engine.adapters[0]
        if name not in engine.adapters:
            raise RequestError(404, f"unknown adapter {name!r} (loaded: {', '.join(engine.adapters)})")
        try:
            future = self.batcher.submit(name, [title(i) for i in req.liked], [title(i) for i in req.disliked],
                                         [title(i) for i in req.candidates])
        except QueueFull as e:
            raise RequestError(503, f"server busy: {e}", {"Retry-After": str(self.settings.retry_after_s)}) from None
        except BatcherClosed as e:
            raise RequestError(503, str(e)) from None
        try:
            return name, await asyncio.wrap_future(future)
        except Exception as e:
            raise RequestError(500, f"scoring failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"body of {declared} bytes; at most {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def error_response(status: int, message: str, request_id: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "request_id": request_id}, status_code=status, headers=headers)


def authorized(request: Request, key: str | None) -> bool:
    if not key or not request.url.path.startswith(("/v1/", "/v2/")):
        return True
    auth = request.headers.get("authorization", "")
    given = auth[7:] if auth.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
    return hmac.compare_digest(given.encode(), key.encode())


def install_middleware(app: FastAPI, state: ServeState) -> None:
    """Request id, API key, metrics and one log line per request, around every route."""

    @app.middleware("http")
    async def around(request: Request, call_next):
        t0 = time.monotonic()
        given = request.headers.get("x-request-id", "")
        rid = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        request.state.request_id, request.state.t0 = rid, t0
        if not authorized(request, state.settings.api_key):
            response = error_response(401, "missing or wrong API key (Authorization: Bearer KEY or X-API-Key)", rid)
        else:
            try:
                response = await call_next(request)
            except Exception as e:
                log.exception("request %s failed", rid)
                response = error_response(500, f"internal error: {type(e).__name__}", rid)
        response.headers["X-Request-ID"] = rid
        seconds = time.monotonic() - t0
        state.metrics.observe_request(request.url.path, response.status_code, seconds)
        log.info("%s %s %s %d %.1fms", rid, request.method, request.url.path, response.status_code, seconds * 1e3)
        return response

    @app.exception_handler(RequestError)
    async def refused(request: Request, e: RequestError):
        return error_response(e.status, e.message, request.state.request_id, e.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException):
        return error_response(e.status_code, str(e.detail), request.state.request_id)


def one_line_text(text: str, most: int = 80) -> str:
    return " ".join(text.split())[:most]


def latency_ms(request: Request) -> float:
    return round((time.monotonic() - request.state.t0) * 1e3, 3)


def create_app(loader: Callable[[], Engine], settings: ServeSettings | None = None,
               on_load_error: Callable[[str], None] | None = None) -> FastAPI:
    """The app; `loader()` runs in a background thread at startup and returns the Engine."""
    state = ServeState(loader, settings or ServeSettings(), on_load_error)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        state.start_loading()
        yield
        await asyncio.to_thread(state.close)  # in-flight requests are done by now (uvicorn waits)

    app = FastAPI(title="tallrec", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.serve = state
    install_middleware(app, state)
    add_routes(app, state)
    return app


async def parsed(request: Request, model, state: ServeState):
    """The request body as `model`, checked against the operator's limits."""
    limits = state.settings.limits
    ctype = request.headers.get("content-type")
    if ctype is not None and not is_json_type(ctype):
        raise RequestError(415, f"content type {one_line_text(ctype)!r}: send the body as application/json")
    req = parse_body(await read_body(request, limits.max_body_bytes), model)
    check_limits(req.as_rank() if isinstance(req, RerankRequest) else req, limits)
    return req


def add_routes(app: FastAPI, state: ServeState) -> None:
    @app.post("/v1/score", response_model=ScoreResponse)
    async def score(request: Request):
        req = await parsed(request, ScoreRequest, state)
        name, scores = await state.score(req)
        return {"scores": [{"item": c, "p_yes": p} for c, p in zip(req.candidates, scores)],
                "adapter": name, "model": state.engine.model, "latency_ms": latency_ms(request)}

    @app.post("/v1/rank", response_model=RankResponse)
    async def rank(request: Request):
        req = await parsed(request, RankRequest, state)
        name, scores = await state.score(req)
        return {"ranked": ranked(req.candidates, scores, req.top_k), "adapter": name, "model": state.engine.model,
                "latency_ms": latency_ms(request)}

    add_rerank_routes(app, state)
    add_recommend_route(app, state)
    add_probes(app, state)
    add_page_routes(app, state)


def add_rerank_routes(app: FastAPI, state: ServeState) -> None:
    """Cohere's rerank, v1 and v2 (the same body and results; `meta.api_version` differs)."""

    async def rerank(request: Request, version: str):
        req: RerankRequest = await parsed(request, RerankRequest, state)
        rank_req = req.as_rank()
        name, scores = await state.score(rank_req)
        results = [{"index": r.index, "relevance_score": r.p_yes,
                    "document": {"text": r.item} if req.return_documents else None}
                   for r in ranked(rank_req.candidates, scores, rank_req.top_k)]
        return {"id": request.state.request_id, "results": results,
                "meta": {"api_version": {"version": version}, "adapter": name, "model": state.engine.model,
                         "latency_ms": latency_ms(request)}}

    @app.post("/v1/rerank", response_model=RerankResponse, response_model_exclude_none=True)
    async def rerank_v1(request: Request):
        """Cohere's v1 rerank (`cohere.Client().rerank`)."""
        return await rerank(request, "1")

    @app.post("/v2/rerank", response_model=RerankResponse, response_model_exclude_none=True)
    async def rerank_v2(request: Request):
        """Cohere's v2 rerank (`cohere.ClientV2().rerank`): the same, `model` names the adapter."""
        return await rerank(request, "2")


def add_recommend_route(app: FastAPI, state: ServeState) -> None:
    @app.post("/v1/recommend", response_model=RecommendResponse)
    async def recommend(request: Request):
        """The top k catalogue items the user has not rated: retrieval, then (when the blend uses
        it) the LLM through the micro-batcher, then the blend (recommend/catalogue.py)."""
        req = await parsed(request, RecommendRequest, state)
        pipe = state.require_catalogue()
        history = [title(t) for t in req.disliked] + [title(t) for t in req.liked]  # as Recommender.recommend
        liked = [False] * len(req.disliked) + [True] * len(req.liked)
        try:
            retrieval, ask = pipe.candidates(history, liked, req.k)
        except DataError as e:
            raise RequestError(422, str(e)) from None
        name, p_yes = None, None
        if ask is not None:
            name, p_yes = await state.score(ScoreRequest(liked=ask[0], disliked=ask[1], candidates=retrieval.titles,
                                                         adapter=req.adapter))
        rec = pipe.finish(retrieval, p_yes, req.k)
        items = [{"item": {"title": x["title"], "id": x["id"]}, "score": x["score"],
                  "retriever_score": x["retriever_score"], "p_yes": x["p_yes"], "stage": rec.stage, "note": rec.note,
                  "because": x["because"]} for x in rec.items]
        return {"items": items, "stage": rec.stage, "note": rec.note, "adapter": name, "model": state.engine.model,
                "latency_ms": latency_ms(request)}


def add_probes(app: FastAPI, state: ServeState) -> None:
    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/ready")
    async def ready():
        if state.engine is None:
            status = "failed" if state.error else "loading"
            return JSONResponse({"status": status, "error": state.error}, status_code=503,
                                headers={"Retry-After": str(state.settings.retry_after_s)})
        return {"status": "ready", "adapters": state.engine.adapters}

    @app.get("/metrics")
    async def metrics():
        return Response(state.metrics.render(), media_type=state.metrics.content_type)

    @app.get("/v1/models")
    async def models():
        engine = state.require_engine()
        s = state.settings
        return {**engine.info(), "default_adapter": engine.adapters[0],
                "batching": {"max_batch": s.max_batch, "max_wait_ms": s.max_wait_ms, "max_queue": s.max_queue},
                "limits": vars(s.limits)}
