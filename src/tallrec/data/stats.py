"""What a sample file holds: size, label balance, history lengths, domain.

A quick look before training tells whether a file is the one intended (the official movie valid.json
has 1,000 samples, 65.8% "Yes.") and whether histories will fit a length cutoff.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .samples import Sample


def compute_stats(samples: Sequence[Sample]) -> dict:
    """A JSON-ready summary of `samples`."""
    n = len(samples)
    yes = sum(1 for s in samples if s.label is True)
    no = sum(1 for s in samples if s.label is False)
    lengths = [len(s.history) for s in samples]
    return {
        "samples": n,
        "domains": dict(sorted(Counter(s.domain for s in samples).items())),
        "labels": {"yes": yes, "no": no, "unlabelled": n - yes - no},
        "yes_share": round(yes / (yes + no), 4) if yes + no else None,
        "history_length": {
            "min": min(lengths) if lengths else None,
            "mean": round(sum(lengths) / n, 3) if n else None,
            "max": max(lengths) if lengths else None,
            "histogram": {str(k): v for k, v in sorted(Counter(lengths).items())},
        },
    }


def format_stats(stats: dict, name: str = "") -> str:
    """The summary as a few human-readable lines, with a text histogram of history lengths."""
    h = stats["history_length"]
    labels = stats["labels"]
    share = "n/a" if stats["yes_share"] is None else f"{stats['yes_share']:.1%}"
    lines = [f"file:       {name}"] if name else []
    lines += [
        f"samples:    {stats['samples']}",
        f"domain:     {', '.join(f'{d} ({c})' for d, c in stats['domains'].items())}",
        f"labels:     {labels['yes']} Yes. / {labels['no']} No."
        + (f" / {labels['unlabelled']} unlabelled" if labels["unlabelled"] else "")
        + f"  (Yes share {share})",
        f"history:    min {h['min']}, mean {h['mean']}, max {h['max']} items",
        "history length histogram:",
    ]
    top = max(h["histogram"].values(), default=1)
    width = max((len(k) for k in h["histogram"]), default=1)
    for k, v in h["histogram"].items():
        lines.append(f"  {k:>{width}} | {'#' * max(1, round(40 * v / top)):<40} {v}")
    return "\n".join(lines)
