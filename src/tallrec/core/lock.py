"""One writer per folder: an exclusive, flock-based lock file.

Two processes appending to one results store (or one run folder) would record work twice or
interleave it. `FolderLock` takes `<folder>/<name>` with `flock`: the OS releases it when the holder
exits in any way (SIGKILL included), so a stale lock of a dead process is simply taken over. The
holder writes its pid into the file, and a second process is refused with one line naming it.
`locked_folder` is the same for an output folder that may not exist yet: it creates the folder,
and removes it again (and its lock file) if the work fails before writing anything into it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import TallrecError
from .io import ensure_dir

try:
    import fcntl
except ImportError:  # not POSIX: no locking
    fcntl = None


class FolderLock:
    """`with FolderLock(folder, what="tallrec paper reproduce"):` - exclusive for the block."""

    def __init__(self, folder: str | os.PathLike, name: str = ".tallrec.lock", what: str = "tallrec",
                 remove: bool = False):
        self.folder = Path(folder)
        self.path = self.folder / name
        self.what = what
        self.remove = remove  # delete the lock file on release (a SIGKILL leaves it: it is taken over)
        self._file = None

    def acquire(self) -> FolderLock:
        while True:
            f = open(self.path, "a+")
            if fcntl is None:
                break
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.seek(0)
                holder = f.read().strip() or "unknown"
                f.close()
                raise TallrecError(f"{self.folder}: another `{self.what}` (pid {holder}) is working in this "
                                   f"folder; wait for it or use another folder") from None
            if _same_file(f, self.path):
                break
            f.close()  # the previous holder removed the file as we opened it: lock the current one
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        if self._file is not None:
            if self.remove:
                self.path.unlink(missing_ok=True)  # still holding the flock: no one locks it meanwhile
            self._file.close()  # closing the descriptor releases the flock
            self._file = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _same_file(f, path: Path) -> bool:
    try:
        return os.fstat(f.fileno()).st_ino == os.stat(path).st_ino
    except OSError:
        return False


@contextlib.contextmanager
def locked_folder(folder: str | os.PathLike, what: str = "tallrec", name: str = ".tallrec.lock") -> Iterator[Path]:
    """Create `folder` if needed and hold its lock (`FolderLock`, removed on release) for the block.

    A folder this call created is removed again when the block fails before writing anything into
    it, so a refused or failed command leaves no trace."""
    folder = Path(folder)
    created = not folder.exists()
    ensure_dir(folder)
    try:
        with FolderLock(folder, name, what=what, remove=True):
            yield folder
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
        raise
