"""A batch whose rows carry different LoRA adapters, computed one contiguous run of rows at a time.

peft's own mixed-adapter batch (`adapter_names=`) copies each adapter's rows out of the input
with an index list and scatters its output back, in every LoRA layer at every decoding step:
with four jobs' adapters in one batch that made a batch of 32 rows cost 1.5x the same batch
with one adapter on this CPU. A shared batch lists each job's rows together, so each adapter's
rows are one slice: here the LoRA layers run as the base model (adapters disabled) and a
forward hook adds each slice's LoRA output to its own rows in place, with no copy. The
arithmetic per row is peft's (`B(A(dropout(x))) * scaling` added to the base output), so a
job's samples do not change. Inference only: the hook writes into the layer's output.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from peft.tuners.lora import LoraLayer

BASE = "__base__"  # a row that runs on the base model alone (peft's name for it, too)


@dataclass(frozen=True)
class Span:
    """Rows `start` up to `stop` of a batch, all with adapter `name`."""

    name: str
    start: int
    stop: int


def spans(names: Sequence[str]) -> list[Span]:
    """The runs of equal adapter names, in row order."""
    runs: list[Span] = []
    start = 0
    for row in range(1, len(names) + 1):
        if row == len(names) or names[row] != names[start]:
            runs.append(Span(names[start], start, row))
            start = row
    return runs


@contextmanager
def adapters_by_row(lora_model: Any, names: Sequence[str]) -> Iterator[None]:
    """While inside, forwards of `lora_model` (peft's `LoraModel`) use adapter `names[i]`
    on batch row i, or none where it is `BASE`."""
    runs = [span for span in spans(names) if span.name != BASE]
    layers: list[Any] = [module for module in lora_model.modules() if isinstance(module, LoraLayer)]
    for layer in layers:
        for span in runs:
            if span.name in layer.lora_variant:
                raise ValueError(f"adapter {span.name!r} is a LoRA variant (e.g. DoRA)")

    def add_lora(layer: Any, args: tuple[Any, ...], output: torch.Tensor) -> None:
        if torch.is_grad_enabled():
            raise RuntimeError("adapters by row are for inference: the output is written in place")
        x = args[0]
        for span in runs:
            if span.name not in layer.lora_A:
                continue
            a, b = layer.lora_A[span.name], layer.lora_B[span.name]
            rows = layer.lora_dropout[span.name](x[span.start : span.stop].to(a.weight.dtype))
            lora = b(a(rows)) * layer.scaling[span.name]
            output[span.start : span.stop] += lora.to(output.dtype)

    lora_model.disable_adapter_layers()
    handles = [layer.register_forward_hook(add_lora) for layer in layers]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        lora_model.enable_adapter_layers()
