"""`python -m tallrec` (used under torchrun, which launches modules)."""

from .cli import main

if __name__ == "__main__":
    main()
