"""Helpers every test area shares (import as `from helpers import ...`; tests/ is on the path):
synthetic samples, a tiny MovieLens-format raw folder, the one-line error check and a free port."""

from __future__ import annotations

import random
import socket
from pathlib import Path

from tallrec.data import Sample

TITLES = [f"Movie {chr(65 + i % 26)}{i} ({1950 + i % 50})" for i in range(200)]


def synthetic(n: int, seed: int = 0, history: int = 10) -> list[Sample]:
    """Samples whose label follows the history's like share, so there is something to learn."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        hist = tuple((rng.choice(TITLES), rng.random() < 0.5) for _ in range(rng.randint(1, history)))
        share = sum(liked for _, liked in hist) / len(hist)
        out.append(Sample(history=hist, target=rng.choice(TITLES), label=rng.random() < share))
    return out


def write_raw_movielens(folder: Path, ratings: list[tuple], titles: dict[int, str] | None = None) -> Path:
    """A fake ml-100k folder: u.data (tab-separated) and u.item ('|'-separated, ISO-8859-1)."""
    folder.mkdir(parents=True, exist_ok=True)
    items = sorted({r[1] for r in ratings}) if titles is None else sorted(titles)
    titles = titles or {i: f"Movie {i} (199{i % 10})" for i in items}
    (folder / "u.data").write_text("".join("\t".join(map(str, r)) + "\n" for r in ratings))
    (folder / "u.item").write_bytes(
        "".join(f"{i}|{titles[i]}|01-Jan-1995||http://x|0|1\n" for i in items).encode("ISO-8859-1")
    )
    return folder


def one_line_error(code: int, err: str, *fragments: str) -> str:
    """Exit code 1, exactly one 'tallrec: error:' line, last on stderr (progress bars may precede
    it), no traceback, holding every fragment; returns that line."""
    assert code == 1, (code, err[-2000:])
    assert "Traceback" not in err, err[-2000:]
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert lines and lines[-1].startswith("tallrec: error: "), err[-2000:]
    assert sum("tallrec: error" in line for line in lines) == 1, err[-2000:]
    for f in fragments:
        assert f in lines[-1], (f, lines[-1])
    return lines[-1]


def free_port() -> int:
    """A loopback TCP port nobody listens on now (the OS picks it): tests never collide on a fixed
    port with each other, another checkout's run or a service on the machine."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def synthetic_sequences(folder: Path, same_title_pair: bool = False):
    """A leave-one-out split of 30 users x 6-16 ratings over 60 movies (seeded, file order shuffled:
    the split sorts by time); `same_title_pair` gives ids 59 and 60 one title, as u.item does."""
    import random

    from tallrec.data.builders.sequences import leave_one_out

    rng = random.Random(7)
    ratings = []
    for user in range(1, 31):
        items = rng.sample(range(1, 61), rng.randint(6, 16))
        ratings += [(user, item, rng.randint(1, 5), 1000 * user + k) for k, item in enumerate(items)]
    rng.shuffle(ratings)
    titles = {i: f"Movie {i} (19{50 + i % 50})" for i in range(1, 61)}
    if same_title_pair:
        titles[60] = titles[59]
    return leave_one_out(write_raw_movielens(folder, ratings, titles))



def synthetic_log(seed: int = 0, users: int = 30, items: int = 40, per_user: int = 24):
    """An interaction table of users rating items over about five months (so it spans several
    monthly CF snapshots); pairs of a user's ratings share a second, as in MovieLens."""
    import numpy as np
    import pandas as pd

    from tallrec.data.interactions import Interactions

    day, start = 86_400, 880_000_000
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        t0 = start + int(rng.integers(0, 60)) * day
        for k, i in enumerate(rng.choice(items, per_user, replace=False)):
            t = t0 + (k // 2) * int(rng.integers(1, 5)) * day
            rows.append((u + 1, int(i) + 1, int(rng.integers(1, 6)), t))
    rows.sort(key=lambda r: (r[3], r[0]))
    a = np.array(rows)
    titles = pd.DataFrame({"item": np.arange(1, items + 1), "title": [f"Item {i} (1990)" for i in range(1, items + 1)],
                           "text": [""] * items})
    return Interactions.from_columns(a[:, 0], a[:, 1], a[:, 2], a[:, 2] > 3, a[:, 3], titles, source="synthetic")


def write_log_as_movielens(log, folder: Path) -> Path:
    """`log` (int ids, ratings 1-5) written as an ml-100k folder."""
    ev = log.events
    ratings = [(int(u), int(i), int(r), int(t)) for u, i, r, t in zip(ev.user, ev.item, ev.rating, ev.timestamp)]
    return write_raw_movielens(folder, ratings, dict(zip(log.items.item.tolist(), log.items.title.tolist())))
