"""SDPO distillation losses: pure torch functions (docs/algorithm.md §4).

Notation, per response position t of sequence b: the student π = π_θ(·|x, y<t) (with grad),
the teacher q = q(·|x, f, y<t) (no grad), both already temperature-scaled and aligned to the
response tokens. A "support" is the set of categories a divergence is summed over: the full
vocabulary, or the student's top-K tokens plus one tail bucket.

Every loss reduces the same way (docs/algorithm.md §4): a token mean per sequence, then the
mean over sequences; a sequence whose mask is all zero contributes 0 but still counts in the
denominator.

Shapes: logits `[B, T, V]`, masks and per-token values `[B, T]`, supports `[B, T, S]`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

# log(1 - Σ p) is undefined when the top-K mass rounds to 1; clamp the log-mass just below 0.
_MAX_LOG_MASS = -1e-7
# exp() of a log-ratio beyond this overflows and is meaningless as an importance weight.
_MAX_LOG_RATIO = 20.0


@dataclass(frozen=True)
class DistillationTerms:
    """Everything a distillation loss and its metrics need, aligned to the response tokens.

    `student` / `teacher`: log-probs over a shared support `[B, T, S]` (student with grad).
    `student_token` / `teacher_token`: log-probs of the sampled tokens `[B, T]`, full vocabulary.
    `student_entropy`: the student's full-vocabulary entropy `[B, T]`, detached (a metric).
    """

    student: Tensor
    teacher: Tensor
    student_token: Tensor
    teacher_token: Tensor
    student_entropy: Tensor


def validate_hyperparameters(
    *,
    top_k: int | None,
    alpha: float,
    clip_advantage: float | None,
    vocab_size: int | None = None,
) -> None:
    """Raise `ValueError` quoting the first bad value."""
    if top_k is not None and (top_k < 1 or (vocab_size is not None and top_k > vocab_size)):
        raise ValueError(f"top_k must be in [1, vocab size {vocab_size}] or None, got {top_k!r}")
    if not 0.0 <= alpha <= 1.0 or math.isnan(alpha):
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    if clip_advantage is not None and not clip_advantage > 0.0:
        raise ValueError(f"clip_advantage must be > 0 or None, got {clip_advantage!r}")


def add_tail_bucket(topk_logp: Tensor) -> Tensor:
    """Append log(1 − Σ_k p_k) to full-vocabulary top-K log-probs: `[..., K]` → `[..., K+1]`.

    Computed as log(−expm1(logsumexp(topk_logp))), with the log-mass clamped just below 0 so
    the tail stays finite when the top-K hold (numerically) all the mass.
    """
    log_mass = torch.logsumexp(topk_logp, dim=-1, keepdim=True).clamp(max=_MAX_LOG_MASS)
    return torch.cat([topk_logp, torch.log(-torch.expm1(log_mass))], dim=-1)


def close_support(topk_logp: Tensor, *, add_tail: bool) -> Tensor:
    """Make top-K log-probs a distribution: add the tail bucket, or renormalize over the K."""
    if add_tail:
        return add_tail_bucket(topk_logp)
    return topk_logp - torch.logsumexp(topk_logp, dim=-1, keepdim=True)


def at_least_fp32(tensor: Tensor) -> Tensor:
    """Upcast half-precision logits (log-softmax in bf16 loses the tail); keep fp32/fp64."""
    return tensor.float() if tensor.element_size() < 4 else tensor


def token_logprobs(logits: Tensor, token_ids: Tensor) -> Tensor:
    """log softmax(logits)[token]: `[B, T, V]`, `[B, T]` → `[B, T]`."""
    picked = logits.gather(-1, token_ids.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def terms_from_logits(
    student_logits: Tensor,
    teacher_logits: Tensor,
    response_ids: Tensor,
    *,
    top_k: int | None,
    add_tail: bool = True,
) -> DistillationTerms:
    """Distillation terms from full logits `[B, T, V]` (the unchunked path).

    top-K indices come from the student; the teacher is gathered at the same indices; both are
    log-normalized over the full vocabulary before the tail bucket (docs/algorithm.md §4).
    """
    student_logp = F.log_softmax(at_least_fp32(student_logits), dim=-1)
    teacher_logp = F.log_softmax(at_least_fp32(teacher_logits.detach()), dim=-1)
    tokens = response_ids.unsqueeze(-1)
    with torch.no_grad():
        entropy = -(student_logp.exp() * student_logp).sum(-1)
    if top_k is None:
        student, teacher = student_logp, teacher_logp
    else:
        indices = student_logp.detach().topk(top_k, dim=-1).indices
        student = close_support(student_logp.gather(-1, indices), add_tail=add_tail)
        teacher = close_support(teacher_logp.gather(-1, indices), add_tail=add_tail)
    return DistillationTerms(
        student=student,
        teacher=teacher,
        student_token=student_logp.gather(-1, tokens).squeeze(-1),
        teacher_token=teacher_logp.gather(-1, tokens).squeeze(-1),
        student_entropy=entropy,
    )


def divergence(student_logp: Tensor, teacher_logp: Tensor, *, alpha: float) -> Tensor:
    """Per-position divergence summed over the support: `[B, T, S]` → `[B, T]`.

    alpha = 0: forward KL(q‖π) = Σ q (log q − log π).
    alpha = 1: reverse KL(π‖q) = Σ π (log π − log q).
    0 < alpha < 1: generalized JSD with mixture M = (1−α)π + αq (built in log space),
    D = (1−α) KL(π‖M) + α KL(q‖M). It does not tend to the endpoints (it vanishes at both
    limits), which are therefore separate cases, as in the reference code (docs/algorithm.md §4).
    """
    if alpha == 0.0:
        return _kl(teacher_logp, student_logp)
    if alpha == 1.0:
        return _kl(student_logp, teacher_logp)
    mixture = _mixture(student_logp, teacher_logp, alpha=alpha)
    return (1.0 - alpha) * _kl(student_logp, mixture) + alpha * _kl(teacher_logp, mixture)


def _kl(p_logp: Tensor, q_logp: Tensor) -> Tensor:
    return (p_logp.exp() * (p_logp - q_logp)).sum(-1)


def _mixture(student_logp: Tensor, teacher_logp: Tensor, *, alpha: float) -> Tensor:
    weighted = torch.stack([student_logp + math.log1p(-alpha), teacher_logp + math.log(alpha)])
    return torch.logsumexp(weighted, dim=0)


def logit_advantages(student_logp: Tensor, teacher_logp: Tensor, *, alpha: float) -> Tensor:
    """Per-category advantage A_k, detached: ∇D = −Σ_k π_k A_k ∇log π_k on a closed support.

    A_k is −∂D/∂π_k up to a constant (the constant drops out because Σ_k ∇π_k = 0), chosen so
    that A = 0 where teacher and student agree:
    alpha = 1: A = log q − log π (the SDPO advantage, docs/algorithm.md §1);
    0 < alpha < 1: A = (1−α)(log M − log π);
    alpha = 0: A = q/π − 1.
    """
    student_logp, teacher_logp = student_logp.detach(), teacher_logp.detach()
    if alpha == 1.0:
        return teacher_logp - student_logp
    if alpha == 0.0:
        return torch.expm1((teacher_logp - student_logp).clamp(max=_MAX_LOG_RATIO))
    mixture = _mixture(student_logp, teacher_logp, alpha=alpha)
    return (1.0 - alpha) * (mixture - student_logp)


def clipped_divergence(
    student_logp: Tensor, teacher_logp: Tensor, *, alpha: float, clip_advantage: float
) -> Tensor:
    """Divergence `[B, T]` whose gradient is the clipped-advantage policy gradient.

    Surrogate S = Σ_k π_k · sg(−clamp(A_k, −c, c)), so ∇S = −Σ_k π_k clamp(A_k, −c, c) ∇log π_k.
    For reverse KL this is Σ_k π_k · sg(clamp(log π_k − log q_k, −c, c)) (docs/algorithm.md §4). For
    alpha < 1 the same clamp applies to that divergence's own advantage (see
    `logit_advantages`): for JSD (1−α) log(M/π) is bounded below by (1−α)·log(1−α) and only
    its upper side can clip; for forward KL the ratio q/π − 1 is clipped. The returned value
    is the unclipped divergence (straight-through), so losses stay comparable across settings.
    """
    clipped = logit_advantages(student_logp, teacher_logp, alpha=alpha).clamp(
        -clip_advantage, clip_advantage
    )
    surrogate = (student_logp.exp() * -clipped).sum(-1)
    value = divergence(student_logp.detach(), teacher_logp.detach(), alpha=alpha)
    return value + (surrogate - surrogate.detach())


def sequence_token_mean(per_token: Tensor, mask: Tensor) -> Tensor:
    """Token mean per sequence, then the mean over all B sequences: `[B, T]` → scalar."""
    mask = mask.to(per_token.dtype)
    tokens_per_sequence = mask.sum(-1).clamp(min=1.0)
    return ((per_token * mask).sum(-1) / tokens_per_sequence).mean()


def loss_from_terms(
    terms: DistillationTerms,
    response_mask: Tensor,
    *,
    alpha: float,
    clip_advantage: float | None = None,
    token_weights: Tensor | None = None,
) -> Tensor:
    """The top-K / full-support distillation loss (a scalar) from precomputed terms."""
    validate_hyperparameters(top_k=None, alpha=alpha, clip_advantage=clip_advantage)
    if clip_advantage is None:
        per_token = divergence(terms.student, terms.teacher, alpha=alpha)
    else:
        per_token = clipped_divergence(
            terms.student, terms.teacher, alpha=alpha, clip_advantage=clip_advantage
        )
    if token_weights is not None:
        _check_shape("token_weights", token_weights, response_mask)
        per_token = per_token * token_weights.detach()
    return sequence_token_mean(per_token, response_mask)


def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    response_mask: Tensor,
    *,
    top_k: int | None,
    alpha: float,
    add_tail: bool = True,
    clip_advantage: float | None = None,
    token_weights: Tensor | None = None,
) -> Tensor:
    """SDPO logit-level distillation loss (a scalar), docs/algorithm.md §4.

    student_logits `[B, T, V]` (with grad) and teacher_logits `[B, T, V]` (detached here) are
    temperature-scaled and aligned to the response tokens; response_mask `[B, T]` is 1 on
    real response tokens. top_k=None sums over the full vocabulary; otherwise over the
    student's top-K plus a tail bucket (or the renormalized top-K with add_tail=False).
    alpha picks the divergence (see `divergence`), clip_advantage clamps the per-logit
    advantage (see `clipped_divergence`), token_weights `[B, T]` multiplies each token
    (e.g. truncated importance weights; detached).
    """
    if student_logits.shape != teacher_logits.shape or student_logits.dim() != 3:
        raise ValueError(
            f"student and teacher logits must both be [B, T, V], got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    _check_shape("response_mask", response_mask, student_logits[..., 0])
    validate_hyperparameters(
        top_k=top_k, alpha=alpha, clip_advantage=clip_advantage, vocab_size=student_logits.shape[-1]
    )
    dummy_ids = torch.zeros_like(response_mask, dtype=torch.long)
    terms = terms_from_logits(
        student_logits, teacher_logits, dummy_ids, top_k=top_k, add_tail=add_tail
    )
    return loss_from_terms(
        terms,
        response_mask,
        alpha=alpha,
        clip_advantage=clip_advantage,
        token_weights=token_weights,
    )


def sampled_token_loss(
    student_token_logp: Tensor,
    teacher_token_logp: Tensor,
    response_mask: Tensor,
    *,
    clip_advantage: float | None = None,
    token_weights: Tensor | None = None,
) -> Tensor:
    """Token-level SDPO (reverse KL on the sampled token only, docs/algorithm.md §4).

    Inputs are the sampled tokens' log-probs `[B, T]`. Per token the surrogate is
    sg(clamp(log π(y_t) − log q(y_t), −c, c)) · log π(y_t); its value is reported as the
    unclipped log-ratio (a one-sample estimate of KL(π‖q)) with the surrogate's gradient.
    """
    validate_hyperparameters(top_k=None, alpha=1.0, clip_advantage=clip_advantage)
    _check_shape("teacher_token_logp", teacher_token_logp, student_token_logp)
    _check_shape("response_mask", response_mask, student_token_logp)
    log_ratio = (student_token_logp - teacher_token_logp).detach()
    advantage = (
        log_ratio if clip_advantage is None else log_ratio.clamp(-clip_advantage, clip_advantage)
    )
    surrogate = advantage * student_token_logp
    per_token = log_ratio + (surrogate - surrogate.detach())
    if token_weights is not None:
        _check_shape("token_weights", token_weights, response_mask)
        per_token = per_token * token_weights.detach()
    return sequence_token_mean(per_token, response_mask)


def truncated_importance_weights(
    learner_logprobs: Tensor, sampler_logprobs: Tensor, *, is_clip: float | None
) -> Tensor:
    """min(π_train(y_t) / π_sampler(y_t), is_clip), detached, `[B, T]` (docs/algorithm.md §4).

    The log-ratio is clamped to ±20 before exp; is_clip=None leaves the ratio untruncated.
    """
    if is_clip is not None and not is_clip > 0.0:
        raise ValueError(f"is_clip must be > 0 or None, got {is_clip!r}")
    _check_shape("sampler_logprobs", sampler_logprobs, learner_logprobs)
    log_ratio = (learner_logprobs.detach() - sampler_logprobs.detach()).clamp(
        -_MAX_LOG_RATIO, _MAX_LOG_RATIO
    )
    weights = log_ratio.exp()
    return weights if is_clip is None else weights.clamp(max=is_clip)


def _check_shape(name: str, tensor: Tensor, like: Tensor) -> None:
    if tensor.shape != like.shape:
        raise ValueError(f"{name} must have shape {tuple(like.shape)}, got {tuple(tensor.shape)}")
