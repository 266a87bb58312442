"""One base model on a worker, with one peft LoRA adapter per job, shared by learner and sampler.

Sharing the module object is what makes a fresh adapter live for the transformers sampler at
once. Which adapter is active is global state of the module, so every forward
runs inside `active(name)`, which holds a re-entrant lock for its duration.

Adding or deleting an adapter changes the module tree that every read of weights walks
(`state_dict`, `named_parameters`), and jobs run on threads of their own: so the peft model is
private to this class, and each of its methods touches it under the same lock.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from peft import (
    LoraConfig,
    PeftModel,
    get_peft_model,
    get_peft_model_state_dict,
    set_peft_model_state_dict,
)

from service.config import EngineSettings
from service.engine.model import resolve_model
from service.engine.row_adapters import adapters_by_row
from service.engine.torch_thread import on_torch_thread

_PLACEHOLDER = "placeholder"


def pick_device(setting: str) -> torch.device:
    """`auto` is the first CUDA device when there is one, else the CPU."""
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)


def pick_dtype(setting: str, device: torch.device) -> torch.dtype:
    """`auto` keeps fp32 on the CPU and bf16 on CUDA.

    On the CPU, bf16 weights sample only about 1.1x faster at a round's batch of 8
    (`python -m benchmarks.cpu_sampling`), and the same weights serve the learner, whose step
    would then run on bf16 weights: not worth changing what a round's learning does."""
    if setting == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return torch.bfloat16 if setting == "bfloat16" else torch.float32


def lora_config(settings: EngineSettings) -> LoraConfig:
    """The LoRA shape every job's adapter gets (rank, alpha, target modules; no dropout)."""
    targets: str | list[str] = list(settings.lora_target_modules)
    if settings.lora_target_modules == ("all-linear",):
        targets = "all-linear"
    # peft types lora_alpha as int but uses it as a float (scaling = alpha / r).
    options: dict[str, Any] = {"lora_alpha": settings.lora_alpha}
    return LoraConfig(
        r=settings.lora_rank,
        lora_dropout=0.0,
        target_modules=targets,
        task_type="CAUSAL_LM",
        **options,
    )


class ModelHost:
    """The shared base model, its tokenizer, and the per-job adapters inside it."""

    def __init__(self, model: Any, tokenizer: Any, config: LoraConfig) -> None:
        self.tokenizer = tokenizer
        self.config = config
        self.lock = threading.RLock()
        # peft injects the LoRA layers into `model` in place; forwards call it directly, since
        # PeftModel's own forward and generate insist on an active adapter.
        self.causal_lm: Any = model
        self._device: torch.device = next(model.parameters()).device
        # peft needs one adapter to wrap a model; the placeholder is dropped at once.
        self._peft: PeftModel = get_peft_model(model, config, adapter_name=_PLACEHOLDER)
        self._peft.delete_adapter(_PLACEHOLDER)
        self._peft.eval()

    @classmethod
    def load(cls, settings: EngineSettings, cache_dir: Path) -> ModelHost:
        """Load the configured model onto the configured device (local files only)."""
        return cls.load_folder(resolve_model(settings.model, cache_dir), settings)

    @classmethod
    @on_torch_thread
    def load_folder(cls, path: Path, settings: EngineSettings) -> ModelHost:
        """Load the model in `path`, the folder the setting resolved to (`resolve_model`)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = pick_device(settings.device)
        # Straight onto the device, shard by shard: host RAM never holds the whole model.
        model: Any = AutoModelForCausalLM.from_pretrained(
            path, dtype=pick_dtype(settings.model_dtype, device), device_map=str(device)
        )
        return cls.around(model, AutoTokenizer.from_pretrained(path), settings)

    @classmethod
    def around(cls, model: Any, tokenizer: Any, settings: EngineSettings) -> ModelHost:
        """A host for a model already on its device, with checkpointing as the settings say."""
        if settings.gradient_checkpointing:
            model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )
        return cls(model, tokenizer, lora_config(settings))

    @property
    def device(self) -> torch.device:
        """Where the weights live (they are loaded onto it and never moved)."""
        return self._device

    def has_adapter(self, name: str) -> bool:
        """Whether an adapter of that name is loaded."""
        with self.lock:
            return name in self._peft.peft_config

    def add_adapter(self, name: str, *, seed: int) -> None:
        """A new adapter with a seeded init (B = 0, so it starts as the base model)."""
        devices = [self.device] if self.device.type == "cuda" else []
        with self.lock, torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            self._peft.add_adapter(name, self.config)

    def load_adapter(self, name: str, weights: dict[str, torch.Tensor]) -> None:
        """A new adapter holding saved weights (peft's key format, without the adapter name)."""
        with self.lock:
            self._peft.add_adapter(name, self.config)
            result = set_peft_model_state_dict(self._peft, weights, adapter_name=name)
            unexpected = list(getattr(result, "unexpected_keys", []))
            if unexpected:
                raise ValueError(f"adapter weights with unknown keys: {unexpected[:3]}")

    def delete_adapter(self, name: str) -> None:
        """Drop an adapter (no-op if absent)."""
        with self.lock, warnings.catch_warnings():
            # peft warns when the deleted adapter was the active one; every use activates
            # the adapter it needs explicitly, so which one stays active does not matter.
            warnings.filterwarnings("ignore", message=r"Adapter .* was active")
            if self.has_adapter(name):
                self._peft.delete_adapter(name)

    def parameters_of(self, name: str) -> dict[str, torch.nn.Parameter]:
        """An adapter's parameters keyed by module path, the adapter name left out."""
        marker = f".{name}."
        with self.lock:
            return {
                key.replace(marker, "."): param
                for key, param in self._peft.named_parameters()
                if marker in key
            }

    def weights_of(self, name: str) -> dict[str, torch.Tensor]:
        """An adapter's weights in peft's saved format (keys without the adapter name).

        The tensors are the live ones, not copies: copy them to keep a snapshot."""
        with self.lock:
            if not self.has_adapter(name):
                raise KeyError(f"no adapter named {name!r} is loaded")
            weights: dict[str, torch.Tensor] = get_peft_model_state_dict(
                self._peft, adapter_name=name
            )
            return weights

    @contextmanager
    def active(self, name: str | None, *, trainable: bool = False) -> Iterator[Any]:
        """Run forwards with adapter `name`, or the bare base model (None); yields the model.

        Only a `trainable` activation leaves the adapter's parameters requiring grad.
        """
        with self.lock:
            if name is None:
                # PeftModel.disable_adapter() fails when no adapter is loaded; LoraModel's doesn't.
                lora: Any = self._peft.base_model
                lora.disable_adapter_layers()
                try:
                    yield self.causal_lm
                finally:
                    lora.enable_adapter_layers()
                return
            if not self.has_adapter(name):
                raise KeyError(f"no adapter named {name!r} is loaded")
            self._peft.set_adapter(name, inference_mode=not trainable)
            yield self.causal_lm

    @contextmanager
    def per_row(self, names: list[str]) -> Iterator[Any]:
        """Run inference forwards with adapter `names[i]` on batch row i (`row_adapters.BASE`:
        none), each run of equal names as one slice (`row_adapters.py`)."""
        with self.lock, adapters_by_row(self._peft.base_model, names):
            yield self.causal_lm
