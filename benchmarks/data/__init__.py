"""Data sets the benchmarks and tests read, shipped in the repository with their licences."""

from __future__ import annotations

from pathlib import Path

# MBPP, the sanitized split (427 problems): CC BY 4.0, see mbpp/README.md.
MBPP_SANITIZED = Path(__file__).resolve().parent / "mbpp" / "mbpp-sanitized.json"
