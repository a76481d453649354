"""A linear-chain CRF over BIO tags (optional; the tagger's ``use_crf`` switch)."""

from __future__ import annotations

import torch
from torch import nn


class CRF(nn.Module):
    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))

    def neg_log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean over sequences; ``mask`` marks real words and every sequence has at least one."""
        return (self._partition(emissions, mask) - self._score(emissions, tags, mask)).mean()

    def _score(self, emissions, tags, mask):
        batch = torch.arange(emissions.size(0), device=emissions.device)
        score = self.start[tags[:, 0]] + emissions[batch, 0, tags[:, 0]]
        for i in range(1, emissions.size(1)):
            step = self.transitions[tags[:, i - 1], tags[:, i]] + emissions[batch, i, tags[:, i]]
            score = score + step * mask[:, i]
        last = mask.long().sum(1) - 1
        return score + self.end[tags[batch, last]]

    def _partition(self, emissions, mask):
        alpha = self.start + emissions[:, 0]
        for i in range(1, emissions.size(1)):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + self.transitions + emissions[:, i].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, i].unsqueeze(1), nxt, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        score = self.start + emissions[:, 0]
        history = []
        for i in range(1, emissions.size(1)):
            total = score.unsqueeze(2) + self.transitions + emissions[:, i].unsqueeze(1)
            best, index = total.max(dim=1)
            score = torch.where(mask[:, i].unsqueeze(1), best, score)
            history.append(
                torch.where(mask[:, i].unsqueeze(1), index, torch.arange(score.size(1), device=score.device))
            )
        score = score + self.end
        paths = []
        lengths = mask.long().sum(1).tolist()
        for b in range(emissions.size(0)):
            tag = int(score[b].argmax())
            path = [tag]
            for step in reversed(history[: lengths[b] - 1]):
                tag = int(step[b, tag])
                path.append(tag)
            paths.append(path[::-1])
        return paths
