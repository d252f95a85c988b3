"""mkdocs hook: the HTTP API's OpenAPI schema, built from the FastAPI app without loading a model.

`create_app(loader)` only calls `loader` when the server starts, so the app (and its `openapi()`)
is built here with a loader that is never run. The server reads request bodies itself (so that a
bad one is refused with one line), so its routes declare no request body; this hook adds each
route's body from the same pydantic models the server validates with (serve/schemas.py). The
result is published as `serving/openapi.json`, and a page holding `<!-- tallrec-openapi-routes -->`
gets a table of the routes in its place.
"""

from __future__ import annotations

import json

from mkdocs.structure.files import File

ROUTES_MARKER = "<!-- tallrec-openapi-routes -->"
PATH = "serving/openapi.json"


def build_schema() -> dict:
    from tallrec import __version__
    from tallrec.serve.app import create_app
    from tallrec.serve.schemas import RankRequest, RecommendRequest, RerankRequest, ScoreRequest

    def never_loaded():
        raise RuntimeError("the docs build loads no model")

    app = create_app(never_loaded)
    app.version = __version__
    schema = app.openapi()
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    bodies = (("/v1/score", ScoreRequest), ("/v1/rank", RankRequest), ("/v1/rerank", RerankRequest),
              ("/v2/rerank", RerankRequest), ("/v1/recommend", RecommendRequest))
    for route, model in bodies:
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(body.pop("$defs", {}))
        components[model.__name__] = body
        schema["paths"][route]["post"]["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
    return schema


def routes_table(schema: dict) -> str:
    rows = ["| method | path | request body | response |", "|---|---|---|---|"]
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            resp = op.get("responses", {}).get("200", {}).get("content", {}).get("application/json")
            rows.append(f"| {method.upper()} | `{path}` | {_name(body) if body else '–'} | {_name(resp)} |")
    return "\n".join(rows)


def _name(content: dict | None) -> str:
    ref = (content or {}).get("schema", {}).get("$ref")
    return f"`{ref.rsplit('/', 1)[1]}`" if ref else "JSON"


_schema: dict = {}


def on_files(files, config, **kwargs):
    _schema.clear()
    _schema.update(build_schema())
    files.append(File.generated(config, PATH, content=json.dumps(_schema, indent=2) + "\n"))
    return files


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:
    if ROUTES_MARKER not in markdown:
        return markdown
    return markdown.replace(ROUTES_MARKER, routes_table(_schema))
