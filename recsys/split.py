"""Train / valid / test splits.

- ``leave_one_out``: each user's last interaction (by time) is the test item, the one before it the
  validation item; users with fewer than 3 interactions stay whole in train. The protocol of RecBole,
  SASRec and BERT4Rec papers, and our default.
- ``time_ratio``: each user's interactions in time order, cut by ratio (e.g. 80/10/10).
- ``random_split``: a seeded random split of all rows (80/20 by default), for rating models.

Interactions are already sorted by (user, time, file order), so equal timestamps keep the file's order.
Every part shares the full dataset's ids, so scores always cover the whole catalogue.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.data.dataset import Dataset
from recsys.data.ragged import Ragged
from recsys.errors import DataError

TRAIN, VALID, TEST = 0, 1, 2
PROTOCOLS = ("loo", "ratio", "random")
PROTOCOL_NAMES = {"loo": "leave-one-out by time", "ratio": "per-user time ratio",
                  "random": "random rating split"}


@dataclass
class HeldOut:
    """Users to evaluate: for each, the history a model sees and the held-out target items.

    Row ``j`` of ``histories`` and ``targets`` belongs to user ``users[j]``; both are in time order.
    ``ratings`` aligns with ``targets.values``.
    """

    users: np.ndarray
    histories: Ragged
    targets: Ragged
    ratings: np.ndarray

    def __len__(self) -> int:
        return len(self.users)

    def take(self, rows: np.ndarray) -> "HeldOut":
        """Only the users at positions ``rows`` (in that order), with their histories and targets."""
        rows = np.asarray(rows, dtype=np.int64)
        ratings = (Ragged(self.targets.indptr, self.ratings).take(rows).values if len(self.ratings)
                   else self.ratings)
        return HeldOut(self.users[rows], self.histories.take(rows), self.targets.take(rows), ratings)

    def sample(self, n: int, seed: int = 0) -> "HeldOut":
        """A seeded random ``n`` of the users (all of them, unchanged, when there are at most ``n``)."""
        if len(self) <= n:
            return self
        rows = np.sort(np.random.default_rng(seed).choice(len(self), n, replace=False))
        return self.take(rows)


@dataclass
class Split:
    train: Dataset
    valid: HeldOut
    test: HeldOut
    protocol: str

    @property
    def description(self) -> str:
        return PROTOCOL_NAMES[self.protocol]


def _held_out(ds: Dataset, labels: np.ndarray, target: int, history: tuple[int, ...]) -> HeldOut:
    is_target = labels == target
    users = np.unique(ds.user[is_target]).astype(np.int32)
    in_history = np.isin(labels, history) & np.isin(ds.user, users)
    # Map each user id to its row in ``users`` so that from_groups builds rows in that order.
    row = np.full(ds.n_users, -1, np.int64)
    row[users] = np.arange(len(users))
    histories = Ragged.from_groups(row[ds.user[in_history]], ds.item[in_history], len(users))
    targets = Ragged.from_groups(row[ds.user[is_target]], ds.item[is_target], len(users))
    return HeldOut(users, histories, targets, ds.rating[is_target])


def _make(ds: Dataset, labels: np.ndarray, protocol: str, test_history: tuple[int, ...]) -> Split:
    if not (labels == TRAIN).any():
        raise DataError("the split leaves no training interactions")
    return Split(train=ds.subset(labels == TRAIN, name=f"{ds.name}/{protocol}/train"),
                 valid=_held_out(ds, labels, VALID, (TRAIN,)),
                 test=_held_out(ds, labels, TEST, test_history), protocol=protocol)


def leave_one_out(ds: Dataset) -> Split:
    pos, length = ds.positions_in_user()
    labels = np.full(ds.n_interactions, TRAIN, np.int8)
    eligible = length >= 3
    labels[eligible & (pos == length - 1)] = TEST
    labels[eligible & (pos == length - 2)] = VALID
    return _make(ds, labels, "loo", (TRAIN, VALID))


def time_ratio(ds: Dataset, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> Split:
    """Cut each user's time-ordered interactions at the cumulative ratios (at least one stays in train)."""
    r = np.asarray(ratios, dtype=np.float64)
    if len(r) != 3 or (r < 0).any() or not np.isclose(r.sum(), 1.0):
        raise DataError(f"ratios must be three non-negative numbers summing to 1, got {ratios}")
    pos, length = ds.positions_in_user()
    n_train = np.maximum(1, np.floor(length * r[0] + 1e-9)).astype(np.int64)
    n_valid = np.floor(length * (r[0] + r[1]) + 1e-9).astype(np.int64) - n_train
    n_valid = np.maximum(n_valid, 0)
    labels = np.where(pos < n_train, TRAIN, np.where(pos < n_train + n_valid, VALID, TEST))
    return _make(ds, labels.astype(np.int8), "ratio", (TRAIN, VALID))


def random_split(ds: Dataset, test: float = 0.2, valid: float = 0.0, seed: int = 0) -> Split:
    """A seeded random split of all rows; histories are the user's training rows only."""
    if not (0 < test < 1 and 0 <= valid < 1 and test + valid < 1):
        raise DataError(f"test and valid fractions must be in (0, 1) and sum below 1, got {test}, {valid}")
    u = np.random.default_rng(seed).random(ds.n_interactions)
    labels = np.where(u < test, TEST, np.where(u < test + valid, VALID, TRAIN)).astype(np.int8)
    return _make(ds, labels, "random", (TRAIN,))


def make_split(ds: Dataset, protocol: str = "loo", **kwargs) -> Split:
    """Split by protocol name: 'loo' (default), 'ratio' or 'random'."""
    if protocol not in PROTOCOLS:
        raise DataError(f"unknown split {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    return {"loo": leave_one_out, "ratio": time_ratio, "random": random_split}[protocol](ds, **kwargs)
