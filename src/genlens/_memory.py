"""Say so before asking the allocator for more than the machine has.

A step whose memory grows with the square of something (sites, samples) either fits or dies deep
inside torch after minutes, or is killed by the OS. Steps that can estimate their need call
:func:`require` first, which raises one clear line -- what, how much, how much is free, what to do --
instead.
"""

from __future__ import annotations

import os

import torch

from genlens.errors import MemoryNeedError

#: Share of the free memory a step may plan to use (the rest is for everything else in the process).
HEADROOM = 0.9


def free_bytes(device: torch.device | str | None = None) -> int | None:
    """Free memory where ``device`` allocates: the GPU's, or the host's ``MemAvailable`` (``None``: unknown)."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda" and torch.cuda.is_available():
        return int(torch.cuda.mem_get_info(dev)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def require(nbytes: float, what: str, advice: str, device: torch.device | str | None = None) -> None:
    """Raise :class:`MemoryNeedError` when ``what`` would need more than the free memory allows."""
    free = free_bytes(device)
    if free is not None and nbytes > HEADROOM * free:
        where = "GPU" if torch.device(device or "cpu").type == "cuda" else "machine"
        raise MemoryNeedError(f"{what} needs about {nbytes / 2**30:.1f} GiB, more than the {free / 2**30:.1f} GiB "
                              f"this {where} has free; {advice}")


def affordable(bytes_each: float, device: torch.device | str | None = None) -> int | None:
    """How many items of ``bytes_each`` the free memory allows a step to plan for (``None``: unknown)."""
    free = free_bytes(device)
    return None if free is None else int(HEADROOM * free // max(bytes_each, 1.0))
