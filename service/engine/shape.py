"""A decoder model's shape, read from its `config.json`: what memory planning needs to know.

Counts follow the Llama family (Llama, Qwen2/3, Mistral, SmolLM): grouped-query attention,
a gated MLP of three projections, RMSNorm, and an output head that may share the embedding.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The linear layers of a decoder block, named as peft's targets name them.
ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_PROJECTIONS = ("gate_proj", "up_proj", "down_proj")
ALL_LINEAR = "all-linear"
# Model types whose attention normalises each head's q and k (transformers' `q_norm`/`k_norm`).
QK_NORM_MODEL_TYPES = frozenset({"qwen3", "qwen3_moe", "qwen3_next"})


@dataclass(frozen=True)
class ModelShape:
    """The sizes of a decoder-only transformer."""

    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied_embeddings: bool
    # RMSNorms on each head's q and k (Qwen3), which keep fp32 copies of q and k for backward.
    qk_norm: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ModelShape:
        """From a Hugging Face `config.json` mapping (a nested `text_config` wins)."""
        text: Mapping[str, Any] = config.get("text_config") or config
        heads = int(text["num_attention_heads"])
        hidden = int(text["hidden_size"])
        return cls(
            layers=int(text["num_hidden_layers"]),
            hidden=hidden,
            intermediate=int(text["intermediate_size"]),
            heads=heads,
            kv_heads=int(text.get("num_key_value_heads") or heads),
            head_dim=int(text.get("head_dim") or hidden // heads),
            vocab=int(text["vocab_size"]),
            tied_embeddings=bool(config.get("tie_word_embeddings", False)),
            qk_norm=str(text.get("model_type") or config.get("model_type")) in QK_NORM_MODEL_TYPES,
        )

    @classmethod
    def from_dir(cls, model_dir: Path) -> ModelShape:
        """From `model_dir/config.json`."""
        return cls.from_config(json.loads((model_dir / "config.json").read_text()))

    @property
    def q_dim(self) -> int:
        """Width of the query projection's output."""
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of each of the key and value projections' outputs."""
        return self.kv_heads * self.head_dim

    def projection_sizes(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each linear layer of one block."""
        h, i = self.hidden, self.intermediate
        return {
            "q_proj": (h, self.q_dim),
            "k_proj": (h, self.kv_dim),
            "v_proj": (h, self.kv_dim),
            "o_proj": (self.q_dim, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    def parameters(self) -> int:
        """All weights: embedding, blocks, norms and (unless tied) the output head."""
        block = sum(fan_in * fan_out for fan_in, fan_out in self.projection_sizes().values())
        norms = 2 * self.hidden + (2 * self.head_dim if self.qk_norm else 0)
        embedding = self.vocab * self.hidden
        head = 0 if self.tied_embeddings else embedding
        return self.layers * (block + norms) + embedding + head + self.hidden

    def lora_parameters(self, rank: int, targets: Sequence[str]) -> int:
        """Weights of one LoRA adapter of `rank` on `targets` (peft names or `all-linear`)."""
        per_block = sum(rank * (fan_in + fan_out) for fan_in, fan_out in self._targeted(targets))
        return self.layers * per_block

    def lora_input_features(self, targets: Sequence[str]) -> int:
        """Summed input widths of one block's LoRA-wrapped projections (each casts its own)."""
        return sum(fan_in for fan_in, _ in self._targeted(targets))

    def _targeted(self, targets: Sequence[str]) -> list[tuple[int, int]]:
        chosen = set(ATTENTION_PROJECTIONS + MLP_PROJECTIONS) if ALL_LINEAR in targets else set()
        chosen |= set(targets)
        return [sizes for name, sizes in self.projection_sizes().items() if name in chosen]

    def kv_bytes_per_token(self, dtype_bytes: int) -> int:
        """KV-cache bytes one token takes across all layers."""
        return 2 * self.layers * self.kv_dim * dtype_bytes
