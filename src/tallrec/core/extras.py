"""Optional parts of tallrec (pip extras): a command that needs a missing one says which, in one line."""

from __future__ import annotations

import importlib.util

from .errors import TallrecError

EXTRAS = {
    "serve": ("fastapi", "uvicorn", "prometheus_client"),
    "report": ("matplotlib",),
}


def require_extra(extra: str, what: str) -> None:
    """Refuse `what` (e.g. "tallrec serve") when a module of the `extra` is not installed."""
    missing = [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]
    if missing:
        raise TallrecError(f"{what} needs the [{extra}] extra ({', '.join(missing)} missing): "
                           f"pip install 'tallrec[{extra}]'")
