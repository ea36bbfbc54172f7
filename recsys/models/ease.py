"""EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019).

A linear item-item model with a closed form: B = I - P · diag(1 / diag(P)), P = (XᵀX + λI)⁻¹, the
diagonal of B forced to zero so that an item cannot predict itself. A strong baseline on MovieLens.
The dense n_items × n_items inverse bounds it to catalogues of tens of thousands of items.
"""
from __future__ import annotations

import numpy as np

from recsys.checks import check_int, check_number
from recsys.data.dataset import Dataset
from recsys.models.item_item import ItemItemRecommender
from recsys.models.registry import register
from recsys.progress import Progress


@register("ease")
class EASE(ItemItemRecommender):

    def __init__(self, *, l2: float = 100.0, max_items: int = 40_000):
        self.l2 = l2
        self.max_items = max_items

    def not_applicable(self, train: Dataset) -> str | None:
        if train.n_items > self.max_items:
            return (f"EASE needs a dense {train.n_items:,}² matrix; the catalogue is above "
                    f"max_items={self.max_items:,} (raise it if memory allows)")
        return None

    def fit(self, train: Dataset, *, valid=None, progress: Progress | None = None) -> "EASE":
        check_number("l2", self.l2, strict=True)
        check_int("max_items", self.max_items)
        self._refuse_if_not_applicable(train)
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
