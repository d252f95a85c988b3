"""Which user each sample belongs to, for the per-user figures (UAUC, GAUC) and the slices.

The authors' JSON files carry no user id, and must stay byte-identical, so ids travel beside them:

* samples built from raw data (MovieLens, CSV, raw Book-Crossing) carry `Sample.user`, and
  `tallrec data prepare` writes it into a side file `<split>.users.json` that `load_samples` reads;
* the official movie files (and any file of MovieLens windows: train, valid, test, unpublished, a
  few-shot draw) map back to their users through the raw build: `movielens_users` rebuilds every
  window from ml-100k and looks each sample up by its text. A sample whose text is in no window, or
  in windows of two different users, gets no id, and the per-user figures then say so.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .samples import Sample


def sample_key(s: Sample) -> tuple:
    """What identifies a sample's text: the JSON form keeps liked and disliked items apart (each in
    order), so they are compared apart."""
    return tuple(s.liked), tuple(s.disliked), s.target, s.label


def movielens_users(samples: Sequence[Sample], raw_dir: str | os.PathLike) -> list:
    """The MovieLens user id of each sample (None where its text is in no window of `raw_dir`, or in
    windows of more than one user)."""
    from .builders.movielens import raw_windows

    owners: dict[tuple, set] = {}
    for w in raw_windows(raw_dir):
        owners.setdefault(sample_key(w), set()).add(w.user)
    out = []
    for s in samples:
        users = owners.get(sample_key(s), set())
        out.append(next(iter(users)) if len(users) == 1 else None)
    return out


def attach_users(samples: Sequence[Sample], data_dir: str | os.PathLike | None = None) -> tuple[list[Sample], str]:
    """`samples` with a user id on each (when one can be known) and a line saying where the ids came
    from: the samples themselves (a builder or a side file), else, for movie samples, the rebuild
    of DATA_DIR/ml-100k when every sample is found there exactly once."""
    from ..core.paths import data_dir as resolve

    samples = list(samples)
    if samples and all(s.user is not None for s in samples):
        return samples, "user ids from the samples (builder or side file)"
    if not samples or any(s.domain != "movie" for s in samples):
        return samples, "no user ids"
    raw = Path(resolve(data_dir)) / "ml-100k"
    if not ((raw / "u.data").is_file() and (raw / "u.item").is_file()):
        return samples, f"no user ids ({raw} not found to recover them)"
    users = movielens_users(samples, raw)
    missing = sum(u is None for u in users)
    if missing:
        return samples, f"no user ids ({missing} of {len(samples)} samples not found once among the {raw} windows)"
    return [s.with_user(u) for s, u in zip(samples, users)], f"user ids recovered from the windows of {raw}"
