"""`tallrec serve`: P(Yes) scoring and ranking over HTTP (see tallrec/serve/)."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated

import typer

from ..core.defaults import DEFAULT_BATCH_SIZE
from ..core.errors import TallrecError
from . import app
from .options import BatchSizeOpt, DeviceOpt, ModelOpt, PrecisionOpt

API_KEY_ENV = "TALLREC_API_KEY"


@app.command()
def serve(
    adapter: Annotated[list[str], typer.Option(
        "--adapter", help="RUN or NAME=RUN: a run folder or an adapter folder; `none` (or NAME=none): the untuned "
        "base model, as adapter 'base' (repeatable; the first is the default a request gets).")],
    model: ModelOpt = None,
    device: DeviceOpt = None,
    precision: PrecisionOpt = "auto",
    batch_size: BatchSizeOpt = DEFAULT_BATCH_SIZE,
    domain: Annotated[str, typer.Option("--domain", help="The item noun of the prompt (movie, book, ...) for "
                                        "--adapter none and for adapters whose run recorded none.")] = "movie",
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    max_wait_ms: Annotated[float, typer.Option("--max-wait-ms", help="Longest a request waits for its batch "
                                               "to fill.")] = 5.0,
    max_queue: Annotated[int, typer.Option("--max-queue", help="Most requests waiting or being scored; "
                                           "one more gets 503 + Retry-After.")] = 256,
    max_candidates: Annotated[int, typer.Option("--max-candidates", help="Most candidates in one request.")] = 200,
    max_history: Annotated[int, typer.Option("--max-history", help="Most liked (and most disliked) items in one "
                                             "request.")] = 200,
    max_title_chars: Annotated[int, typer.Option("--max-title-chars", help="Longest item title.")] = 300,
    max_body_bytes: Annotated[int, typer.Option("--max-body-bytes", help="Largest request body.")] = 1_000_000,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", envvar=API_KEY_ENV, show_envvar=True,
        help="Require this key on /v1/* (Authorization: Bearer KEY or X-API-Key).")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug | info | warning | error.")] = "info",
    catalogue: Annotated[Path | None, typer.Option(
        "--catalogue", help="Recommender folder (`tallrec recommend build`): enables POST /v1/recommend.")] = None,
):
    """Serve P(Yes) scores and rankings over HTTP, micro-batching concurrent requests."""
    from ..core.extras import require_extra

    require_extra("serve", "tallrec serve")
    from ..serve.app import ServeSettings, create_app
    from ..serve.engine import load_engine, parse_adapter_specs
    from ..serve.schemas import Limits
    from ..serve.server import make_server

    specs = parse_adapter_specs(adapter)
    _check_settings(port, domain, max_wait_ms, catalogue, batch_size=batch_size, max_queue=max_queue,
                    max_candidates=max_candidates, max_history=max_history, max_title_chars=max_title_chars,
                    max_body_bytes=max_body_bytes)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not api_key and not _is_loopback(host):
        logging.getLogger("tallrec.serve").warning("binding %s without --api-key: anyone who reaches it can score", host)
    settings = ServeSettings(Limits(max_candidates, max_history, max_title_chars, max_body_bytes),
                             batch_size, max_wait_ms, max_queue, api_key or None)
    failure: list[str] = []

    def load_failed(message: str) -> None:
        failure.append(message)
        server.should_exit = True

    web = create_app(lambda: load_engine(specs, model, precision, device, batch_size, domain, catalogue),
                     settings, load_failed)
    server = make_server(web, host, port, log_level)
    server.run()
    if failure:
        raise TallrecError(failure[0])
    if not server.started:
        raise TallrecError(f"could not serve on {host}:{port} (see the log above)")


def _check_settings(port: int, domain: str, max_wait_ms: int, catalogue: Path | None, **limits: int) -> None:
    """Every option checked before the model loads (one line each)."""
    for name, value in limits.items():
        if value < 1:
            raise TallrecError(f"--{name.replace('_', '-')} must be at least 1")
    if max_wait_ms < 0:
        raise TallrecError("--max-wait-ms must be 0 or more")
    if not 0 <= port <= 65535:
        raise TallrecError(f"--port {port}: not a TCP port")
    if not domain.strip() or any(c in domain for c in "\r\n\""):
        raise TallrecError(f"--domain {domain!r}: one word or phrase, no quotes or line breaks")
    if catalogue is not None:
        from ..recommend.catalogue import load_recommender_folder

        load_recommender_folder(catalogue)  # a bad folder is refused before the model loads


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"

