"""What the torch-trained models share: device choice, seeding, and the one training loop (``train_epochs``:
epochs, validation and early stopping, the time budget, progress, agreement between processes).

Models are device-agnostic: ``device="auto"`` uses CUDA when present and the CPU otherwise; everything
they keep after ``fit`` is moved back to numpy or saved with safetensors, never pickled.
"""
from __future__ import annotations

import copy
import random
import time
from typing import Callable

import numpy as np
import torch

from recsys.errors import ParameterError
from recsys.evaluate import evaluate
from recsys.metrics import higher_is_better
from recsys.progress import Progress


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


def ndcg_validation(model, valid, train) -> Callable[[], tuple[str, float]] | None:
    """The ranking models' early-stopping criterion for ``train_epochs`` (None without a validation
    part): validation NDCG@10."""
    if valid is None or not len(valid):
        return None
    return lambda: ("valid_ndcg@10", validation_ndcg(model, valid, train))


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


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A learned tensor as the float32 numpy array a fitted model keeps."""
    return tensor.detach().cpu().numpy().astype(np.float32)


def optimizer_step(opt: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    """One gradient step on ``loss``; returns its value."""
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss.detach())


def train_epochs(model, run_epoch: Callable[[int], dict], *,
                 validate: Callable[[], tuple[str, float]] | None, snapshot: Callable[[], object],
                 restore: Callable[[object], None],
                 progress: Progress | None = None, eval_every: int = 1, start: float | None = None) -> None:
    """The training loop every gradient-trained model runs: ``model.epochs`` epochs of ``run_epoch(epoch)``
    (one pass over the batches; it returns the epoch's record, e.g. its loss, and sets ``"out_of_time"``
    when the model's time budget ended it), each recorded in ``model.history_`` with the seconds since
    ``start``. Every ``eval_every`` epochs ``validate()`` gives (name, value) — "valid_" and a metric
    of ``recsys.metrics``, which says whether higher is better — and ``model.patience`` rounds without
    a better value stop training; ``snapshot()`` keeps the best state and ``restore`` puts it back at the end
    (``model.best_epoch_``). Under torchrun every process takes the same decisions (``agree``)."""
    from recsys.distributed import agree

    stopper = EarlyStopping(model.patience)
    model.history_ = []
    start = time.perf_counter() if start is None else start
    for epoch in range(model.epochs):
        record = {"epoch": epoch + 1, **run_epoch(epoch)}
        out_of_time = bool(record.pop("out_of_time", False))
        record["seconds"] = time.perf_counter() - start
        stop = False
        if validate is not None and (epoch + 1) % eval_every == 0:
            name, value = validate()
            record[name] = value
            score = value if higher_is_better(name.removeprefix("valid_")) else -value
            stop = agree(stopper.update(score, epoch + 1, snapshot()))
        model.history_.append(record)
        if progress:
            progress((epoch + 1) / model.epochs, _describe(record))
        if stop or out_of_time:
            break
    if stopper.best_state is not None:
        restore(stopper.best_state)
        model.best_epoch_ = stopper.best_epoch
    else:
        model.best_epoch_ = len(model.history_)


def _describe(record: dict) -> str:
    shown = [f"epoch {record['epoch']}"]
    for key, label, digits in (("loss", "loss", 3), ("train_mse", "mse", 4),
                               ("valid_ndcg@10", "valid NDCG@10", 4), ("valid_rmse", "valid RMSE", 4)):
        if key in record:
            shown.append(f"{label} {record[key]:.{digits}f}")
    return ", ".join(shown)
