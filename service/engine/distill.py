"""The forward and backward passes of one SDPO micro-batch, and the step's running metrics.

Teacher forward without grad on [teacher prompt; y], student forward with grad on
[student prompt; y], both only as far as the final hidden states; the output head then runs
on response positions only, in chunks (`chunked.py`), or, with `loss_chunk_tokens=None`, as
`logits_to_keep` full logits of the response positions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from service.config import EngineSettings
from service.engine.batch import MicroBatch, ScoredRows
from service.engine.chunked import chunked_terms
from service.engine.host import ModelHost
from service.engine.losses import (
    DistillationTerms,
    divergence,
    loss_from_terms,
    sequence_token_mean,
    terms_from_logits,
    truncated_importance_weights,
)


def response_outputs(model: Any, rows: ScoredRows, tokens: int, *, hidden: bool) -> Tensor:
    """Final hidden states `[b, T, H]` (hidden=True) or logits `[b, T, V]` predicting y."""
    inputs = {
        "input_ids": rows.input_ids,
        "attention_mask": rows.attention_mask,
        "position_ids": rows.position_ids,
        "use_cache": False,
    }
    start = rows.first_prediction
    if hidden:
        states = model.get_decoder()(**inputs).last_hidden_state
        return states[:, start : start + tokens]  # type: ignore[no-any-return]
    logits = model(**inputs, logits_to_keep=tokens + 1).logits
    return logits[:, :tokens]  # type: ignore[no-any-return]


def autocast_for(
    device: torch.device, setting: bool | None
) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast when asked, or by default on CUDA; otherwise nothing."""
    enabled = device.type == "cuda" if setting is None else setting
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@contextlib.contextmanager
def training_mode(model: Any, enabled: bool) -> Iterator[None]:
    """train() for the student forward when gradient checkpointing needs it (no dropout is used)."""
    if not enabled:
        yield
        return
    model.train()
    try:
        yield
    finally:
        model.eval()


@dataclass
class StepTotals:
    """Sums over a step's micro-batches, turned into `StepMetrics` extras at the end."""

    loss: float = 0.0
    kl: float = 0.0
    tokens: int = 0
    sums: dict[str, float] = field(default_factory=dict)

    def add_tokens(self, name: str, values: Tensor, mask: Tensor) -> None:
        """Add Σ values·mask under `name` (a token-weighted mean at the end)."""
        self.sums[name] = self.sums.get(name, 0.0) + float((values * mask).sum())

    def token_means(self) -> dict[str, float]:
        """Every added quantity as a mean over the step's response tokens."""
        return {name: total / max(self.tokens, 1) for name, total in self.sums.items()}


@dataclass(frozen=True)
class MicroStep:
    """What one micro-batch step needs to know besides the batch."""

    host: ModelHost
    settings: EngineSettings
    student: str
    teacher: str | None
    temperature: float
    sequences_in_step: int


def run_micro_batch(step: MicroStep, micro: MicroBatch, totals: StepTotals) -> None:
    """Teacher forward, student forward and backward; gradients accumulate in the adapter."""
    settings, hidden = step.settings, step.settings.loss_chunk_tokens is not None
    autocast = autocast_for(step.host.device, settings.bf16_autocast)
    tokens = micro.response_tokens
    with torch.no_grad(), step.host.active(step.teacher) as model, autocast:
        teacher = response_outputs(model, micro.teacher, tokens, hidden=hidden)
    with step.host.active(step.student, trainable=True) as model:
        with autocast, training_mode(model, _checkpointing(model)):
            student = response_outputs(model, micro.student, tokens, hidden=hidden)
            terms = _terms(step, model, student, teacher, micro)
        weights = _importance_weights(settings, terms, micro)
        share = micro.response_ids.shape[0] / step.sequences_in_step
        loss = share * loss_from_terms(
            terms,
            micro.response_mask,
            alpha=settings.alpha,
            clip_advantage=settings.clip_advantage,
            token_weights=weights,
        )
        torch.autograd.backward(
            loss
        )  # inside `active`: recomputation in backward must see the same adapter
    _record(totals, step, terms, micro, weights, float(loss.detach()), share)


def _checkpointing(model: Any) -> bool:
    """Whether the model recomputes activations in backward (set when the host loads it)."""
    return bool(getattr(model, "is_gradient_checkpointing", False))


def _terms(
    step: MicroStep, model: Any, student: Tensor, teacher: Tensor, micro: MicroBatch
) -> DistillationTerms:
    settings = step.settings
    if settings.loss_chunk_tokens is None:
        return terms_from_logits(
            student / step.temperature,
            teacher / step.temperature,
            micro.response_ids,
            top_k=settings.top_k,
            add_tail=settings.add_tail,
        )
    head = model.get_output_embeddings()
    return chunked_terms(
        student,
        teacher,
        head.weight,
        micro.response_ids,
        micro.response_mask,
        top_k=settings.top_k or head.weight.shape[0],
        add_tail=settings.add_tail and settings.top_k is not None,
        temperature=step.temperature,
        chunk_tokens=settings.loss_chunk_tokens,
        head_bias=head.bias,
    )


def _importance_weights(
    settings: EngineSettings, terms: DistillationTerms, micro: MicroBatch
) -> Tensor | None:
    """min(π_train/π_sampler, is_clip) where sampler log-probs are known; is_clip=None: off."""
    if settings.is_clip is None or not bool(micro.has_sampler_logprobs.any()):
        return None
    weights = truncated_importance_weights(
        terms.student_token, micro.sampler_logprobs, is_clip=settings.is_clip
    )
    return torch.where(micro.has_sampler_logprobs.unsqueeze(-1), weights, torch.ones_like(weights))


def _record(
    totals: StepTotals,
    step: MicroStep,
    terms: DistillationTerms,
    micro: MicroBatch,
    weights: Tensor | None,
    loss: float,
    share: float,
) -> None:
    mask = micro.response_mask
    with torch.no_grad():
        per_token_kl = divergence(terms.student.detach(), terms.teacher, alpha=step.settings.alpha)
        totals.kl += share * float(sequence_token_mean(per_token_kl, mask))
        advantage = terms.teacher_token - terms.student_token.detach()
        totals.add_tokens("entropy", terms.student_entropy, mask)
        totals.add_tokens("advantage_mean", advantage, mask)
        totals.add_tokens("advantage_positive_fraction", (advantage > 0).float(), mask)
        if step.settings.top_k is not None and step.settings.add_tail:
            totals.add_tokens("top_k_mass", -torch.expm1(terms.student[..., -1].detach()), mask)
        if weights is not None:
            totals.add_tokens("is_weight_mean", weights, mask)
            clipped = (weights >= (step.settings.is_clip or float("inf"))).float()
            totals.add_tokens("is_clip_fraction", clipped, mask)
    totals.loss += loss
    totals.tokens += int(mask.sum())
