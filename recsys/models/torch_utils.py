"""What the torch-trained models share: device choice, seeding, early stopping on validation NDCG.

Models are device-agnostic: ``device="auto"`` uses CUDA when present and the CPU otherwise; everything
they keep after ``fit`` is moved back to numpy or saved with safetensors, never pickled.
"""
from __future__ import annotations

import copy
import random

import numpy as np
import torch

from recsys.errors import ParameterError
from recsys.evaluate import evaluate


def resolve_device(device: str | None = "auto") -> torch.device:
    """``auto``: CUDA when present (under torchrun, this process's GPU), else the CPU."""
    from recsys.distributed import device_for_rank

    if device in (None, "auto"):
        return device_for_rank(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ParameterError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device='cuda' was asked for, but no CUDA device is available")
    return device_for_rank(resolved)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch; returns a torch generator for the model's own sampling."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def weighted_sample(weights: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` indices drawn with replacement in proportion to ``weights``."""
    if len(weights) <= 2**24:
        return torch.multinomial(weights, n, replacement=True, generator=generator)
    # torch.multinomial refuses more than 2**24 categories; inverse-CDF sampling has no such limit.
    cdf = torch.cumsum(weights, 0)
    draws = torch.rand(n, generator=generator, dtype=cdf.dtype) * cdf[-1]
    return torch.searchsorted(cdf, draws).clamp_(max=len(weights) - 1)


# Validation ranks every item for every validation user after each epoch. Past this many users a fixed,
# seeded sample stands in for them (the same users every epoch, so the scores stay comparable): at 200k
# users × 100k items the full pass took longer than the epoch itself.
VALIDATION_USERS = 5_000


def validation_ndcg(model, valid, train, max_users: int = VALIDATION_USERS) -> float:
    """NDCG@10 on the validation part (or a seeded sample of ``max_users`` of its users): the
    criterion every torch model stops early on."""
    return evaluate(model, valid.sample(max_users, seed=0), train, k=(10,)).metrics["ndcg@10"]


class EarlyStopping:
    """Keeps the best state seen so far by a validation score and says when to stop."""

    def __init__(self, patience: int):
        self.patience = patience
        self.best_score = -np.inf
        self.best_epoch = -1
        self.best_state = None
        self.bad_rounds = 0

    def update(self, score: float, epoch: int, state) -> bool:
        """Record a validation score; returns True when training should stop."""
        if score > self.best_score:
            self.best_score, self.best_epoch = score, epoch
            self.best_state = copy.deepcopy(state)
            self.bad_rounds = 0
        else:
            self.bad_rounds += 1
        return self.bad_rounds >= self.patience
