"""Amazon reviews, 2018 (McAuley lab, Ni et al. 2019) and 2023 (Hou et al. 2024), as interaction
tables; like = rating > 3 (ratings 1..5).

* 2018: `<Category>.json(.gz)` review lines (reviewerID, asin, overall, unixReviewTime in seconds)
  and, beside it, `meta_<Category>.json(.gz)` (asin, title, description).
* 2023: `<Category>.jsonl(.gz)` (user_id, parent_asin, rating, timestamp in MILLISECONDS, turned
  into seconds here) and `meta_<Category>.jsonl(.gz)` (parent_asin, title, description list).

The path is the review file, or a folder holding one review file of that release. Both files are
read in chunks (bounded memory); only the rated items' metadata is kept. Without a metadata file
the titles are "".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...core.errors import DataError
from ..builders.windows import LINE
from .common import Reader, finish, json_chunks, json_fast, number_column, require_values

LIKE_ABOVE = 3
SCALE = (1.0, 5.0)


@dataclass(frozen=True)
class Release:
    name: str
    suffix: str  # ".json" or ".jsonl" (then maybe ".gz")
    user: str
    item: str
    rating: str
    time: str
    time_divisor: int  # to Unix seconds

    def fields(self) -> list[str]:
        return [self.user, self.item, self.rating, self.time]


R2018 = Release("Amazon reviews 2018", ".json", "reviewerID", "asin", "overall", "unixReviewTime", 1)
R2023 = Release("Amazon reviews 2023", ".jsonl", "user_id", "parent_asin", "rating", "timestamp", 1000)


def _base(path: Path, release: Release) -> str | None:
    """The category of a review file name of `release` ('Books' for Books.json.gz), else None."""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    if not name.endswith(release.suffix) or name.startswith("meta_"):
        return None
    return name[: -len(release.suffix)]


def _first_line(path: Path) -> str:
    import gzip

    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            return f.readline(1 << 16)
    except (OSError, EOFError):
        return ""


def _review_file(path: Path, release: Release) -> Path | None:
    if path.is_file():
        candidates = [path]
    elif path.is_dir():
        candidates = sorted(p for p in path.iterdir() if p.is_file() and _base(p, release))
    else:
        return None
    hits = [p for p in candidates if _base(p, release) and f'"{release.user}"' in _first_line(p)]
    return hits[0] if len(hits) == 1 else None


def _meta_file(reviews: Path, release: Release) -> Path | None:
    base = _base(reviews, release)
    bases = [base] + ([base[:-2]] if base.endswith("_5") else [])  # Books_5.json.gz: the 5-core subset
    for name in (f"meta_{b}{release.suffix}{gz}" for b in bases for gz in (".gz", "")):
        if (reviews.parent / name).is_file():
            return reviews.parent / name
    return None


def _reviews(path: Path, release: Release) -> pd.DataFrame:
    """user, item, rating, timestamp (seconds): pyarrow's parser first; any doubt (a bad line, a
    missing field, a rating off the scale) reads the file again in chunks to name the line."""
    fast = json_fast(path, {release.user: "string", release.item: "string", release.rating: "float64",
                            release.time: "int64"})
    if fast is not None and fast[release.rating].between(*SCALE).all():
        return pd.DataFrame({"user": fast[release.user].to_numpy(object), "item": fast[release.item].to_numpy(object),
                             "rating": fast[release.rating].to_numpy(float),
                             "timestamp": fast[release.time].to_numpy(np.int64) // release.time_divisor})
    parts = []
    for chunk in json_chunks(path, release.fields(), f"{release.name} review file"):
        require_values(chunk, [release.user, release.item, release.rating, release.time], path)
        out = pd.DataFrame({
            "user": chunk[release.user].astype(str).to_numpy(), "item": chunk[release.item].astype(str).to_numpy(),
            "rating": number_column(_as_text(chunk, release.rating), release.rating, path),
            "timestamp": number_column(_as_text(chunk, release.time), release.time, path, integer=True)
            // release.time_divisor,
            LINE: chunk[LINE].to_numpy(),
        })
        bad = ~out["rating"].between(*SCALE).to_numpy()
        if bad.any():
            i = int(bad.argmax())
            raise DataError(f"{path}: line {int(out[LINE].iloc[i])}: {release.rating} {out['rating'].iloc[i]:g} "
                            f"is outside the rating scale 1..5")
        parts.append(out)
    if not parts:
        raise DataError(f"{path}: contains no reviews ({release.name})")
    return pd.concat(parts, ignore_index=True)


def _as_text(chunk: pd.DataFrame, col: str) -> pd.DataFrame:
    """`chunk` with `col` as strings, so a value such as "five" is reported as it was written."""
    out = chunk[[col, LINE]].copy()
    out[col] = out[col].map(lambda v: v if isinstance(v, str) else repr(v) if isinstance(v, bool) else str(v))
    return out


def _text(value) -> str:
    if isinstance(value, (list, tuple, np.ndarray)):
        return " ".join(" ".join(str(v).split()) for v in value if str(v).strip())
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else " ".join(str(value).split())


def _meta(path: Path, release: Release, wanted: set) -> pd.DataFrame:
    rows = []
    for chunk in json_chunks(path, [release.item, "title", "description"], f"{release.name} metadata"):
        chunk = chunk[chunk[release.item].astype(str).isin(wanted)]
        rows.append(pd.DataFrame({"item": chunk[release.item].astype(str).to_numpy(),
                                  "title": [_text(t) for t in chunk["title"]],
                                  "text": [_text(t) for t in chunk["description"]]}))
    return pd.concat(rows, ignore_index=True) if rows else None


def _reader(release: Release) -> Reader:
    def detect(path: Path) -> bool:
        return _review_file(path, release) is not None

    def read(path: Path, **_):
        reviews = _review_file(path, release)
        if reviews is None:
            raise DataError(f"{path}: expected one {release.name} review file <Category>{release.suffix}(.gz) "
                            f"(first line with {release.user!r}), or a folder holding exactly one")
        df = _reviews(reviews, release)
        meta = _meta_file(reviews, release)
        items = _meta(meta, release, set(df["item"])) if meta else None
        rating = df["rating"].to_numpy(dtype=float)
        return finish(df["user"].to_numpy(), df["item"].to_numpy(), rating, rating > LIKE_ABOVE,
                      df["timestamp"].to_numpy(np.int64), items, reviews)

    return Reader(detect, read)


AMAZON_2018 = _reader(R2018)
AMAZON_2023 = _reader(R2023)
