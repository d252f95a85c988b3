"""Atomic output: write to a temporary file in the same folder, then rename.

A crash or a bad input can therefore never leave a half-written output file behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .errors import TallrecError


def ensure_dir(path: str | os.PathLike) -> Path:
    """Create `path` (and parents); a one-line error if that is impossible."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TallrecError(f"{p}: cannot create output folder ({e.strerror or e})") from None
    if not os.access(p, os.W_OK):
        raise TallrecError(f"{p}: output folder is not writable")
    return p


def check_writable(path: str | os.PathLike, folder: bool = True) -> Path:
    """Refuse, before any work, an output location that cannot be written: a folder (or, with
    folder=False, a file) whose nearest existing ancestor is not a writable folder, or that is an
    existing file where a folder is wanted (or the reverse). Creates nothing."""
    p = Path(path)
    if p.exists():
        if folder and not p.is_dir():
            raise TallrecError(f"{p}: exists and is not a folder (expected an output folder)")
        if not folder and p.is_dir():
            raise TallrecError(f"{p}: is a folder (expected an output file)")
        _probe(p if folder else p.parent, p)
        return p
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise TallrecError(f"{p}: cannot be created ({parent} is a file, not a folder)")
    _probe(parent, p)
    return p


def _probe(folder: Path, wanted: Path) -> None:
    """Create and remove an empty folder in `folder`: the one test that also holds for root and
    for special file systems such as /proc, where permission bits say nothing."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".tallrec-probe.", dir=folder))
    except OSError as e:
        raise TallrecError(f"{wanted}: cannot write there ({e.strerror or e})") from None


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a temporary file beside `path` for writing; it replaces `path` only if the block
    finishes. A write failure (disk full, permission denied) is one TallrecError naming the path,
    and the previous file, if any, is left as it was."""
    path = Path(path)
    ensure_dir(path.parent if str(path.parent) else ".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise TallrecError(f"{path}: cannot write ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise TallrecError(f"{path}: cannot write ({e.strerror or e}); the previous file is unchanged") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary folder beside `path` to fill; it replaces `path` (and whatever was there) only
    if the block finishes, so a reader sees the old folder or the complete new one."""
    path = Path(path)
    ensure_dir(path.parent)
    try:
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    except OSError as e:
        raise TallrecError(f"{path}: cannot write ({e.strerror or e})") from None
    try:
        yield tmp
        if not path.exists():
            os.replace(tmp, path)
            return
        old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old."))
        os.replace(path, old / "x")
        try:
            os.replace(tmp, path)
        except OSError:
            os.replace(old / "x", path)  # put the previous folder back
            shutil.rmtree(old, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
    except OSError as e:
        raise TallrecError(f"{path}: cannot write ({e.strerror or e}); the previous folder is unchanged") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_file(path) as f:
        f.write(data)
    return Path(path)


def write_files_atomic(folder: str | os.PathLike, files: dict[str, bytes]) -> list[Path]:
    """Write several files into `folder`: all are staged first, then renamed into place, so a
    failure while writing leaves none of them half-written."""
    out = ensure_dir(folder)
    staged: list[tuple[str, Path]] = []
    try:
        for name, data in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
            staged.append((tmp, out / name))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for tmp, final in staged:
            os.replace(tmp, final)
    except OSError as e:
        raise TallrecError(f"{out}: cannot write outputs ({e.strerror or e})") from None
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return [final for _, final in staged]


def write_text_atomic(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    return write_bytes_atomic(path, text.encode(encoding))


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    text = json.dumps(obj, indent=indent)
    return write_text_atomic(path, text + ("\n" if indent is not None else ""))


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; every failure becomes a one-line DataError naming the file."""
    from .errors import DataError

    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file")
    if p.is_dir():
        raise DataError(f"{p}: is a folder, expected a JSON file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise DataError(f"{p}: cannot read ({e.strerror or e})") from None
    if not text.strip():
        raise DataError(f"{p}: file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{p}: malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a file just created or renamed in it) durable; best effort, as
    some file systems cannot fsync a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
