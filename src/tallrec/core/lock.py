"""One writer per folder: an exclusive, flock-based lock file.

Two processes appending to one results store (or one run folder) would record work twice or
interleave it. `FolderLock` takes `<folder>/<name>` with `flock`: the OS releases it when the holder
exits in any way (SIGKILL included), so a stale lock of a dead process is simply taken over. The
holder writes its pid into the file, and a second process is refused with one line naming it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import TallrecError

try:
    import fcntl
except ImportError:  # not POSIX: no locking
    fcntl = None


class FolderLock:
    """`with FolderLock(folder, what="tallrec reproduce"):` - exclusive for the block."""

    def __init__(self, folder: str | os.PathLike, name: str = ".tallrec.lock", what: str = "tallrec"):
        self.folder = Path(folder)
        self.path = self.folder / name
        self.what = what
        self._file = None

    def acquire(self) -> "FolderLock":
        f = open(self.path, "a+")
        if fcntl is not None:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.seek(0)
                holder = f.read().strip() or "unknown"
                f.close()
                raise TallrecError(f"{self.folder}: another `{self.what}` (pid {holder}) is working in this "
                                   f"folder; wait for it or use another folder") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor releases the flock
            self._file = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
