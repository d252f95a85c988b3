"""Download MovieLens-100K from GroupLens and verify files by sha256.

The raw data may not be redistributed, so tallrec never ships it: `download_movielens` fetches the
public archive, extracts it into a temporary folder next to the destination, checks the three
files the builder relies on, and only then renames the folder into place. A wrong checksum or a
broken archive therefore leaves nothing half-extracted behind.

`OFFICIAL_SHA256` lists the authors' processed TALLRec files (and the movie train.json that
`build_movielens` regenerates), so anyone can check that they hold exactly the published data.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from ..core.errors import DataError
from ..core.io import sha256_file

MOVIELENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"

#: sha256 of the GroupLens ml-100k files that the movie builder reads.
MOVIELENS_SHA256 = {
    "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
    "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
    "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
}

#: sha256 of the TALLRec authors' processed files, by path under tallrec-official/.
#: movie/train.json is not published; this is the hash of the file `build_movielens` regenerates.
OFFICIAL_SHA256 = {
    "movie/train.json": "460a86393450916596057967c7672c909edc9e73c7f61571c6a274659ffbdc53",
    "movie/valid.json": "d4aa0c005868aef9b8a85583db946662a2be9c2e0e09f810fe3a7ad31d89274f",
    "movie/test.json": "474e02cde467c8c7001168a4a390a581217edcd8f4726c39aa88c9aa37c54d5e",
    "book/valid.json": "484165aefc7941fd9f19cc9f42144832d5cee7424b15dc661b753d7705769aa2",
    "book/test.json": "28ab5fe8b28f4094b7fa5b0d46acdbb3984f55e728d04f78e3ea42e7c2bf102b",
}


def first_mismatch(folder: Path, expected: dict[str, str]) -> tuple[str, str] | None:
    """(relative name, problem) of the first file that is missing or differs, else None."""
    for name, digest in expected.items():
        p = folder / name
        if not p.is_file():
            return name, "no such file"
        got = sha256_file(p)
        if got != digest:
            return name, f"wrong sha256 {got[:16]}..., expected {digest[:16]}..."
    return None


def verify_files(folder: str | os.PathLike, expected: dict[str, str], what: str) -> Path:
    """Check every file of `expected` (relative path -> sha256) under `folder`; one-line error otherwise."""
    folder = Path(folder)
    bad = first_mismatch(folder, expected)
    if bad:
        raise DataError(f"{folder / bad[0]}: {bad[1]} ({what})")
    return folder


def verify_movielens(folder: str | os.PathLike) -> Path:
    """Check that `folder` holds the unmodified GroupLens u.data, u.item and u.user."""
    return verify_files(folder, MOVIELENS_SHA256, "MovieLens-100K from GroupLens")


def verify_official(folder: str | os.PathLike, names: list[str] | None = None) -> Path:
    """Check the authors' files under `folder` (laid out as movie/..., book/...).

    `names` defaults to the published ones present in the table, except movie/train.json, which
    only exists once regenerated.
    """
    names = names or [n for n in OFFICIAL_SHA256 if n != "movie/train.json"]
    return verify_files(folder, {n: OFFICIAL_SHA256[n] for n in names}, "TALLRec official file")


def download_movielens(data_dir: str | os.PathLike, url: str = MOVIELENS_URL, force: bool = False) -> Path:
    """Fetch ml-100k.zip into DATA_DIR/ml-100k and verify it; return that folder.

    An already verified DATA_DIR/ml-100k is kept as is (unless `force`).
    """
    data_dir = Path(data_dir)
    dest = data_dir / "ml-100k"
    if dest.exists() and not force:
        try:
            return verify_movielens(dest)
        except DataError as e:
            raise DataError(f"{e} -- rerun with --force to replace {dest}") from None
    if data_dir.exists() and not data_dir.is_dir():
        raise DataError(f"{data_dir}: exists and is not a folder (expected the data folder)")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".ml-100k.", dir=data_dir))
    except OSError as e:
        raise DataError(f"{data_dir}: cannot create the data folder ({e.strerror or e})") from None
    try:
        archive = work / "ml-100k.zip"
        _fetch(url, archive)
        extracted = _extract(archive, work / "x", url)
        bad = first_mismatch(extracted, MOVIELENS_SHA256)
        if bad:
            raise DataError(
                f"{url}: ml-100k/{bad[0]}: {bad[1]} (not the GroupLens ml-100k.zip); nothing was installed"
            )
        if dest.exists():  # --force: move the old folder aside; it goes with `work` below
            os.replace(dest, work / "old")
        os.replace(extracted, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def _fetch(url: str, target: Path) -> None:
    from tqdm import tqdm

    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(target, "wb") as f:
            total = int(r.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc="ml-100k.zip", disable=None) as bar:
                for block in iter(lambda: r.read(1 << 16), b""):
                    f.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or e
        raise DataError(f"{url}: download failed ({reason})") from None


def _extract(archive: Path, into: Path, url: str) -> Path:
    """Extract the archive safely and return the folder that holds u.data."""
    try:
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                if name.startswith("/") or ".." in Path(name).parts:
                    raise DataError(f"{url}: unsafe path in archive: {name!r}")
            z.extractall(into)
    except zipfile.BadZipFile:
        raise DataError(f"{url}: not a zip archive") from None
    found = sorted(p.parent for p in into.rglob("u.data"))
    if not found:
        raise DataError(f"{url}: the archive holds no u.data (expected GroupLens ml-100k.zip)")
    return found[0]
