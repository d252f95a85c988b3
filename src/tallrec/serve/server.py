"""Running the app under uvicorn, with a shutdown that loses nothing and exits 0.

On SIGTERM (or Ctrl-C) uvicorn stops accepting connections, waits for every in-flight request to
get its response, then runs the app's shutdown (which drains the batcher). Stock uvicorn then
raises the signal again so the process dies of it (exit status -15); a service manager that asked
for a graceful stop should see a clean exit, so `GracefulServer` only records that it must stop.
Connections in the listen backlog that the server had not accepted yet are refused, as by any
server that stops accepting: a client retries them.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import threading

import uvicorn


class GracefulServer(uvicorn.Server):
    # How long a connection accepted just before the signal may take to send its request.
    request_grace_s = 2.0

    def handle_exit(self, sig: int, frame) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: stop waiting for in-flight requests
        else:
            self.should_exit = True

    async def shutdown(self, sockets=None) -> None:
        """Stop accepting, then give connections that were accepted but have not sent their
        request yet a moment to send it (stock uvicorn closes them at once, so a request sent
        right at the signal was lost), then uvicorn's own shutdown: finish every request, drain."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.request_grace_s
        while loop.time() < deadline and not self.force_exit and any(
                getattr(c, "cycle", True) is None for c in list(self.server_state.connections)):
            await asyncio.sleep(0.01)
        await super().shutdown(sockets)


def make_server(app, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> GracefulServer:
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, lifespan="on",
                            timeout_keep_alive=30)
    return GracefulServer(config)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for tests and the load benchmark)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ServerThread:
    """A server in a background thread of this process (tests, benchmarks): `start()` returns once
    it accepts connections, `stop()` shuts it down gracefully."""

    def __init__(self, app, host: str = "127.0.0.1", port: int | None = None, log_level: str = "warning"):
        self.host, self.port = host, port or free_port(host)
        self.server = make_server(app, self.host, self.port, log_level)
        self.thread = threading.Thread(target=self.server.run, name="tallrec-uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerThread:
        self.thread.start()
        waited = 0.0
        while not self.server.started:
            if not self.thread.is_alive() or waited > timeout:
                raise RuntimeError(f"server on {self.url} did not start")
            threading.Event().wait(0.02)
            waited += 0.02
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
