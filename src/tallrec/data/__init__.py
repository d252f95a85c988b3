"""Data: the Sample type, dataset builders (MovieLens, Book-Crossing, CSV), few-shot sampling.

Nothing in this package imports models, training or scoring. The builders need pandas, so they are
imported on first use (`from tallrec.data import load_domain` works; `import tallrec.data` stays light).
"""

from .samples import Sample, load_samples, samples_to_json, save_samples

_LAZY = {
    "build_movielens": "builders.movielens",
    "build_bookcrossing": "builders.bookcrossing",
    "split_official_book": "builders.bookcrossing",
    "build_from_csv": "builders.csv",
    "download_movielens": "fetch",
    "verify_movielens": "fetch",
    "verify_official": "fetch",
    "MOVIELENS_SHA256": "fetch",
    "OFFICIAL_SHA256": "fetch",
    "compute_stats": "stats",
    "DomainData": "datasets",
    "load_domain": "datasets",
    "resolve_movielens": "datasets",
    "resolve_book": "datasets",
    "Interactions": "interactions",
    "read_log": "readers",
    "detect_format": "readers",
    "write_parquet": "readers.buckets",
    "apply_recipe": "filters",
    "PRESETS": "presets",
    "download_release": "fetch",
}

__all__ = ["Sample", "load_samples", "save_samples", "samples_to_json", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
