"""Popularity: recommends the most-interacted items, the same list for everyone (minus their history).

The reference floor every personalised model must beat. ``half_life_days`` weights recent interactions
more (a "trending" list): an interaction that is ``half_life_days`` older than the newest one counts half.
"""
from __future__ import annotations

import numpy as np

from recsys.checks import check_number
from recsys.data.dataset import Dataset
from recsys.models.base import Recommender
from recsys.models.registry import register
from recsys.progress import Progress


@register("pop")
class Popularity(Recommender):
    ignores_history = "it ranks items by popularity alone, the same for everyone"

    def __init__(self, *, half_life_days: float | None = None):
        self.half_life_days = half_life_days

    def fit(self, train: Dataset, *, valid=None, progress: Progress | None = None) -> "Popularity":
        weights = None
        if self.half_life_days is not None:
            check_number("half_life_days", self.half_life_days, strict=True)
            age_days = (train.timestamp.max() - train.timestamp) / 86400.0
            weights = 0.5 ** (age_days / self.half_life_days)
        self.popularity_ = np.bincount(train.item, weights=weights,
                                       minlength=train.n_items).astype(np.float32)
        self.n_items_ = train.n_items
        if progress:
            progress(1.0, "counted")
        return self

    def _score(self, histories, users):
        return np.tile(self.popularity_, (len(histories), 1))
