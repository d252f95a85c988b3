"""`python -m tallrec.llm.export DIR`: a registry model as a safetensors Hugging Face folder.

Shipped in the package (not in benchmarks/) because error messages point users here: a .gguf model
cannot be quantized with bitsandbytes, and a GPU machine without the model packages needs a folder.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ..core.defaults import DEFAULT_MODEL
from ..core.io import atomic_dir
from .models import REGISTRY, convert_registry_model


def export_model(target: str | Path, name: str = DEFAULT_MODEL) -> Path:
    """The registry model `name` (GGUF, dequantized once) copied as a safetensors folder, atomically."""
    source = convert_registry_model(name)
    with atomic_dir(Path(target)) as tmp:
        for f in source.iterdir():
            shutil.copy2(f, tmp / f.name)
    return Path(target)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tallrec.llm.export", description=__doc__.splitlines()[0])
    ap.add_argument("target", type=Path, help="the folder to write")
    ap.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(REGISTRY))
    args = ap.parse_args(argv)
    print(f"wrote {export_model(args.target, args.model)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
