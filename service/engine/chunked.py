"""Chunked top-K distillation terms straight from hidden states (docs/algorithm.md §4, memory).

A straightforward SDPO step materializes full-vocabulary logits and log-softmax for student
and teacher over every response token (8 × 400 × 49,152 fp32 is 0.6 GB per tensor, several
alive in the backward pass). Here the output head runs on a chunk of response positions at a
time: the student's chunk computes its top-K, logsumexp, sampled-token logit and entropy under
activation checkpointing (its `[N, V]` logits are recomputed in the backward pass instead of
being kept), the teacher's chunk is gathered at the student's indices without grad, and only
`[B, T, K+1]` survives. Padding positions are never sent through the head.

Requires logits = (hidden @ weightᵀ + bias) / temperature, true of Llama, Qwen, Mistral and
most decoders (not of models with logit soft-capping).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from service.engine.losses import DistillationTerms, at_least_fp32, close_support


def chunked_terms(
    student_hidden: Tensor,
    teacher_hidden: Tensor,
    head_weight: Tensor,
    response_ids: Tensor,
    response_mask: Tensor,
    *,
    top_k: int,
    add_tail: bool = True,
    temperature: float = 1.0,
    chunk_tokens: int = 256,
    head_bias: Tensor | None = None,
) -> DistillationTerms:
    """Distillation terms from final hidden states `[B, T, H]` aligned to the response tokens.

    head_weight `[V, H]` (and optional head_bias `[V]`) is the output layer. Equal to
    `terms_from_logits(hidden @ head_weight.T / temperature, ...)` on masked positions; the
    masked-out positions hold zeros. chunk_tokens bounds the `[N, V]` logits alive at once.
    """
    if top_k < 1 or top_k > head_weight.shape[0]:
        raise ValueError(f"top_k must be in [1, {head_weight.shape[0]}], got {top_k!r}")
    if chunk_tokens < 1:
        raise ValueError(f"chunk_tokens must be >= 1, got {chunk_tokens!r}")
    if temperature <= 0.0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    head = _Head(head_weight, head_bias, temperature)
    positions = response_mask.bool()
    student_rows = student_hidden[positions]
    teacher_rows = teacher_hidden[positions].detach()
    tokens = response_ids[positions]
    pieces = [
        _chunk(head, student_rows[i : i + chunk_tokens], teacher_rows[i : i + chunk_tokens],
               tokens[i : i + chunk_tokens], top_k, add_tail)
        for i in range(0, tokens.shape[0], chunk_tokens)
    ]  # fmt: skip
    columns: list[Tensor | None] = [torch.cat(column) for column in zip(*pieces, strict=True)]
    if not pieces:
        columns = [None] * 5
    return _scatter(columns, positions, top_k + int(add_tail), student_hidden)


class _Head:
    """The output layer with temperature applied; logits in fp32 whatever the hidden dtype."""

    def __init__(self, weight: Tensor, bias: Tensor | None, temperature: float) -> None:
        self.weight, self.bias, self.temperature = weight, bias, temperature

    def __call__(self, rows: Tensor) -> Tensor:
        logits = rows @ self.weight.T.to(rows.dtype)
        if self.bias is not None:
            logits = logits + self.bias.to(rows.dtype)
        return at_least_fp32(logits) / self.temperature


def _chunk(
    head: _Head, student: Tensor, teacher: Tensor, tokens: Tensor, top_k: int, add_tail: bool
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    def student_side(rows: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        logits = head(rows)
        log_norm = torch.logsumexp(logits, dim=-1, keepdim=True)
        values, indices = logits.topk(top_k, dim=-1)
        token_logp = logits.gather(-1, tokens.unsqueeze(-1)) - log_norm
        with torch.no_grad():
            logp = logits - log_norm
            entropy = -(logp.exp() * logp).sum(-1)
        return values - log_norm, indices, token_logp.squeeze(-1), entropy

    # Non-reentrant checkpointing keeps only `rows`; the [N, V] logits are rebuilt in backward.
    topk_logp, indices, student_token, entropy = checkpoint(
        student_side, student, use_reentrant=False
    )
    with torch.no_grad():
        logits = head(teacher)
        log_norm = torch.logsumexp(logits, dim=-1, keepdim=True)
        teacher_topk = logits.gather(-1, indices) - log_norm
        teacher_token = (logits.gather(-1, tokens.unsqueeze(-1)) - log_norm).squeeze(-1)
    return (
        close_support(topk_logp, add_tail=add_tail),
        close_support(teacher_topk, add_tail=add_tail),
        student_token,
        teacher_token,
        entropy.detach(),
    )


def _scatter(
    columns: list[Tensor | None], positions: Tensor, support: int, like: Tensor
) -> DistillationTerms:
    def place(values: Tensor | None, width: int | None) -> Tensor:
        shape = (*positions.shape, width) if width else positions.shape
        out = like.new_zeros(shape, dtype=torch.promote_types(like.dtype, torch.float32))
        if values is not None:
            out = out.index_put((positions,), values)
        return out

    student, teacher, student_token, teacher_token, entropy = columns
    return DistillationTerms(
        student=place(student, support),
        teacher=place(teacher, support),
        student_token=place(student_token, None),
        teacher_token=place(teacher_token, None),
        student_entropy=place(entropy, None),
    )
