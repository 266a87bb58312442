"""Log-probabilities of given continuations, for measurements (the probe, the step benchmark).

The same forward the learner uses (`scored_rows`, `response_outputs`): left-padded prompts,
right-padded continuations, the base model or one adapter of it, under the learner's autocast.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from service.engine.batch import scored_rows
from service.engine.distill import autocast_for, response_outputs
from service.engine.host import ModelHost
from service.engine.torch_thread import on_torch_thread


@on_torch_thread
def token_logprobs(
    host: ModelHost,
    prompts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[int]],
    *,
    bf16_autocast: bool | None = None,
    rows_per_forward: int = 4,
    adapter: str | None = None,
) -> list[list[float]]:
    """`log p(y_t | prompt, y_<t)` for every token of each continuation, pair by pair, under
    the base model or, with `adapter`, that adapter of it (the learner's `adapter_name`)."""
    if len(prompts) != len(continuations):
        raise ValueError("one continuation per prompt")
    if any(not prompt for prompt in prompts) or any(not c for c in continuations):
        raise ValueError("prompts and continuations must not be empty")
    # Rows of similar length share a forward, so little of it is padding.
    order = sorted(range(len(prompts)), key=lambda i: (len(prompts[i]), len(continuations[i])))
    out: dict[int, list[float]] = {}
    for start in range(0, len(order), rows_per_forward):
        chunk = order[start : start + rows_per_forward]
        values = _forward(
            host,
            [prompts[i] for i in chunk],
            [continuations[i] for i in chunk],
            bf16_autocast,
            adapter,
        )
        out.update(zip(chunk, values, strict=True))
    return [out[i] for i in range(len(prompts))]


def _forward(
    host: ModelHost,
    prompts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[int]],
    bf16_autocast: bool | None,
    adapter: str | None,
) -> list[list[float]]:
    pad_id = host.tokenizer.pad_token_id
    if pad_id is None:
        pad_id = host.tokenizer.eos_token_id
    rows = scored_rows(prompts, continuations, pad_id=pad_id, device=host.device)
    width = max(len(c) for c in continuations)
    targets = torch.tensor(
        [list(c) + [pad_id] * (width - len(c)) for c in continuations], device=host.device
    )
    with torch.no_grad(), host.active(adapter) as model, autocast_for(host.device, bf16_autocast):
        logits = response_outputs(model, rows, width, hidden=False)
    picked = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1))
    values = picked.squeeze(-1).tolist()
    return [row[: len(c)] for row, c in zip(values, continuations, strict=True)]
