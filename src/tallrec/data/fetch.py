"""Download MovieLens from GroupLens: 100K verified file by file by sha256, the larger releases
(1M, 10M, 20M, 25M, 32M) by the md5 GroupLens publishes beside each archive, resumable.

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


# --- the rest of the MovieLens family: md5-checked, resumable ----------------------------------

#: The GroupLens folder of the archives; $TALLREC_MOVIELENS_BASE_URL or `base_url=` replace it
#: (a mirror, or a loopback server in the tests).
GROUPLENS_BASE_URL = "https://files.grouplens.org/datasets/movielens"
BASE_URL_ENV = "TALLREC_MOVIELENS_BASE_URL"
#: release -> the file that marks its unpacked folder (the archive's top folder name varies:
#: ml-10m.zip unpacks to ml-10M100K/); read by the `movielens-dat` / `movielens-csv` readers.
RELEASES = {"ml-1m": "ratings.dat", "ml-10m": "ratings.dat", "ml-20m": "ratings.csv",
            "ml-25m": "ratings.csv", "ml-32m": "ratings.csv"}


def download_release(name: str, data_dir: str | os.PathLike, base_url: str | None = None,
                     force: bool = False) -> Path:
    """Fetch BASE/<name>.zip into DATA_DIR/<name>, checked against BASE/<name>.zip.md5; return it.

    The archive downloads into DATA_DIR/<name>.zip.part; an interrupted download resumes from
    there (HTTP Range) on the next call. A wrong md5 deletes the .part file and installs nothing;
    the folder appears only once the archive is verified and extracted.
    """
    if name not in RELEASES:
        raise DataError(f"unknown MovieLens release {name!r}; choose one of: ml-100k, {', '.join(RELEASES)}")
    data_dir = Path(data_dir)
    dest = data_dir / name
    if dest.exists() and not force:
        if not (dest / RELEASES[name]).is_file():
            raise DataError(f"{dest}: exists without {RELEASES[name]} -- rerun with --force to replace it")
        return dest
    base = (base_url or os.environ.get(BASE_URL_ENV) or GROUPLENS_BASE_URL).rstrip("/")
    url = f"{base}/{name}.zip"
    expected = _published_md5(url + ".md5")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{data_dir}: cannot create the data folder ({e.strerror or e})") from None
    part = data_dir / f"{name}.zip.part"
    _fetch_resumable(url, part)
    got = _md5(part)
    if got != expected:
        part.unlink()
        raise DataError(f"{url}: md5 {got} differs from the published {expected}; nothing was installed")
    _install(part, dest, url, RELEASES[name])
    part.unlink()
    return dest


def _published_md5(url: str) -> str:
    import re

    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            text = r.read(4096).decode("ascii", "replace")
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or e
        raise DataError(f"{url}: cannot fetch the published checksum ({reason})") from None
    found = re.search(r"\b[0-9a-fA-F]{32}\b", text)
    if not found:
        raise DataError(f"{url}: holds no md5 checksum")
    return found.group(0).lower()


def _md5(path: Path) -> str:
    import hashlib

    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch_resumable(url: str, part: Path) -> None:
    """Append the rest of `url` to `part` (Range from its size); restart when the server ignores
    Range; a 416 means `part` already holds the whole file."""
    from tqdm import tqdm

    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            resumed = have and r.status == 206
            total = int(r.headers.get("Content-Length") or 0) + (have if resumed else 0) or None
            with open(part, "ab" if resumed else "wb") as f, tqdm(
                total=total, initial=have if resumed else 0, unit="B", unit_scale=True, desc=part.name[:-5],
                disable=None,
            ) as bar:
                for block in iter(lambda: r.read(1 << 16), b""):
                    f.write(block)
                    bar.update(len(block))
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:
            return
        raise DataError(f"{url}: download failed (HTTP {e.code}); {part.name} kept to resume") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or e
        raise DataError(f"{url}: download failed ({reason}); rerun to resume from {part}") from None


def _install(archive: Path, dest: Path, url: str, marker: str) -> None:
    """Extract into a temporary folder beside `dest`, then move the folder holding `marker` there."""
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        try:
            with zipfile.ZipFile(archive) as z:
                for member in z.namelist():
                    if member.startswith("/") or ".." in Path(member).parts:
                        raise DataError(f"{url}: unsafe path in archive: {member!r}")
                z.extractall(work / "x")
        except zipfile.BadZipFile:
            raise DataError(f"{url}: not a zip archive") from None
        found = sorted(p.parent for p in (work / "x").rglob(marker))
        if not found:
            raise DataError(f"{url}: the archive holds no {marker}")
        if dest.exists():  # --force
            os.replace(dest, work / "old")
        os.replace(found[0], dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
