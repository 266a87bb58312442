"""Shared setup of the transformers engine tests: the default model, loaded once per module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from service.config import EngineSettings
from service.engine.host import ModelHost
from service.engine.model import ModelNotFoundError

ROOT = Path(__file__).resolve().parents[4]
# Other developers share this machine's 2 cores.
TORCH_THREADS = 2


def model_cache_dir() -> Path:
    """Reuse the conversion under the data dir (RETROSPECT_DATA_DIR, else ./data)."""
    return Path(os.environ.get("RETROSPECT_DATA_DIR", str(ROOT / "data"))) / "models"


def load_host(settings: EngineSettings) -> ModelHost:
    """The default model on the CPU, or a skip saying why it is unavailable."""
    torch.set_num_threads(min(torch.get_num_threads(), TORCH_THREADS))
    try:
        return ModelHost.load(settings, model_cache_dir())
    except ModelNotFoundError as exc:
        pytest.skip(f"the default model is unavailable (make install): {exc}")
