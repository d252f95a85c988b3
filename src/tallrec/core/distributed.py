"""Work split round-robin over torch.distributed ranks (`torchrun`), gathered back in input order.

The one shard-and-gather helper: scoring validation prompts during training and ranking users both
use it. Without an initialized process group (the usual single process) it is a plain call.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) when torch.distributed is not initialized."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@contextmanager
def process_group() -> Iterator[bool]:
    """Inside `torchrun`, join its process group (gloo on CPU, nccl on GPUs) for the block and leave
    it after; yields whether one was joined (False when run alone: nothing happens).

    On GPUs each rank first makes cuda:LOCAL_RANK its current device: NCCL collectives run on the
    current device, so without it every rank's all_gather_object and barrier ran on cuda:0."""
    import torch
    import torch.distributed as dist

    joined = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized()
    if joined:
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if cuda else "gloo")
    try:
        yield joined
    finally:
        if joined:
            dist.destroy_process_group()


def shard_and_gather(items: Sequence[T], work: Callable[[list[T], bool], Sequence[Any]]) -> list[Any]:
    """`work(my_items, is_rank_0)` on this rank's share (items rank, rank + world, ...); every rank
    gets all results in input order. `work` returns one picklable result per item."""
    import torch.distributed as dist

    rank, size = world()
    if size == 1:
        return list(work(list(items), True))
    mine = list(range(rank, len(items), size))
    part = list(work([items[i] for i in mine], rank == 0)) if mine else []
    gathered: list = [None] * size
    dist.all_gather_object(gathered, (mine, part))
    out: list = [None] * len(items)
    for idx, vals in gathered:
        for i, v in zip(idx, vals):
            out[i] = v
    return out
