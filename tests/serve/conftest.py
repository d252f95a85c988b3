"""Fixtures that start a real uvicorn server on a free loopback port and talk HTTP to it."""

from __future__ import annotations

import dataclasses
import time

import httpx
import pytest

from tallrec.serve.app import ServeSettings, create_app
from tallrec.serve.schemas import Limits
from tallrec.serve.server import ServerThread


def wait_ready(client: httpx.Client, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get("/ready")
        if r.status_code == 200:
            return
        assert r.status_code == 503, r.text
        if r.json().get("status") == "failed":
            raise AssertionError(f"server failed to load: {r.json()['error']}")
        time.sleep(0.05)
    raise AssertionError("server not ready in time")


@pytest.fixture
def start_server():
    """start_server(loader, **settings) -> (ServerThread, httpx.Client), stopped after the test."""
    started = []

    def _start(loader, ready=True, **settings):
        fields = {f.name for f in dataclasses.fields(Limits)}
        limits = Limits(**{k: v for k, v in settings.items() if k in fields})
        app = create_app(loader, ServeSettings(limits=limits, **{k: v for k, v in settings.items() if k not in fields}))
        srv = ServerThread(app).start()
        client = httpx.Client(base_url=srv.url, timeout=60)
        started.append((srv, client))
        if ready:
            wait_ready(client)
        return srv, client

    yield _start
    for srv, client in started:
        client.close()
        srv.stop()
