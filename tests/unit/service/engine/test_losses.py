"""The SDPO losses against brute-force references written out here, on tiny float64 tensors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from service.engine.chunked import chunked_terms
from service.engine.losses import (
    distillation_loss,
    divergence,
    logit_advantages,
    loss_from_terms,
    sampled_token_loss,
    terms_from_logits,
    token_logprobs,
    truncated_importance_weights,
)

B, T, V = 2, 3, 7


def _logits(seed: int, *shape: int, scale: float = 2.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=torch.float64) * scale


def _softmax(row: list[float]) -> list[float]:
    top = max(row)
    exps = [math.exp(x - top) for x in row]
    return [e / sum(exps) for e in exps]


def _support(p: list[float], q: list[float], top_k: int | None, add_tail: bool):
    if top_k is None:
        return p, q
    order = sorted(range(len(p)), key=lambda i: -p[i])[:top_k]
    ps, qs = [p[i] for i in order], [q[i] for i in order]
    if add_tail:
        return ps + [1.0 - sum(ps)], qs + [1.0 - sum(qs)]
    return [x / sum(ps) for x in ps], [x / sum(qs) for x in qs]


def _kl(a: list[float], b: list[float]) -> float:
    return sum(x * (math.log(x) - math.log(y)) for x, y in zip(a, b, strict=True) if x > 0)


def _position_divergence(p: list[float], q: list[float], alpha: float) -> float:
    if alpha == 0.0:
        return _kl(q, p)
    if alpha == 1.0:
        return _kl(p, q)
    m = [(1 - alpha) * x + alpha * y for x, y in zip(p, q, strict=True)]
    return (1 - alpha) * _kl(p, m) + alpha * _kl(q, m)


def reference_loss(student, teacher, mask, *, top_k, alpha, add_tail=True, weights=None) -> float:
    """Loop-by-loop SDPO loss: per-token divergence, token mean per sequence, sequence mean."""
    total = 0.0
    for b in range(student.shape[0]):
        seq_sum, seq_tokens = 0.0, 0.0
        for t in range(student.shape[1]):
            if not mask[b, t]:
                continue
            p = _softmax(student[b, t].tolist())
            q = _softmax(teacher[b, t].tolist())
            ps, qs = _support(p, q, top_k, add_tail)
            w = 1.0 if weights is None else float(weights[b, t])
            seq_sum += w * _position_divergence(ps, qs, alpha)
            seq_tokens += 1
        total += seq_sum / max(seq_tokens, 1.0)
    return total / student.shape[0]


MASK = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.float64)
alphas = st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0])
top_ks = st.sampled_from([None, 1, 3, 6])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), alpha=alphas, top_k=top_ks, add_tail=st.booleans())
def test_matches_brute_force_reference(seed, alpha, top_k, add_tail):
    student, teacher = _logits(seed, B, T, V), _logits(seed + 1, B, T, V)
    got = distillation_loss(student, teacher, MASK, top_k=top_k, alpha=alpha, add_tail=add_tail)
    want = reference_loss(student, teacher, MASK, top_k=top_k, alpha=alpha, add_tail=add_tail)
    assert got.item() == pytest.approx(want, rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), alpha=alphas, top_k=top_ks, add_tail=st.booleans())
def test_never_negative_and_zero_when_teacher_equals_student(seed, alpha, top_k, add_tail):
    student, teacher = _logits(seed, B, T, V, scale=6.0), _logits(seed + 1, B, T, V, scale=6.0)
    kwargs = {"top_k": top_k, "alpha": alpha, "add_tail": add_tail, "clip_advantage": 5.0}
    assert distillation_loss(student, teacher, MASK, **kwargs).item() >= -1e-12  # rounding
    same = distillation_loss(student, student.clone(), MASK, **kwargs).item()
    assert same == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_top_k_equal_to_vocab_is_the_full_vocabulary_divergence(alpha):
    student, teacher = _logits(3, B, T, V), _logits(4, B, T, V)
    full = distillation_loss(student, teacher, MASK, top_k=None, alpha=alpha)
    for add_tail in (True, False):
        top_v = distillation_loss(student, teacher, MASK, top_k=V, alpha=alpha, add_tail=add_tail)
        assert top_v.item() == pytest.approx(full.item(), abs=1e-6)


def test_alpha_endpoints_are_forward_and_reverse_kl_by_hand():
    student, teacher = _logits(5, B, T, V), _logits(6, B, T, V)
    p, q = student.softmax(-1), teacher.softmax(-1)
    reverse = (p * (p.log() - q.log())).sum(-1)
    forward = (q * (q.log() - p.log())).sum(-1)
    mask = torch.ones(B, T, dtype=torch.float64)
    got_reverse = distillation_loss(student, teacher, mask, top_k=None, alpha=1.0)
    got_forward = distillation_loss(student, teacher, mask, top_k=None, alpha=0.0)
    assert got_reverse.item() == pytest.approx(reverse.mean().item(), rel=1e-12)
    assert got_forward.item() == pytest.approx(forward.mean().item(), rel=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("top_k", [None, 3])
def test_gradient_matches_finite_differences(alpha, top_k):
    student = _logits(7, B, T, V).requires_grad_()
    teacher = _logits(8, B, T, V)
    weights = torch.rand(B, T, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def loss(s: torch.Tensor) -> torch.Tensor:
        return distillation_loss(s, teacher, MASK, top_k=top_k, alpha=alpha, token_weights=weights)

    assert torch.autograd.gradcheck(loss, (student,), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_clipped_gradient_is_the_clipped_advantage_policy_gradient(alpha):
    student = _logits(9, B, T, V, scale=4.0).requires_grad_()
    teacher = _logits(10, B, T, V, scale=4.0)
    clip = 0.5
    distillation_loss(
        student, teacher, MASK, top_k=None, alpha=alpha, clip_advantage=clip
    ).backward()
    logp = student.detach().log_softmax(-1)
    adv = logit_advantages(logp, teacher.log_softmax(-1), alpha=alpha).clamp(-clip, clip)
    assert (adv.abs() == clip).any(), "the test must exercise the clamp"
    # ∇ of −Σ_k π_k A_k log π_k wrt the logits, with A and π held fixed; then the same reduction.
    p = logp.exp()
    per_token_grad = -(p * adv - p * (p * adv).sum(-1, keepdim=True))
    tokens = MASK.sum(-1, keepdim=True)
    want = per_token_grad * (MASK / tokens).unsqueeze(-1) / B
    assert torch.allclose(student.grad, want, atol=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_huge_clip_changes_nothing(alpha):
    student = _logits(11, B, T, V).requires_grad_()
    teacher = _logits(12, B, T, V)
    plain = distillation_loss(student, teacher, MASK, top_k=3, alpha=alpha)
    (grad_plain,) = torch.autograd.grad(plain, student)
    clipped = distillation_loss(student, teacher, MASK, top_k=3, alpha=alpha, clip_advantage=1e9)
    (grad_clipped,) = torch.autograd.grad(clipped, student)
    assert clipped.item() == pytest.approx(plain.item(), rel=1e-12)
    assert torch.allclose(grad_plain, grad_clipped, atol=1e-12)


def test_masked_tokens_contribute_nothing():
    student = _logits(13, B, T, V).requires_grad_()
    teacher = _logits(14, B, T, V)
    loss = distillation_loss(student, teacher, MASK, top_k=3, alpha=1.0, clip_advantage=5.0)
    (grad,) = torch.autograd.grad(loss, student)
    assert torch.all(grad[0, 2] == 0)
    scrambled_s, scrambled_t = student.detach().clone(), teacher.clone()
    scrambled_s[0, 2], scrambled_t[0, 2] = 100.0, -100.0
    again = distillation_loss(scrambled_s, scrambled_t, MASK, top_k=3, alpha=1.0)
    assert again.item() == pytest.approx(loss.item(), rel=1e-12)


def test_masked_sequence_counts_zero_but_stays_in_the_denominator():
    student, teacher = _logits(15, B, T, V), _logits(16, B, T, V)
    one_row = torch.tensor([[1, 1, 1], [0, 0, 0]], dtype=torch.float64)
    both = distillation_loss(student, teacher, one_row, top_k=None, alpha=1.0)
    first = distillation_loss(student[:1], teacher[:1], one_row[:1], top_k=None, alpha=1.0)
    assert both.item() == pytest.approx(first.item() / 2, rel=1e-12)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), alpha=alphas, chunk=st.integers(1, 6), add_tail=st.booleans())
def test_chunked_equals_unchunked(seed, alpha, chunk, add_tail):
    hidden_size, top_k, temperature = 5, 3, 0.7
    weight = _logits(seed, V, hidden_size)
    student_hidden = _logits(seed + 1, B, T, hidden_size).requires_grad_()
    teacher_hidden = _logits(seed + 2, B, T, hidden_size)
    ids = torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))
    kwargs = {"alpha": alpha, "clip_advantage": 1.0}

    ref = terms_from_logits(
        student_hidden @ weight.T / temperature,
        teacher_hidden @ weight.T / temperature,
        ids,
        top_k=top_k,
        add_tail=add_tail,
    )
    got = chunked_terms(
        student_hidden, teacher_hidden, weight, ids, MASK,
        top_k=top_k, add_tail=add_tail, temperature=temperature, chunk_tokens=chunk,
    )  # fmt: skip
    on = MASK.bool()
    for name in ("student", "teacher", "student_token", "teacher_token", "student_entropy"):
        assert torch.allclose(getattr(got, name)[on], getattr(ref, name)[on], atol=1e-12), name
    (grad_ref,) = torch.autograd.grad(loss_from_terms(ref, MASK, **kwargs), student_hidden)
    (grad_got,) = torch.autograd.grad(loss_from_terms(got, MASK, **kwargs), student_hidden)
    assert torch.allclose(grad_got, grad_ref, atol=1e-12)


def test_chunked_with_nothing_to_score():
    hidden = torch.zeros(1, 2, 4)
    terms = chunked_terms(
        hidden, hidden, torch.ones(V, 4), torch.zeros(1, 2, dtype=torch.long),
        torch.zeros(1, 2), top_k=2,
    )  # fmt: skip
    assert terms.student.shape == (1, 2, 3)
    assert loss_from_terms(terms, torch.zeros(1, 2), alpha=1.0).item() == 0.0


def test_sampled_token_loss_gradient_is_the_detached_advantage():
    logits = _logits(17, B, T, V).requires_grad_()
    teacher = _logits(18, B, T, V)
    ids = torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(1))
    student_logp = token_logprobs(logits, ids)
    teacher_logp = token_logprobs(teacher, ids)
    loss = sampled_token_loss(student_logp, teacher_logp, MASK, clip_advantage=0.3)
    (grad,) = torch.autograd.grad(loss, logits)
    log_ratio = (student_logp - teacher_logp).detach()
    assert loss.item() == pytest.approx(((log_ratio * MASK).sum(-1) / MASK.sum(-1)).mean().item())
    surrogate = (log_ratio.clamp(-0.3, 0.3) * token_logprobs(logits, ids) * MASK).sum(-1)
    (want,) = torch.autograd.grad((surrogate / MASK.sum(-1)).mean(), logits)
    assert torch.allclose(grad, want, atol=1e-12)


def test_truncated_importance_weights():
    learner = torch.tensor([[0.0, -1.0, -30.0]], dtype=torch.float64)
    sampler = torch.tensor([[-1.0, -1.0, 0.0]], dtype=torch.float64)
    weights = truncated_importance_weights(learner, sampler, is_clip=2.0)
    assert weights.tolist()[0] == pytest.approx([2.0, 1.0, math.exp(-20.0)])
    assert not weights.requires_grad
    raw = truncated_importance_weights(learner, sampler, is_clip=None)
    assert raw[0, 0].item() == pytest.approx(math.e)


def test_token_weights_multiply_each_token():
    student, teacher = _logits(19, B, T, V), _logits(20, B, T, V)
    weights = torch.tensor([[2.0, 0.5, 9.0], [1.0, 0.0, 3.0]], dtype=torch.float64)
    got = distillation_loss(student, teacher, MASK, top_k=2, alpha=0.5, token_weights=weights)
    want = reference_loss(student, teacher, MASK, top_k=2, alpha=0.5, weights=weights)
    assert got.item() == pytest.approx(want, rel=1e-9)


def test_divergence_is_symmetric_at_half():
    p, q = _logits(21, 4, V).log_softmax(-1), _logits(22, 4, V).log_softmax(-1)
    assert torch.allclose(divergence(p, q, alpha=0.5), divergence(q, p, alpha=0.5))


@pytest.mark.parametrize(
    ("kwargs", "quoted"),
    [
        ({"top_k": 0, "alpha": 1.0}, "0"),
        ({"top_k": V + 1, "alpha": 1.0}, str(V + 1)),
        ({"top_k": 3, "alpha": 1.5}, "1.5"),
        ({"top_k": 3, "alpha": float("nan")}, "nan"),
        ({"top_k": 3, "alpha": 1.0, "clip_advantage": -2.0}, "-2.0"),
    ],
)
def test_bad_hyperparameters_are_quoted(kwargs, quoted):
    student = _logits(23, B, T, V)
    with pytest.raises(ValueError, match=quoted):
        distillation_loss(student, student, MASK, **kwargs)


def test_bad_shapes_are_rejected():
    student = _logits(24, B, T, V)
    with pytest.raises(ValueError, match="response_mask"):
        distillation_loss(student, student, MASK[:, :2], top_k=3, alpha=1.0)
    with pytest.raises(ValueError, match=r"\[B, T, V\]"):
        distillation_loss(student, student[..., :5], MASK, top_k=3, alpha=1.0)
    with pytest.raises(ValueError, match="token_weights"):
        distillation_loss(student, student, MASK, top_k=3, alpha=1.0, token_weights=MASK[0])
    with pytest.raises(ValueError, match="is_clip"):
        truncated_importance_weights(MASK, MASK, is_clip=0.0)
