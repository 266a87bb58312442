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


@dataclass
class PeakMeter:
    """The peak above the starting level of one measured stretch, in bytes."""

    device: torch.device
    peak_bytes: int = 0

    @contextmanager
    def measure(self) -> Iterator[None]:
        """Measure the block's peak above what was in use when it started."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            start = torch.cuda.memory_allocated(self.device)
            yield
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device) - start
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
