"""The results store of a grid folder: one JSON line per finished cell, appended and fsync'd.

DIR/results.jsonl holds one row per finished cell (method, domain, shots, seed, model: the row's
`key`), written the moment the cell finishes: the line is appended in one write, flushed and
fsync'd, so a finished cell survives a kill or a power cut. A kill during that write can leave a
partial last line: readers ignore it, and a writer truncates it before appending (the cell it
belonged to still has its metrics.json on disk and is recorded again from there, not recomputed).
A row is never appended twice for the same key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ...core.errors import DataError, TallrecError
from ...core.io import fsync_dir

STORE_NAME = "results.jsonl"
GRID_JSON = "grid.json"  # the grid of the last run in the folder (written by runner.py, read by the report)


class ResultStore:
    """Append-only JSON-lines store keyed by row["key"]."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.bad_lines = 0      # unreadable complete lines skipped by the last load()
        self.partial_tail = False  # whether the last load() found a partial last line

    # ------------------------------------------------------------ reading

    def load(self) -> list[dict]:
        """Every readable row, in file order; the first row of a key wins. A partial last line (a
        write cut short by a kill) and unreadable lines are skipped and counted."""
        self.bad_lines, self.partial_tail = 0, False
        if not self.path.is_file():
            return []
        try:
            data = self.path.read_bytes()
        except OSError as e:
            raise DataError(f"{self.path}: cannot read ({e.strerror or e})") from None
        rows, seen = [], set()
        lines = data.split(b"\n")
        for i, raw in enumerate(lines):
            if not raw.strip():
                continue
            last = i == len(lines) - 1  # no newline after it: the write may have been cut short
            try:
                row = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                row = None
            if not isinstance(row, dict) or not isinstance(row.get("key"), str):
                if last:
                    self.partial_tail = True
                else:
                    self.bad_lines += 1
                continue
            if row["key"] in seen:
                continue
            seen.add(row["key"])
            rows.append(row)
        return rows

    def by_key(self) -> dict[str, dict]:
        return {r["key"]: r for r in self.load()}

    # ------------------------------------------------------------ writing

    def repair(self) -> int:
        """Truncate a partial last line (no trailing newline); returns the bytes removed."""
        if not self.path.is_file():
            return 0
        size = self.path.stat().st_size
        if size == 0:
            return 0
        with open(self.path, "rb+") as f:
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return 0
            # find the last newline, reading backwards in blocks
            pos, keep = size, 0
            while pos > 0:
                start = max(0, pos - 65536)
                f.seek(start)
                block = f.read(pos - start)
                idx = block.rfind(b"\n")
                if idx >= 0:
                    keep = start + idx + 1
                    break
                pos = start
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
        return size - keep

    def append(self, row: dict) -> None:
        """Append one row as one line, flushed and fsync'd before returning."""
        if not isinstance(row.get("key"), str):
            raise ValueError("a store row needs a string 'key'")
        line = (json.dumps(row, sort_keys=False, default=str) + "\n").encode("utf-8")
        new = not self.path.exists()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as e:
            raise TallrecError(f"{self.path}: cannot write ({e.strerror or e})") from None
        try:
            view = memoryview(line)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if new:  # make the new file's directory entry durable too
            fsync_dir(self.path.parent)

