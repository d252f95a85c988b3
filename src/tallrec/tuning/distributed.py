"""Multi-process helpers: which process writes, and waiting for the others."""

from __future__ import annotations

# ---------------------------------------------------------------- the trainer

def is_main() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
