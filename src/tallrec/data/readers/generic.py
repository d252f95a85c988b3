"""Your own log as CSV (.csv/.tsv, header row), Parquet, or JSON lines (.jsonl, .gz or not), with
a column mapping: `read_log(path, format="csv", columns={"user": "uid", "item": "movie"})`.

Fields (table name -> file column, defaults to the same name): `user`, `item` (required); `rating`
(float; NaN when absent or empty: an implicit row, not liked under a threshold); `liked` (bool or 0/1; when absent: rating > 3, or every row when there
is no rating: an implicit log); `timestamp` (Unix seconds, or a date/time text read as UTC; 0 when
absent); `title`, `text` (item text: the first row of each item wins). A mapped column that is
missing, or a bad value, is one error naming the file and the line (Parquet: the row). Ids are
kept as strings, whatever their type in the file.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from ...core.errors import DataError
from ..builders.windows import LINE
from .common import Reader, finish, json_chunks, number_column, read_delimited, require_columns, require_values

FIELDS = ("user", "item", "rating", "liked", "timestamp", "title", "text")
LIKE_ABOVE = 3
TRUE, FALSE = {"1", "true", "yes", "y", "t"}, {"0", "false", "no", "n", "f", ""}


def mapping(columns: dict | None) -> dict[str, str]:
    """field -> file column; unknown fields are an error."""
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(FIELDS))
    if unknown:
        raise DataError(f"unknown field(s) in the column mapping: {', '.join(unknown)} (fields: {', '.join(FIELDS)})")
    return {f: str(columns.get(f, f)) for f in FIELDS}


def _suffix(path: Path) -> str:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return Path(name).suffix.lower()


def _load(path: Path, kind: str, cols: dict[str, str]) -> pd.DataFrame:
    if kind == "csv":
        sep = "\t" if _suffix(path) == ".tsv" else ","
        return read_delimited(path, sep=sep, header=True, quoting=csv.QUOTE_MINIMAL, what="interaction CSV")
    if kind == "jsonl":
        parts = list(json_chunks(path, list(dict.fromkeys(cols.values())), "interaction JSON lines"))
        if not parts:
            raise DataError(f"{path}: contains no rows (interaction JSON lines)")
        df = pd.concat(parts, ignore_index=True)
        return df.dropna(axis=1, how="all")
    try:
        df = pd.read_parquet(path)
    except Exception as e:  # pyarrow raises several types for a bad file
        raise DataError(f"{path}: not a readable Parquet file ({' '.join(str(e).split())[:200]})") from None
    df[LINE] = np.arange(1, len(df) + 1)
    return df


def _text(df: pd.DataFrame, col: str) -> pd.DataFrame:
    out = df[[col, LINE]].copy()
    out[col] = out[col].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return out


def _timestamps(df: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    text = _text(df, col)
    values = pd.to_numeric(text[col].str.strip(), errors="coerce")
    if values.notna().all():
        return number_column(text, col, path, integer=False).astype(np.int64)
    dates = pd.to_datetime(text[col].str.strip(), errors="coerce", utc=True, format="mixed")
    bad = (dates.isna() & values.isna()).to_numpy()
    if bad.any():
        i = int(bad.argmax())
        raise DataError(f"{path}: line {int(df[LINE].iloc[i])}: {col} {text[col].iloc[i]!r} is not a Unix time "
                        "or a date")
    seconds = (dates - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return np.where(values.notna(), values.fillna(0), seconds.fillna(0)).astype(np.int64)


def _ratings(df: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    """Ratings; an empty or null one is NaN (an implicit row), text that is no number an error."""
    text = _text(df, col)
    given = (text[col].str.strip() != "").to_numpy()
    out = np.full(len(df), np.nan)
    if given.any():
        out[given] = number_column(text[given], col, path)
    return out


def _liked(df: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    text = _text(df, col)[col].str.strip().str.lower()
    number = pd.to_numeric(text, errors="coerce")  # 1, 0, 1.0 (JSON numbers read as floats)
    text = text.where(number.isna() | ~number.isin([0, 1]), number.map({0: "0", 1: "1"}))
    bad = ~(text.isin(TRUE) | text.isin(FALSE))
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise DataError(f"{path}: line {int(df[LINE].iloc[i])}: {col} {text.iloc[i]!r} is not true/false or 1/0")
    return text.isin(TRUE).to_numpy()


def _items(df: pd.DataFrame, cols: dict[str, str], items: np.ndarray) -> pd.DataFrame | None:
    if cols["title"] not in df and cols["text"] not in df:
        return None
    out = pd.DataFrame({"item": items})
    for field in ("title", "text"):
        out[field] = _text(df, cols[field])[cols[field]].str.strip().to_numpy() if cols[field] in df else ""
    return out.drop_duplicates("item", keep="first")


def _build(path: Path, kind: str, columns: dict | None):
    cols = mapping(columns)
    df = _load(path, kind, cols)
    what = f"{kind} interaction log (columns {', '.join(f'{k}={v}' for k, v in cols.items() if k in ('user', 'item'))})"
    require_columns(df, [cols["user"], cols["item"]], path, what)
    require_values(df, [cols["user"], cols["item"]], path)
    user = _text(df, cols["user"])[cols["user"]].str.strip().to_numpy()
    item = _text(df, cols["item"])[cols["item"]].str.strip().to_numpy()
    has_rating = cols["rating"] in df
    rating = _ratings(df, cols["rating"], path) if has_rating else np.full(len(df), np.nan)
    if cols["liked"] in df:
        liked = _liked(df, cols["liked"], path)
    else:
        liked = rating > LIKE_ABOVE if has_rating else np.ones(len(df), dtype=bool)
    stamp = _timestamps(df, cols["timestamp"], path) if cols["timestamp"] in df else np.zeros(len(df), np.int64)
    return finish(user, item, rating, liked, stamp, _items(df, cols, item), path)


def _reader(kind: str, suffixes: tuple[str, ...]) -> Reader:
    def detect(path: Path) -> bool:
        """A file of this kind whose columns hold `user` and `item` (other names need `format=`)."""
        if not (path.is_file() and _suffix(path) in suffixes):
            return False
        try:
            return {"user", "item"} <= set(_header(path, kind))
        except Exception:
            return False

    def read(path: Path, columns: dict | None = None, **_):
        if not path.is_file():
            raise DataError(f"{path}: expected one {kind} file (a folder is not a {kind} log)")
        try:
            return _build(path, kind, columns)
        except DataError as e:
            if kind == "parquet":  # Parquet has rows, not lines
                raise DataError(str(e).replace(": line ", ": row ", 1)) from None
            raise

    return Reader(detect, read, takes_columns=True)


def _header(path: Path, kind: str) -> list[str]:
    if kind == "parquet":
        import pyarrow.parquet as pq

        return pq.read_schema(path).names
    import gzip
    import json

    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        line = f.readline()
    if kind == "jsonl":
        return list(json.loads(line))
    return [c.strip().strip('"') for c in line.strip().split("\t" if _suffix(path) == ".tsv" else ",")]


CSV = _reader("csv", (".csv", ".tsv"))
PARQUET = _reader("parquet", (".parquet",))
JSONL = _reader("jsonl", (".jsonl", ".json"))
