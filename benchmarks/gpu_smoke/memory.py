"""Peak memory of a stretch of code on the device: CUDA's allocator stats, or the process's
peak resident set on the CPU (`VmHWM`, reset through `/proc/self/clear_refs`).

On the CPU, glibc keeps freed memory in its arenas, which hides a later peak; the benchmark
therefore runs with `MALLOC_MMAP_THRESHOLD_` set, so that every large tensor is its own
mapping and is returned when freed (`ensure_exact_cpu_peaks`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

# Tensors above 64 KiB get their own mapping; freed memory is never kept back.
EXACT_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}


def ensure_exact_cpu_peaks(module: str) -> None:
    """Re-run this process as `python -m module ...` with `EXACT_MALLOC_ENV` if it lacks it."""
    if all(os.environ.get(key) == value for key, value in EXACT_MALLOC_ENV.items()):
        return
    env = {**os.environ, **EXACT_MALLOC_ENV}
    os.execve(sys.executable, [sys.executable, "-m", module, *sys.argv[1:]], env)


def device_free_bytes(device: torch.device) -> int | None:
    """The device's free memory as the driver sees it (every process's use counted, vLLM's
    EngineCore too); None off CUDA."""
    if device.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(device)
    return int(free)


def free_at_peak(free_at_start: int, reserved_at_start: int, peak_reserved: int) -> int:
    """The device's free memory at this process's allocator peak: what was free when the
    stretch began, less what the allocator reserved beyond its starting level."""
    return free_at_start - max(0, peak_reserved - reserved_at_start)


@dataclass
class PeakMeter:
    """The peak above the starting level of one measured stretch, in bytes; on CUDA also the
    device's free memory at the allocator's peak."""

    device: torch.device
    peak_bytes: int = 0
    free_at_peak_bytes: int | None = None

    @contextmanager
    def measure(self) -> Iterator[None]:
        """Measure the block's peak above what was in use when it started."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            start = torch.cuda.memory_allocated(self.device)
            reserved = torch.cuda.memory_reserved(self.device)
            free, _ = torch.cuda.mem_get_info(self.device)
            yield
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device) - start
            peak_reserved = torch.cuda.max_memory_reserved(self.device)
            self.free_at_peak_bytes = free_at_peak(int(free), reserved, peak_reserved)
            return
        start = _status_bytes("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        yield
        self.peak_bytes = _status_bytes("VmHWM") - start


def _status_bytes(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {key}")
