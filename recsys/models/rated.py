"""The ratings a rating model keeps from training and validation, so that a known user's list can be
their rated history folded in: the list and its explanation (occlusion through the same fold-in) are
then one computation.

Bayesian MF and rating MF share it: ``_keep_ratings(train, valid)`` in ``fit``, then
``known_ratings(user, items)``. Items given without a rating (a composed history, or an item the user
did not rate) count as rated at ``implicit_rating_``: the 75th percentile of training ratings unless the
model's ``implicit_rating`` says otherwise ("chosen, so probably liked"). ``fold_in_weights`` says how
much each rating of a history counts in the fold-in: the latest most (the model's
``fold_in_half_life``).
"""
from __future__ import annotations

import numpy as np

from recsys.data.dataset import Dataset
from recsys.errors import DataError
from recsys.models.base import recency_weight


class RatedHistories:
    """Ratings per user (training and validation; sorted by item, CSR) and ``known_ratings``; mixed into
    a model."""

    def _keep_ratings(self, train: Dataset, valid=None) -> None:
        """Keep ``train``'s ratings, and ``valid``'s (a ``HeldOut``): a test history holds the
        validation items, and their ratings are as much the user's input as the training ones (only a
        history item's rating is ever read, so a held-out target's never is)."""
        users, items = train.user.astype(np.int64), train.item.astype(np.int64)
        ratings = train.rating.astype(np.float64)
        implicit = getattr(self, "implicit_rating", None)
        self.implicit_rating_ = float(implicit if implicit is not None else np.percentile(ratings, 75))
        if valid is not None and len(valid) and len(valid.ratings):
            users = np.concatenate([users, np.repeat(valid.users, valid.targets.lengths).astype(np.int64)])
            items = np.concatenate([items, valid.targets.values.astype(np.int64)])
            ratings = np.concatenate([ratings, valid.ratings.astype(np.float64)])
        order = np.lexsort((items, users))
        self.rated_indptr_ = np.searchsorted(users[order], np.arange(train.n_users + 1)).astype(np.int64)
        self.rated_items_ = items[order]
        self.rated_values_ = ratings[order].astype(np.float32)

    def known_ratings(self, user: int, items) -> np.ndarray:
        """The rating ``user`` gave each of ``items`` (in training or validation), ``implicit_rating_``
        where none."""
        n_users = len(self.rated_indptr_) - 1
        if not 0 <= int(user) < n_users:
            raise DataError(f"unknown user index {user}: the model knows {n_users:,} users")
        (items,) = self._check_histories([items])                   # the model's own item check
        lo, hi = self.rated_indptr_[user], self.rated_indptr_[user + 1]
        rated, values = self.rated_items_[lo:hi], self.rated_values_[lo:hi]
        at = np.searchsorted(rated, items)
        hit = at < len(rated)
        hit[hit] = rated[at[hit]] == items[hit]
        out = np.full(len(items), self.implicit_rating_)
        out[hit] = values[at[hit]]
        return out

    def fold_in_weights(self, length: int) -> np.ndarray:
        """The weight of each of a history's ``length`` ratings in the fold-in, oldest first: halving
        every ``fold_in_half_life`` items back from the latest (all 1 with None), scaled to average 1,
        so that a history counts as many ratings against the prior as it holds, only the recent ones
        more."""
        w = recency_weight(np.arange(length, dtype=np.float64)[::-1], self.fold_in_half_life)
        return w * (length / w.sum()) if length else w

    def ratings_of(self, histories, users) -> list[np.ndarray]:
        """Each history's ratings: its user's (``known_ratings``) with ``users``, else the implicit one."""
        if users is None:
            return [np.full(len(h), self.implicit_rating_) for h in histories]
        return [self.known_ratings(int(u), h) for u, h in zip(users, histories)]
