"""Shared building blocks of the dataset builders: reading raw tables, windowing, splitting.

Every builder (MovieLens, Book-Crossing, bring-your-own CSV) reads user-made text files, so every
failure here becomes a one-line `DataError` naming the file and the line, never a pandas traceback.
Line numbers are those a user sees in an editor (1-based, header included).

The windowing rule is the one that reproduces the TALLRec movie files byte for byte (checked
against the authors' valid/test files and the train.json sha256): for each user, in order of first
appearance, with the user's interactions in time order, every interaction that has at least
`history` interactions before it is a target, and its history is exactly the `history`
interactions right before it. A user's first `history` interactions are therefore never targets
(no short-history windows), and users with `history` or fewer interactions give no window at all.
"""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Hashable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from ...core.errors import DataError

T = TypeVar("T")
LINE = "__line__"  # the column read_table adds: each row's line number in the file


# --- raw tables -------------------------------------------------------------------------------


def check_file(path: str | os.PathLike, what: str = "file") -> Path:
    """`path` as a Path if it is a readable, non-empty file; a one-line DataError otherwise."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file ({what})")
    if p.is_dir():
        raise DataError(f"{p}: is a folder, expected a file ({what})")
    if p.stat().st_size == 0:
        raise DataError(f"{p}: file is empty ({what})")
    return p


def read_table(
    path: str | os.PathLike,
    *,
    sep: str,
    encoding: str = "utf-8",
    header: bool = False,
    names: Sequence[str] | None = None,
    quoting: int = csv.QUOTE_MINIMAL,
    what: str = "file",
) -> pd.DataFrame:
    """Read a delimited text file as strings, with a `LINE` column holding each row's line number.

    All values stay strings ("" when absent) so that the caller can report the exact bad value.
    Blank lines are dropped without shifting the line numbers of the others.
    """
    p = check_file(path, what)
    try:
        df = pd.read_csv(
            p,
            sep=sep,
            encoding=encoding,
            header=0 if header else None,
            names=None if header else list(names) if names else None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            quoting=quoting,
            index_col=False,
        )
    except UnicodeDecodeError as e:
        raise DataError(f"{p}: not {encoding} text ({e.reason} at byte {e.start})") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{p}: file is empty ({what})") from None
    except (pd.errors.ParserError, ValueError) as e:
        msg = " ".join(str(e).split())
        raise DataError(f"{p}: malformed {what}: {msg}") from None
    except OSError as e:
        raise DataError(f"{p}: cannot read ({e.strerror or e})") from None
    df = df.fillna("").astype(str)  # short lines: absent values are ""
    if header:
        df.columns = [str(c).strip() for c in df.columns]
    df[LINE] = np.arange(len(df)) + (2 if header else 1)
    data_cols = [c for c in df.columns if c != LINE]
    blank = (df[data_cols] == "").all(axis=1) if data_cols else pd.Series(False, index=df.index)
    df = df[~blank].reset_index(drop=True)
    if df.empty:
        raise DataError(f"{p}: contains no rows ({what})")
    return df


def require_values(df: pd.DataFrame, cols: Iterable[str], path: str | os.PathLike) -> None:
    """A one-line error naming the first row where one of `cols` is empty."""
    for col in cols:
        empty = df[col].str.strip() == ""
        if empty.any():
            line = int(df.loc[empty.idxmax(), LINE])
            raise DataError(f"{path}: line {line}: missing {col}")


def numbers(df: pd.DataFrame, col: str, path: str | os.PathLike, *, integer: bool = False) -> np.ndarray:
    """Column `col` as numbers; a one-line error naming the first non-numeric value and its line."""
    values = pd.to_numeric(df[col].str.strip(), errors="coerce")
    bad = values.isna() | ~np.isfinite(values.astype(float))
    if integer:
        bad |= values.fillna(0) != values.fillna(0).round()
    if bad.any():
        i = bad.idxmax()
        kind = "an integer" if integer else "a number"
        raise DataError(f"{path}: line {int(df.loc[i, LINE])}: {col} {df.loc[i, col]!r} is not {kind}")
    return values.to_numpy(dtype=np.int64 if integer else float)


def check_range(
    df: pd.DataFrame, values: np.ndarray, col: str, lo: float, hi: float, path: str | os.PathLike
) -> None:
    """A one-line error naming the first value of `col` outside [lo, hi]."""
    bad = (values < lo) | (values > hi)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"{path}: line {int(df[LINE].iloc[i])}: {col} {df[col].iloc[i].strip()} is outside the "
            f"rating scale {_fmt(lo)}..{_fmt(hi)}"
        )


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


# --- windows and splits -----------------------------------------------------------------------


def group_in_first_appearance(keys: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    """Row positions of each key, keys in order of first appearance, positions in file order."""
    groups: dict[Hashable, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    return groups


def history_windows(
    sequence: Sequence[tuple[str, bool]], history: int = 10
) -> Iterator[tuple[tuple[tuple[str, bool], ...], str, bool, int]]:
    """(history, target text, target liked, target position) for each full window of `sequence`.

    `sequence` is one user's (item text, liked) pairs in time order. Only targets with `history`
    items before them are used (this is what the authors did; see the module docstring).
    """
    if history < 1:
        raise DataError(f"history length must be at least 1, got {history}")
    for k in range(history, len(sequence)):
        text, liked = sequence[k]
        yield tuple(sequence[k - history : k]), text, liked, k


def split_811(items: Sequence[T]) -> tuple[list[T], list[T], list[T]]:
    """Split in list order: the first 80% train, the next 10% valid, the rest test.

    Boundaries are int(0.8 n) and int(0.9 n), as in the authors' scripts (10,000 -> 8,000/1,000/1,000).
    """
    n = len(items)
    a, b = int(n * 0.8), int(n * 0.9)
    return list(items[:a]), list(items[a:b]), list(items[b:])


MIN_SPLIT = 10  # the smallest n for which int(0.8 n) : int(0.9 n) : n leaves valid and test non-empty


def check_split_size(n: int, where: str, hint: str = "") -> None:
    """A one-line error when `n` samples are too few for an 8:1:1 split with non-empty parts."""
    if n < MIN_SPLIT:
        raise DataError(
            f"{where}: only {n} sample(s); an 8:1:1 split needs at least {MIN_SPLIT}" + (f" ({hint})" if hint else "")
        )


def seeded_shuffle(items: Sequence[T], seed: int) -> list[T]:
    """A copy of `items` shuffled by `random.Random(seed)` (stable across platforms and versions)."""
    out = list(items)
    random.Random(seed).shuffle(out)
    return out


# --- output -----------------------------------------------------------------------------------


def write_outputs(out_dir: str | os.PathLike, files: dict[str, bytes]) -> list[Path]:
    """Write a set of output files all together, once all of them are rendered.

    Builders validate and render everything first and call this last. Every file goes to a
    temporary name in the output folder first; only when all are written are they renamed into
    place, so neither a bad input nor a failed write leaves a partial set or a half-written file.
    """
    from ...core.io import write_files_atomic

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder (expected an output folder)")
    return write_files_atomic(out, files)


def render_splits(splits: dict[str, Sequence]) -> dict[str, bytes]:
    """{"train.json": bytes, ...} in the authors' JSON format, and beside each split whose samples all
    carry a user id its side file "<name>.users.json" (the JSON files themselves never hold the ids)."""
    from ..samples import samples_to_json, users_to_json

    files = {}
    for name, samples in splits.items():
        files[f"{name}.json"] = samples_to_json(samples).encode()
        users = users_to_json(samples)
        if users is not None:
            files[f"{name}.users.json"] = users.encode()
    return files
