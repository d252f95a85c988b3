"""`tallrec serve`: P(Yes) scoring and ranking over HTTP (FastAPI + uvicorn).

schemas.py holds the request and response bodies, batcher.py the micro-batching worker that owns
the model, metrics.py the Prometheus metrics, app.py the routes, server.py the uvicorn runner with
a graceful shutdown, engine.py the Recommender-backed engine with several named adapters.
"""
