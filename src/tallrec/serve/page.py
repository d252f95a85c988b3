"""The page a person can try (`GET /`, static/ in this package: plain HTML and JavaScript, no build
step) and the title search it uses, `GET /v1/items?q=TEXT&limit=N`.

The page talks to the server through the public HTTP API only: `/ready`, `/v1/items`,
`/v1/recommend` and `/v1/rank` (with the API key the person types, when the server wants one).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from .schemas import ItemsResponse, RequestError

STATIC = Path(__file__).with_name("static")
MAX_ITEMS = 100


def query_limit(raw: str | None, default: int = 20) -> int:
    """`limit` of a search: an integer in 1..MAX_ITEMS (one-line 422 otherwise)."""
    if raw is None:
        return default
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_ITEMS:  # "²".isdigit() too
        raise RequestError(422, f"limit: an integer from 1 to {MAX_ITEMS}, got {raw[:20]!r}")
    return int(raw)


def add_page_routes(app: FastAPI, state) -> None:
    """`/` (the page), `/static/*` (its script and style) and `GET /v1/items` on `app`."""

    @app.get("/v1/items", response_model=ItemsResponse)
    async def items(request: Request):
        """Catalogue items whose title holds `q` (case-insensitive; the most popular first; every
        item for an empty or absent `q`), at most `limit` (default 20, at most 100)."""
        params = request.query_params
        unknown = sorted(set(params) - {"q", "limit"})
        if unknown:
            raise RequestError(422, f"unknown query parameter {unknown[0][:40]!r} (q, limit)")
        q, limit = params.get("q", ""), query_limit(params.get("limit"))
        most = state.settings.limits.max_title_chars
        if len(q) > most:
            raise RequestError(422, f"q: {len(q)} characters; at most {most}")
        return {"items": state.require_catalogue().search(q, limit), "query": q}

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
