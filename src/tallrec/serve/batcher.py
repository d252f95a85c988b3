"""Dynamic micro-batching: one worker thread owns the model and scores queued requests together.

Requests arrive from the event loop (`submit` takes a lock for a few microseconds and returns a
`concurrent.futures.Future`; the loop awaits it with `asyncio.wrap_future`, so it never waits on
the model). A request with more candidates than `max_batch` is cut into chunks of at most
`max_batch`. The worker takes the oldest chunk, waits at most `max_wait` seconds after that
chunk arrived for more chunks of the same adapter, and scores up to `max_batch` candidates in one
`score_fn(adapter, users)` call (the shared-user-prefix engine). Scores go back to each request in
its candidates' order. At most `max_queue` requests wait or are being scored; one more is refused
(`QueueFull`), so the queue never grows without bound. If a batch fails, its requests are scored
one by one, so one bad request fails alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field

log = logging.getLogger("tallrec.serve")

ScoreFn = Callable[[str, list[dict]], Sequence[Sequence[float]]]
BatchObserver = Callable[[int, int, float], None]   # (users, candidates, seconds) of one batch


class QueueFull(Exception):
    """The queue holds `max_queue` requests already."""


class BatcherClosed(Exception):
    """The batcher is shutting down and takes no new requests."""


class Ticket:
    """One request: its future and the scores of the chunks done so far."""

    def __init__(self, n: int, chunks: int):
        self.future: Future = Future()
        self.scores: list[float | None] = [None] * n
        self.left = chunks

    def fill(self, start: int, scores: Sequence[float]) -> bool:
        """Store one chunk's scores; True once the request is complete."""
        self.scores[start:start + len(scores)] = [float(s) for s in scores]
        self.left -= 1
        return self.left == 0

    def resolve(self) -> None:
        _settle(self.future, result=list(self.scores))

    def fail(self, error: BaseException) -> None:
        _settle(self.future, error=error)


def _settle(future: Future, result=None, error: BaseException | None = None) -> None:
    """Set a future's outcome unless the caller cancelled it (a client that went away)."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass


@dataclass
class Chunk:
    adapter: str
    user: dict
    ticket: Ticket
    start: int
    arrived: float = field(default_factory=time.monotonic)

    @property
    def size(self) -> int:
        return len(self.user["candidates"])


class MicroBatcher:
    """See the module docstring. `start()` launches the worker; `close()` drains and stops it."""

    def __init__(self, score_fn: ScoreFn, max_batch: int = 32, max_wait_ms: float = 5.0, max_queue: int = 256,
                 observer: BatchObserver | None = None):
        if max_batch < 1 or max_queue < 1 or max_wait_ms < 0:
            raise ValueError("max_batch and max_queue must be >= 1 and max_wait_ms >= 0")
        self.score_fn = score_fn
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.observer = observer
        self._queue: deque[Chunk] = deque()
        self._queued: dict[str, int] = {}   # candidates waiting, per adapter
        self._requests = 0                  # admitted and not finished
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="tallrec-scorer", daemon=True)

    def start(self) -> MicroBatcher:
        self._thread.start()
        return self

    @property
    def depth(self) -> int:
        """Requests waiting or being scored."""
        return self._requests

    def submit(self, adapter: str, liked: list[str], disliked: list[str], candidates: list[str]) -> Future:
        """Queue one user's candidates; the future gets their P(Yes) in order."""
        if not candidates:
            raise ValueError("no candidates")
        starts = range(0, len(candidates), self.max_batch)
        ticket = Ticket(len(candidates), len(starts))
        ticket.future.add_done_callback(self._finished)
        with self._cond:
            if self._closed:
                raise BatcherClosed("the server is shutting down")
            if self._requests >= self.max_queue:
                raise QueueFull(f"{self._requests} requests queued (--max-queue {self.max_queue})")
            self._requests += 1
            for s in starts:
                part = candidates[s:s + self.max_batch]
                self._queue.append(Chunk(adapter, {"liked": liked, "disliked": disliked, "candidates": part}, ticket, s))
                self._queued[adapter] = self._queued.get(adapter, 0) + len(part)
            self._cond.notify()
        return ticket.future

    def _finished(self, _future: Future) -> None:
        with self._cond:
            self._requests -= 1

    def close(self, timeout: float | None = None) -> None:
        """Refuse new requests, score every queued one, then stop the worker."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            if batch:
                self._score(batch)

    def _next_batch(self) -> list[Chunk] | None:
        """The next batch (oldest adapter first), after waiting up to max_wait for it to fill;
        None once closed and drained."""
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            head = self._queue[0]
            deadline = head.arrived + self.max_wait
            while self._queued.get(head.adapter, 0) < self.max_batch and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self._take(head.adapter)

    def _take(self, adapter: str) -> list[Chunk]:
        """Remove, in arrival order, the chunks of `adapter` that fit in one batch (called locked)."""
        batch, keep, total = [], deque(), 0
        while self._queue:
            c = self._queue.popleft()
            if c.adapter != adapter:
                keep.append(c)
            elif c.ticket.future.done():  # cancelled by its caller, or failed in an earlier chunk
                self._queued[adapter] -= c.size
            elif batch and total + c.size > self.max_batch:
                keep.append(c)  # full: this chunk and all later ones wait, in arrival order
                keep.extend(self._queue)
                self._queue.clear()
            else:
                self._queued[adapter] -= c.size
                batch.append(c)
                total += c.size
        self._queue = keep
        return batch

    def _score(self, batch: list[Chunk]) -> None:
        t0 = time.monotonic()
        adapter = batch[0].adapter
        try:
            results = list(self.score_fn(adapter, [c.user for c in batch]))
            if len(results) != len(batch) or any(len(r) != c.size for r, c in zip(results, batch)):
                raise RuntimeError("the scorer returned the wrong number of scores")
        except Exception as e:
            if len(batch) > 1:
                for c in batch:
                    self._score([c])
                return
            log.error("scoring failed: %s", e)
            batch[0].ticket.fail(e)
            return
        if self.observer is not None:
            self.observer(len(batch), sum(c.size for c in batch), time.monotonic() - t0)
        for c, scores in zip(batch, results):
            if c.ticket.fill(c.start, scores):
                c.ticket.resolve()
