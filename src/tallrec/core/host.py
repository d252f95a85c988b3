"""What machine a result was produced on: CPU, cores, memory, GPUs (recorded with every result row)."""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from pathlib import Path


def _proc_value(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.lower().startswith(prefix.lower()):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _memory_gib() -> float | None:
    value = _proc_value("/proc/meminfo", "MemTotal:")
    try:
        return round(int(value.split()[0]) / 1024 / 1024, 1) if value else None
    except (ValueError, IndexError):
        return None


def _torch_info() -> tuple[int | None, list[str]]:
    try:
        import torch

        gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] \
            if torch.cuda.is_available() else []
        return torch.get_num_threads(), gpus
    except Exception:  # torch missing or broken: report what is known
        return None, []


@lru_cache(maxsize=1)
def host_info() -> dict:
    """CPU model, logical and usable cores, torch threads, memory, GPUs, OS (computed once)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    threads, gpus = _torch_info()
    return {"hostname": platform.node(),
            "cpu": _proc_value("/proc/cpuinfo", "model name") or platform.processor() or platform.machine(),
            "logical_cores": os.cpu_count(), "usable_cores": usable, "torch_threads": threads,
            "memory_gib": _memory_gib(), "gpus": gpus, "os": platform.platform()}
