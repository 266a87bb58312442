"""The API and the CLI start without the model stack: torch, transformers, peft and vLLM load
only in a worker (and in the commands that run a model), so `retrospect api` starts in about a
second and the API image's processes stay small."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "peft", "vllm", "numpy", "safetensors")


def loaded_after(module: str) -> list[str]:
    code = (
        f"import sys, json, {module}; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def test_the_api_app_imports_no_model_stack() -> None:
    assert loaded_after("service.api.app") == []


def test_the_cli_imports_no_model_stack() -> None:
    assert loaded_after("service.cli") == []
