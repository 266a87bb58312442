"""Model resolution: every form of the model setting becomes one local HF folder.

- a shipped model's name (`service.engine.catalog`): its packages' GGUF, checked, converted
  once into `<cache>/<name>`;
- a folder with a `config.json`: that folder;
- a path to a `.gguf` file: converted once into `<cache>/gguf-<sha256 prefix>`;
- a hub id `org/name[@revision]`: the hub client's snapshot folder (`service.engine.hub`).

The plan, the learner, the transformers sampler and vLLM all load the folder this returns.
Loading a GGUF takes tens of seconds (metadata parsing in Python) and vLLM cannot load it at
all, so it is converted once (fp32 weights, the tokenizer with its chat template). Two
processes starting together convert it once: an exclusive file lock guards the conversion,
which is written to a temporary folder and renamed into place.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from service.engine import hub
from service.engine.catalog import SHIPPED_MODELS, ShippedModel
from service.engine.errors import ModelNotFoundError
from service.engine.layout import sha256_file
from service.engine.shipped import assemble, part_paths

__all__ = ["ModelNotFoundError", "describe_setting", "resolve_model"]

logger = logging.getLogger(__name__)

SOURCE_FILE = "retrospect-source.sha256"  # the GGUF a converted folder was made from


def resolve_model(name: str, cache_dir: Path) -> Path:
    """The local HF folder for the model setting `name` (see the module's list)."""
    if not name.strip():
        raise ModelNotFoundError(describe_setting(name))
    if name in SHIPPED_MODELS:
        return convert_shipped(SHIPPED_MODELS[name], cache_dir)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"model folder {path} has no config.json")
        return path.resolve()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelNotFoundError(f"model file {path} does not exist")
        return convert_gguf_file(path.resolve(), cache_dir)
    if hub.is_hub_id(name):
        return hub.snapshot(name)
    raise ModelNotFoundError(describe_setting(name))


def describe_setting(name: str) -> str:
    shipped = ", ".join(SHIPPED_MODELS)
    return (
        f"model {name!r} is none of: a shipped model ({shipped}), a folder with a config.json, "
        "a .gguf file, or a hub id org/name[@revision]"
    )


def convert_shipped(model: ShippedModel, cache_dir: Path) -> Path:
    """`model`'s packages assembled, checked and converted into `cache_dir/<name>`, once."""

    def make(staging: Path) -> None:
        gguf = staging / "assembled.gguf"
        assemble(model, part_paths(model), gguf)
        _convert_gguf(gguf, staging)
        gguf.unlink()

    return _convert_once(cache_dir / model.name, model.sha256, make)


def convert_gguf_file(gguf: Path, cache_dir: Path) -> Path:
    """A user's GGUF converted into the cache, keyed by its bytes (the same file, once)."""
    sha256 = sha256_file(gguf)
    return _convert_once(
        cache_dir / f"gguf-{sha256[:16]}", sha256, lambda staging: _convert_gguf(gguf, staging)
    )


def _converted(target: Path, sha256: str) -> bool:
    marker = target / SOURCE_FILE
    return marker.is_file() and marker.read_text().strip() == sha256


def _convert_once(target: Path, sha256: str, make: Callable[[Path], None]) -> Path:
    if _converted(target, sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _converted(target, sha256):
            return target  # another process converted it while we waited
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            make(staging)
            staging.chmod(0o755)  # mkdtemp's 0700 would hide it from a worker of another uid
            (staging / SOURCE_FILE).write_text(f"{sha256}\n")
            if target.exists():  # made from another GGUF (an older package, or before markers)
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _convert_gguf(gguf: Path, out_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info("converting %s into %s (once per machine)", gguf, out_dir)
    with _one_gguf_parse():
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The weights are dequantized to fp32 on load; clear the GGUF marks so they serialize.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


@contextlib.contextmanager
def _one_gguf_parse() -> Iterator[None]:
    """transformers opens the file anew for the config, the tokenizer and the weights, and
    each `gguf.GGUFReader` parses all metadata (the vocabulary, field by field, in Python):
    within this block, a path is parsed once and its reader shared (read-only, memory-mapped).
    transformers imports the reader from `gguf` at each load, which is where it is swapped."""
    import gguf

    parse = gguf.GGUFReader
    readers: dict[str, Any] = {}

    def shared(path: Any, mode: Any = "r") -> Any:
        key = f"{Path(path).resolve()}:{mode}"
        if key not in readers:
            readers[key] = parse(path, mode)
        return readers[key]

    gguf.GGUFReader = shared  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        gguf.GGUFReader = parse  # type: ignore[misc]
