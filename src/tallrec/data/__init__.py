"""Data: the Sample type, dataset builders (MovieLens, Book-Crossing, CSV), few-shot sampling.

Nothing in this package imports models, training or scoring.
"""

from .samples import Sample, load_samples, save_samples, samples_to_json

__all__ = ["Sample", "load_samples", "save_samples", "samples_to_json"]
