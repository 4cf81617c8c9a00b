"""Process-wide settings that make PyTorch fast on a CPU; called by long jobs, never on import."""

from __future__ import annotations

import ctypes
import logging
import os

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_tuned = False


def tune_allocator() -> bool:
    """Stop glibc from returning large blocks to the OS after every batch.

    PyTorch on the CPU allocates and frees the same large buffers at every step; glibc's
    default maps each with mmap and unmaps it on free, which costs up to 3x in throughput at
    larger batches. Turning mmap off for allocations and raising the trim threshold keeps
    the memory in the process instead. Same effect as ``MALLOC_MMAP_MAX_=0
    MALLOC_TRIM_THRESHOLD_=...`` in the environment.

    Returns
    -------
    bool
        Whether the settings were applied (False off glibc).
    """
    global _tuned
    if _tuned:
        return True
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(_M_MMAP_MAX, 0) == 1 and \
            libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30) == 1
    except (OSError, AttributeError):
        return False
    _tuned = ok
    logger.debug("glibc allocator tuned for PyTorch: %s", ok)
    return ok


def set_threads(threads: int | None = None) -> int:
    """Use ``threads`` intra-op threads in PyTorch (all cores by default); returns the number."""
    import torch

    if threads is None:
        cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        threads = len(cores) if cores else (os.cpu_count() or 1)
    torch.set_num_threads(max(1, int(threads)))
    return torch.get_num_threads()


def resolve_device(device: str) -> str:
    """``"auto"`` becomes ``"cuda"`` when a GPU is usable, else ``"cpu"``; others are checked."""
    import torch

    from posekit.errors import ModelError

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda was asked for but PyTorch sees no usable GPU here. "
                         "Use --device cpu (or auto).")
    if device not in ("cpu", "cuda"):
        raise ModelError(f"device must be cpu, cuda or auto, found {device!r}.")
    return device
