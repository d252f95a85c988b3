"""Small helpers the experiments share: option lists, statistics and table formatting, timestamps."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import TallrecError

DEFAULT_INSTRUCT_CONFIG = "alpaca-cpu"  # stage-1 recipe (configs/instruct/)
DOMAINS = ("movie", "book")


@dataclass(frozen=True)
class Outcome:
    """One row a cell produced: which method and test domain, its record and its folder."""

    method: str
    domain: str
    record: dict
    folder: Path
    extra: dict = field(default_factory=dict)


def parse_int_list(text: str | Sequence[int], option: str, minimum: int = 1) -> list[int]:
    """'16,64' -> [16, 64] (duplicates dropped, order kept); a one-line error naming the option otherwise."""
    if not isinstance(text, str):
        values = list(text)
    else:
        parts = [p.strip() for p in text.split(",")]
        try:
            values = [int(p) for p in parts]
        except ValueError:
            values = None
        if values is None or not parts or any(p == "" for p in parts):
            raise TallrecError(f"{option} {text!r}: expected comma-separated whole numbers, e.g. 16,64")
    if not values:
        raise TallrecError(f"{option}: give at least one value")
    bad = [v for v in values if v < minimum]
    if bad:
        raise TallrecError(f"{option}: {bad[0]} is not allowed (values must be >= {minimum})")
    return list(dict.fromkeys(values))


def mean_sd(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample sd (None for a single value)."""
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def fmt(value: float | None, sd: float | None = None, n: int = 1) -> str:
    if value is None:
        return "–"
    s = f"{value:.4f}"
    if n > 1:
        s += f" ± {sd:.4f} ({n} seeds)"
    return s


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def now() -> str:
    """UTC timestamp to the second (recorded with each cell)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")

