"""Token choice for the transformers sampler, one random stream per row.

`generate` draws every row's token from torch's one global RNG, so what a row gets depends on
the other rows of its batch. Here each row has its own generator, seeded from its request's
seed and its place in that request: a job's samples are the same whether it was sampled alone
or batched with other jobs (up to float rounding of the batched forward). The processor picks
each row's token itself, with that row's temperature and top-p, records the token's log-prob
under the temperature-scaled, untruncated distribution (what the learner's importance weight
compares against), and hands `generate` logits that make its greedy step take that token.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from transformers import LogitsProcessor

_SEED_MODULUS = 2**63 - 1


def row_seed(request_seed: int | None, row: int) -> int:
    """The generator seed of a request's `row`-th sample (a fresh random one without a seed)."""
    if request_seed is None:
        return secrets.randbits(62)
    return (request_seed * 1_000_003 + row * 7_919 + 1) % _SEED_MODULUS


@dataclass(frozen=True)
class RowPolicy:
    """How one row chooses its tokens."""

    seed: int
    temperature: float
    top_p: float


class RowSampler(LogitsProcessor):
    """Chooses each row's next token from its own generator; keeps the chosen log-probs.

    Called once per step with the ids so far: at step k it reads the log-prob of the token
    chosen at step k−1; `finish` reads the last one.
    """

    def __init__(self, policies: Sequence[RowPolicy], device: torch.device) -> None:
        self.policies = tuple(policies)
        self.generators = [torch.Generator(device=device).manual_seed(p.seed) for p in policies]
        self.temperatures = torch.tensor(
            [p.temperature if p.temperature > 0 else 1.0 for p in policies], device=device
        ).unsqueeze(-1)
        self.top_p = torch.tensor([p.top_p for p in policies], device=device).unsqueeze(-1)
        self._truncates = any(p.top_p < 1.0 for p in policies)
        self.steps: list[Tensor] = []
        self._last: Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> Any:
        self._record(input_ids[:, -1])
        logp = F.log_softmax(scores.float() / self.temperatures, dim=-1)
        self._last = logp
        choice = self._choose(nucleus(logp, self.top_p) if self._truncates else logp)
        forced = torch.full_like(scores, float("-inf"))
        return forced.scatter(-1, choice.unsqueeze(-1), 0.0)

    def finish(self, new_tokens: Tensor) -> Tensor:
        """Log-probs `[rows, N]` aligned with the generated tokens."""
        if len(self.steps) < new_tokens.shape[1]:
            self._record(new_tokens[:, -1])
        if not self.steps:
            return torch.zeros(new_tokens.shape, device=new_tokens.device)
        return torch.stack(self.steps, dim=1).cpu()

    def _choose(self, logp: Tensor) -> Tensor:
        probs = logp.exp()
        picks = []
        for row, policy in enumerate(self.policies):
            if policy.temperature <= 0.0:
                picks.append(probs[row].argmax())
            else:
                picks.append(torch.multinomial(probs[row], 1, generator=self.generators[row])[0])
        return torch.stack(picks)

    def _record(self, tokens: Tensor) -> None:
        if self._last is not None:
            self.steps.append(self._last.gather(-1, tokens.unsqueeze(-1)).squeeze(-1))
            self._last = None


def nucleus(logp: Tensor, top_p: Tensor) -> Tensor:
    """Keep each row's smallest set of tokens whose mass reaches its top_p; others −inf."""
    sorted_logp, order = logp.sort(dim=-1, descending=True)
    mass_before = sorted_logp.exp().cumsum(-1) - sorted_logp.exp()
    drop_sorted = (mass_before >= top_p) & (top_p < 1.0)
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logp.masked_fill(drop, float("-inf"))
