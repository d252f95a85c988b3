"""Items as integer rows, and samples as padded tensors.

Two ways to give an item text a row:

* `ItemVocab` (id models: gru4rec, caser, sasrec, dros): the vocabulary is built from the K
  training samples only (their history items and targets), because an id embedding can only be
  learned for items seen in training. Row 0 is padding, row 1 is UNK: every item not in the
  training samples (most validation/test items in the few-shot setting) maps to the single UNK
  row, which is the zero vector by default (an unseen target is then scored from the user's history
  alone; see sequential.SeqRec), or a learned vector with `unk_dropout` > 0 (see
  sequential.IdItems). A single UNK rather than hashed buckets: hashing would give unseen items
  random, untrained vectors, i.e. noise.
* `TextIndex` (text models: gru-bert, dros-bert): every text of every split gets its own row,
  because the item's representation is its frozen text embedding, an input feature that needs no
  labels. Row 0 is padding.

`encode` turns samples into an `Encoded` batch: history rows right-padded to `max_len` (oldest
first, the newest `max_len` items kept), liked flags (0 pad, 1 liked, 2 disliked), lengths,
target rows and labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields

import torch

from ..data.samples import Sample

PAD, UNK = 0, 1
FLAG_PAD, FLAG_LIKED, FLAG_DISLIKED = 0, 1, 2


def sample_texts(samples: Iterable[Sample]) -> list[str]:
    """Every item text of `samples` (history items, then target), in first-seen order, no repeats."""
    seen: dict[str, None] = {}
    for s in samples:
        for t, _ in s.history:
            seen.setdefault(t, None)
        seen.setdefault(s.target, None)
    return list(seen)


class ItemVocab:
    """Item ids for id models: 0 = padding, 1 = UNK (any item not seen in training), 2.. = known."""

    def __init__(self, texts: Iterable[str]):
        self.ids: dict[str, int] = {}
        for t in texts:
            self.ids.setdefault(t, len(self.ids) + 2)

    @classmethod
    def from_samples(cls, samples: Iterable[Sample]) -> ItemVocab:
        return cls(sample_texts(samples))

    def __len__(self) -> int:  # number of embedding rows
        return len(self.ids) + 2

    def __call__(self, text: str) -> int:
        return self.ids.get(text, UNK)


class TextIndex:
    """Rows for text models: 0 = padding, row i >= 1 is `texts[i - 1]`."""

    def __init__(self, texts: Iterable[str]):
        self.texts: list[str] = []
        self.ids: dict[str, int] = {}
        for t in texts:
            if t not in self.ids:
                self.ids[t] = len(self.texts) + 1
                self.texts.append(t)

    def __len__(self) -> int:
        return len(self.texts) + 1

    def __call__(self, text: str) -> int:
        return self.ids[text]


@dataclass
class Encoded:
    """Samples as tensors. hist/flags: [N, L] (right-padded); lengths, target: [N]; labels: [N] float."""

    hist: torch.Tensor
    flags: torch.Tensor
    lengths: torch.Tensor
    target: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.target.shape[0])

    def take(self, idx) -> Encoded:
        return Encoded(*(getattr(self, f.name)[idx] for f in fields(self)))

    def to(self, device) -> Encoded:
        return Encoded(*(getattr(self, f.name).to(device) for f in fields(self)))


def encode(samples: Sequence[Sample], index: Callable[[str], int], max_len: int = 10) -> Encoded:
    n = len(samples)
    hist = torch.zeros(n, max_len, dtype=torch.long)
    flags = torch.zeros(n, max_len, dtype=torch.long)
    lengths = torch.zeros(n, dtype=torch.long)
    target = torch.zeros(n, dtype=torch.long)
    labels = torch.zeros(n, dtype=torch.float)
    for i, s in enumerate(samples):
        h = s.history[-max_len:] if max_len > 0 else ()
        for j, (text, liked) in enumerate(h):
            hist[i, j] = index(text)
            flags[i, j] = FLAG_LIKED if liked else FLAG_DISLIKED
        lengths[i] = len(h)
        target[i] = index(s.target)
        labels[i] = float(bool(s.label))
    return Encoded(hist, flags, lengths, target, labels)


def popularity(samples: Iterable[Sample], index: Callable[[str], int], rows: int) -> torch.Tensor:
    """How often each row occurs (history items and targets) in `samples`: [rows] float counts."""
    counts = torch.zeros(rows)
    for s in samples:
        for t, _ in s.history:
            counts[index(t)] += 1
        counts[index(s.target)] += 1
    counts[PAD] = 0
    return counts
