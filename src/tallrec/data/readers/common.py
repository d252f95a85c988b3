"""What every reader shares: delimited and JSON-lines tables read with line numbers, checked
numbers, the duplicate rule and the item table.

Every failure a user can cause becomes one `DataError` line naming the file and the line (1-based,
as an editor shows it, header included), raised before anything is built.

Duplicate rule (all readers but MovieLens-100K, which has none): rows with the same
(user, item, timestamp) after the first are dropped; the first keeps its place in file order. The
count is in ``log.events.attrs["duplicates_dropped"]`` (`duplicates_dropped(log)`), so a summary can
say how many went.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ...core.errors import DataError
from ..builders.windows import LINE, check_file, numbers
from ..interactions import Interactions

DUPLICATES = "duplicates_dropped"
JSON_CHUNK = 200_000  # JSON lines read per chunk: bounded memory on multi-GB review files


def find(folder: Path, names: Iterable[str]) -> Path | None:
    """The first of `names` that is a file in `folder` (None if none is)."""
    for name in names:
        if (folder / name).is_file():
            return folder / name
    return None


def decode(path: Path, data: bytes, encodings: tuple[str, ...] = ("utf-8", "latin-1")) -> str:
    """`data` as text in the first encoding that fits (latin-1 always does)."""
    for enc in encodings:
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise DataError(f"{path}: not {' or '.join(encodings)} text")


def read_delimited(path: Path, *, sep: str, names: list[str] | None = None, header: bool = False,
                   encodings: tuple[str, ...] = ("utf-8", "latin-1"), quoting: int = csv.QUOTE_NONE,
                   what: str = "file") -> pd.DataFrame:
    """A delimited text file (`sep` may be several characters, as MovieLens' "::") as strings, with
    a `LINE` column; blank lines dropped, the rest keep their line numbers."""
    data = check_file(path, what).read_bytes()
    if path.suffix == ".gz":
        import gzip

        data = gzip.decompress(data)
    text = decode(path, data, encodings)
    if len(sep) > 1:
        text = text.replace(sep, "\x1f")
        sep = "\x1f"
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, header=0 if header else None,
                         names=None if header else names, dtype=str, keep_default_na=False,
                         skip_blank_lines=False, quoting=quoting, index_col=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty ({what})") from None
    except (pd.errors.ParserError, ValueError) as e:
        raise DataError(f"{path}: malformed {what}: {' '.join(str(e).split())}") from None
    df = df.fillna("").astype(str)
    df.columns = [str(c).strip() for c in df.columns]
    df[LINE] = np.arange(len(df)) + (2 if header else 1)
    cols = [c for c in df.columns if c != LINE]
    df = df[~(df[cols] == "").all(axis=1)].reset_index(drop=True)
    if df.empty:
        raise DataError(f"{path}: contains no rows ({what})")
    return df


def require_columns(df: pd.DataFrame, columns: Iterable[str], path: Path, what: str) -> None:
    """One line naming the first missing column."""
    for col in columns:
        if col not in df.columns:
            raise DataError(f"{path}: missing column {col!r} ({what}; columns found: "
                            f"{', '.join(c for c in df.columns if c != LINE)})")


def require_values(df: pd.DataFrame, columns: Iterable[str], path: Path) -> None:
    """One line naming the first row where one of `columns` is empty or null."""
    for col in columns:
        empty = df[col].isna() | (df[col].astype(str).str.strip() == "")
        if empty.any():
            i = empty.to_numpy().argmax()
            raise DataError(f"{path}: line {int(df[LINE].iloc[i])}: missing {col}")


def number_column(df: pd.DataFrame, col: str, path: Path, integer: bool = False) -> np.ndarray:
    """`col` as numbers; one line naming the first bad value and its line."""
    if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
        return numbers(df, col, path, integer=integer)
    values = df[col].to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if integer:
        bad |= values != np.round(values)
    if bad.any():
        i = int(bad.argmax())
        kind = "an integer" if integer else "a number"
        raise DataError(f"{path}: line {int(df[LINE].iloc[i])}: {col} {df[col].iloc[i]!r} is not {kind}")
    return values.astype(np.int64) if integer else values


# --- JSON lines -------------------------------------------------------------------------------


def json_chunks(path: Path, fields: list[str], what: str) -> Iterator[pd.DataFrame]:
    """A JSON-lines file (.gz or not) in chunks holding `fields` (null where absent) and `LINE`."""
    check_file(path, what)
    start = 1
    try:
        reader = pd.read_json(path, lines=True, chunksize=JSON_CHUNK, dtype=False,
                              compression="infer", encoding="utf-8")
        with reader:
            for chunk in reader:
                chunk = chunk.reindex(columns=fields)
                chunk[LINE] = np.arange(start, start + len(chunk))
                start += len(chunk)
                yield chunk
    except (ValueError, UnicodeDecodeError, EOFError, OSError) as e:
        raise DataError(bad_json_line(path) or f"{path}: malformed {what}: {' '.join(str(e).split())}") from None


def bad_json_line(path: Path) -> str | None:
    """The one-line error for the first line of `path` that is not a JSON object, if any."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    return f"{path}: line {n}: not valid JSON ({e.msg} at column {e.colno})"
                if not isinstance(obj, dict):
                    return f"{path}: line {n}: not a JSON object"
    except UnicodeDecodeError as e:
        return f"{path}: not UTF-8 text ({e.reason})"
    except (OSError, EOFError) as e:
        return f"{path}: cannot read ({getattr(e, 'strerror', None) or e})"
    return None


# --- the table --------------------------------------------------------------------------------


def item_table(event_items: pd.Series, known: pd.DataFrame | None = None) -> pd.DataFrame:
    """Items: `known` (item, title, text; first row of an id wins), plus the events' ids it lacks
    with an empty title, in the order known-then-first-appearance."""
    known = known if known is not None else pd.DataFrame({"item": [], "title": [], "text": []})
    known = known.drop_duplicates("item", keep="first")
    missing = pd.unique(event_items[~event_items.isin(known["item"])])
    extra = pd.DataFrame({"item": missing, "title": [""] * len(missing), "text": [""] * len(missing)})
    out = pd.concat([known[["item", "title", "text"]], extra], ignore_index=True) if len(extra) else known
    out = out.reset_index(drop=True)
    out["title"] = out["title"].fillna("").astype(str)
    out["text"] = out["text"].fillna("").astype(str)
    return out


def finish(user, item, rating, liked, timestamp, items: pd.DataFrame | None, source: Path) -> Interactions:
    """The table, after the duplicate rule (see the module docstring)."""
    events = pd.DataFrame({"user": np.asarray(user), "item": np.asarray(item), "timestamp": np.asarray(timestamp)})
    keep = ~events.duplicated(["user", "item", "timestamp"], keep="first").to_numpy()
    dropped = int((~keep).sum())
    log = Interactions.from_columns(
        np.asarray(user)[keep], np.asarray(item)[keep], np.asarray(rating, dtype=float)[keep],
        np.asarray(liked, dtype=bool)[keep], np.asarray(timestamp, dtype=np.int64)[keep],
        item_table(pd.Series(np.asarray(item)[keep]), items), source=str(source))
    log.events.attrs[DUPLICATES] = dropped
    return log


def duplicates_dropped(log: Interactions) -> int:
    return int(log.events.attrs.get(DUPLICATES, 0))


def read_numeric(path: Path, *, sep: str, names: list[str], header: bool, integer: dict[str, bool],
                 what: str) -> pd.DataFrame:
    """A large delimited table of numeric columns (`integer`: column -> int64 or float64) read by
    pandas' C parser in one pass; on any bad value the file is read again as text, only to name
    the first bad line in one `DataError`."""
    check_file(path, what)
    dtypes = {c: "int64" if is_int else "float64" for c, is_int in integer.items()}
    try:
        source, fast_sep = path, sep
        if len(sep) > 1:  # the C parser takes one character: "::" -> "\x1f" in memory
            data = path.read_bytes()
            if path.suffix == ".gz":
                import gzip

                data = gzip.decompress(data)
            source, fast_sep = io.BytesIO(data.replace(sep.encode(), b"\x1f")), "\x1f"
        df = pd.read_csv(source, sep=fast_sep, header=0 if header else None, names=None if header else names,
                         usecols=list(integer), dtype=dtypes, quoting=csv.QUOTE_NONE, index_col=False,
                         encoding="latin-1")
        if len(df) and df.notna().all().all():
            return df
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError, OverflowError):
        pass
    raw = read_delimited(path, sep=sep, names=names, header=header, what=what)
    require_columns(raw, list(integer), path, what)
    for col, is_int in integer.items():
        number_column(raw, col, path, integer=is_int)
    raise DataError(f"{path}: malformed {what} (a row with too few or too many fields)")


class Reader:
    """One registered format when a module holds several: `detect(path)` and `read(path, **options)`."""

    def __init__(self, detect, read, takes_columns: bool = False):
        self.detect, self.read, self.takes_columns = detect, read, takes_columns


def json_fast(path: Path, fields: dict[str, str]) -> pd.DataFrame | None:
    """`fields` (name -> "string" | "float64" | "int64") of a JSON-lines file read by pyarrow's
    multithreaded parser, other fields ignored; None on anything unexpected (a bad line, a null,
    a type that does not convert), and the caller reads it again the slow way to name the line."""
    import pyarrow as pa
    import pyarrow.json as pj

    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in fields.items()])
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            table = pj.read_json(stream, parse_options=options)
    except Exception:  # pyarrow raises several types; the slow path reports the line
        return None
    if table.num_rows == 0 or any(table.column(n).null_count for n in fields):
        return None
    return table.select(list(fields)).to_pandas()
