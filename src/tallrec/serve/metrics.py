"""Prometheus metrics of one server: requests by route and status, latency, batch sizes, queue depth.

Each app has its own registry, so several servers in one process (the tests) never share counts.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

ROUTES = ("/v1/score", "/v1/rank", "/v1/rerank", "/v2/rerank", "/v1/recommend", "/v1/items", "/v1/models", "/health",
          "/ready", "/metrics", "/")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _powers_of_two(top: int) -> tuple[float, ...]:
    out, b = [], 1
    while b < top:
        out.append(float(b))
        b *= 2
    return tuple(out + [float(top)])


class ServeMetrics:
    """The metrics `/metrics` exposes (names start with `tallrec_`)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, max_batch: int, depth: Callable[[], float]):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("tallrec_requests", "HTTP requests by route and status", ["route", "status"], registry=r)
        self.latency = Histogram("tallrec_request_seconds", "HTTP request latency", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.batch_candidates = Histogram("tallrec_batch_candidates", "Candidates scored per model batch",
                                          buckets=_powers_of_two(max_batch), registry=r)
        self.batch_users = Histogram("tallrec_batch_users", "Requests (or request chunks) per model batch",
                                     buckets=_powers_of_two(max_batch), registry=r)
        self.batch_seconds = Histogram("tallrec_batch_seconds", "Model time per batch", buckets=LATENCY_BUCKETS,
                                       registry=r)
        self.candidates = Counter("tallrec_candidates_scored", "Candidates scored", registry=r)
        self.queue_depth = Gauge("tallrec_queue_depth", "Requests waiting or being scored", registry=r)
        self.queue_depth.set_function(depth)
        self.ready = Gauge("tallrec_ready", "1 once the model and adapters are loaded", registry=r)

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        route = path if path in ROUTES else "other"  # bounded label values, whatever clients send
        self.requests.labels(route=route, status=str(status)).inc()
        self.latency.labels(route=route).observe(seconds)

    def observe_batch(self, users: int, candidates: int, seconds: float) -> None:
        self.batch_users.observe(users)
        self.batch_candidates.observe(candidates)
        self.batch_seconds.observe(seconds)
        self.candidates.inc(candidates)

    def render(self) -> bytes:
        return generate_latest(self.registry)
