"""User-facing errors.

Anything a user can cause (bad file, bad option, missing model) raises `TallrecError` with one line
that names the file/record and says what to do; the CLI prints it on stderr and exits non-zero,
never with a traceback.
"""


class TallrecError(Exception):
    """An error caused by the user's input or environment, reported as one line."""


class DataError(TallrecError):
    """A data file is missing, malformed or inconsistent."""


class ModelError(TallrecError):
    """A model, tokenizer or adapter cannot be used."""
