"""Tensors for a micro-batch of distillation examples.

Each row is [left-padded prompt; right-padded response], so every response starts at the same
column and the hidden state that predicts response token t sits at column P − 1 + t. Position
ids count real tokens only, matching what `generate` uses for left-padded prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from service.engine.types import DistillationExample


@dataclass(frozen=True)
class ScoredRows:
    """[prompt; response] rows for one forward: ids, attention mask and position ids `[b, L]`."""

    input_ids: Tensor
    attention_mask: Tensor
    position_ids: Tensor
    response_start: int

    @property
    def first_prediction(self) -> int:
        """The column whose output predicts the first response token."""
        return self.response_start - 1


@dataclass(frozen=True)
class MicroBatch:
    """Student and teacher rows of the same responses, plus per-token response tensors `[b, T]`."""

    student: ScoredRows
    teacher: ScoredRows
    response_ids: Tensor
    response_mask: Tensor
    sampler_logprobs: Tensor
    has_sampler_logprobs: Tensor

    @property
    def response_tokens(self) -> int:
        """The padded response length T."""
        return int(self.response_ids.shape[1])


def scored_rows(
    prompts: Sequence[Sequence[int]],
    responses: Sequence[Sequence[int]],
    *,
    pad_id: int,
    device: torch.device,
) -> ScoredRows:
    """Left-pad the prompts, right-pad the responses, and join them row by row."""
    prompt_len = max(len(p) for p in prompts)
    response_len = max(len(r) for r in responses)
    rows, masks = [], []
    for prompt, response in zip(prompts, responses, strict=True):
        left, right = prompt_len - len(prompt), response_len - len(response)
        rows.append([pad_id] * left + list(prompt) + list(response) + [pad_id] * right)
        masks.append([0] * left + [1] * (len(prompt) + len(response)) + [0] * right)
    mask = torch.tensor(masks, dtype=torch.long, device=device)
    return ScoredRows(
        input_ids=torch.tensor(rows, dtype=torch.long, device=device),
        attention_mask=mask,
        position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
        response_start=prompt_len,
    )


def collate(
    examples: Sequence[DistillationExample], *, pad_id: int, device: torch.device
) -> MicroBatch:
    """A micro-batch of examples that all have a teacher prompt and a non-empty response."""
    responses = [e.response_ids for e in examples]
    teacher_prompts = [e.teacher_prompt_ids or () for e in examples]
    length = max(len(r) for r in responses)
    mask = [[1.0] * len(r) + [0.0] * (length - len(r)) for r in responses]
    logprobs = [
        list(e.sampler_logprobs or [0.0] * len(e.response_ids))
        + [0.0] * (length - len(e.response_ids))
        for e in examples
    ]
    return MicroBatch(
        student=scored_rows(
            [e.prompt_ids for e in examples], responses, pad_id=pad_id, device=device
        ),
        teacher=scored_rows(teacher_prompts, responses, pad_id=pad_id, device=device),
        response_ids=torch.tensor(
            [list(r) + [pad_id] * (length - len(r)) for r in responses], device=device
        ),
        response_mask=torch.tensor(mask, device=device),
        sampler_logprobs=torch.tensor(logprobs, device=device),
        has_sampler_logprobs=torch.tensor(
            [e.sampler_logprobs is not None for e in examples], device=device
        ),
    )
