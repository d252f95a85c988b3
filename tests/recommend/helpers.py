"""Users and candidates for the recommender tests: no shared data needed."""

from __future__ import annotations

import random

from helpers import write_raw_movielens

from tallrec.data import Sample

SHORT = ["Up", "Heat (1995)", "M", "Babe (1995)"]
LONG = ["Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1963)",
        "Englishman Who Went Up a Hill, But Came Down a Mountain, The (1995)",
        "Wallace & Gromit: The Best of Aardman Animation (1996) " * 3]
# Titles whose first characters may merge with the opening quote of the prompt into one token.
BOUNDARY = ["'Til There Was You (1997)", "...And Justice for All (1979)", "\"Wings\" (1927)", " Spaced Out",
            "1-900 (1994)", "(500) Days", "!Women Art Revolution"]
CANDIDATES = SHORT + LONG + BOUNDARY


def history(n: int, seed: int = 0) -> tuple:
    rng = random.Random(seed)
    return tuple((f"Movie {chr(65 + rng.randrange(26))}{i} ({1950 + rng.randrange(50)})", rng.random() < 0.6)
                 for i in range(n))


def user(n: int, seed: int = 0) -> Sample:
    return Sample(history=history(n, seed), target="")


def pairs(u: Sample, titles) -> list[Sample]:
    from dataclasses import replace

    return [replace(u, target=t) for t in titles]


def synthetic_ml(folder, users: int = 12, per_user: int = 30, items: int = 80, seed: int = 0):
    """A raw folder with enough windows for a test split with liked targets."""
    rng = random.Random(seed)
    ratings, ts = [], 1_000_000
    for u in range(1, users + 1):
        for item in rng.sample(range(1, items + 1), per_user):
            ts += rng.randint(1, 100)
            ratings.append((u, item, rng.randint(1, 5), ts))
    titles = {i: f"Film {i} ({1950 + i % 50})" for i in range(1, items + 1)}
    titles[7] = titles[8]  # u.item holds some titles twice under two ids
    return write_raw_movielens(folder, ratings, titles), ratings, titles
