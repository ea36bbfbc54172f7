"""EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019).

A linear item-item model with a closed form: B = I - P · diag(1 / diag(P)), P = (XᵀX + λI)⁻¹, the
diagonal of B forced to zero so that an item cannot predict itself. A strong baseline on MovieLens.
The dense n_items × n_items inverse bounds it to catalogues of tens of thousands of items.
"""
from __future__ import annotations

import numpy as np

from recsys.data.dataset import Dataset
from recsys.errors import ParameterError
from recsys.models.base import Recommender, history_matrix
from recsys.models.registry import register
from recsys.progress import Progress


@register("ease")
class EASE(Recommender):
    label = "EASE"

    def __init__(self, *, l2: float = 100.0, max_items: int = 40_000):
        self.l2 = l2
        self.max_items = max_items

    def fit(self, train: Dataset, *, valid=None, progress: Progress | None = None) -> "EASE":
        if isinstance(self.l2, bool) or not isinstance(self.l2, (int, float)) or not self.l2 > 0:
            raise ParameterError(f"l2 must be a positive number, got {self.l2!r}")
        if train.n_items > self.max_items:
            raise ParameterError(f"EASE needs a dense {train.n_items:,}² matrix; the catalogue is above "
                                 f"max_items={self.max_items:,} (raise it if memory allows)")
        X = train.user_item_matrix(binary=True)
        gram = (X.T @ X).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.l2
        if progress:
            progress(0.3, "inverting the Gram matrix")
        P = np.linalg.inv(gram)
        B = P / (-np.diag(P))
        B[np.diag_indices_from(B)] = 0.0
        self.weights_ = B.astype(np.float32)
        self.n_items_ = train.n_items
        if progress:
            progress(1.0, "solved")
        return self

    def _score(self, histories, users):
        return np.asarray(history_matrix(histories, self.n_items_) @ self.weights_)

    def contributions(self, history, item: int) -> np.ndarray:
        """Each history item's exact share of ``item``'s score (they sum to the score)."""
        self._check_fitted()
        history = self._check_histories([history])[0]
        first = np.zeros(len(history), bool)
        first[np.unique(history, return_index=True)[1]] = True
        return np.where(first, self.weights_[history, item], 0.0).astype(np.float32)
