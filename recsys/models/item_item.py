"""Models that score with an item × item weight matrix: score(history) = Σ_{h in history} W[h, :].

Such a score is a sum of one term per history item, so each recommendation's explanation is exact:
``contributions(history, item)`` returns every history item's term, and they add up to the score.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from recsys.models.base import Recommender, first_occurrences, history_matrix


class ItemItemRecommender(Recommender):
    """Base for ItemKNN and EASE: subclasses learn ``weights_`` (dense or sparse, n_items × n_items)."""

    def _score(self, histories, users):
        product = history_matrix(histories, self.n_items_) @ self.weights_
        return product.toarray() if sparse.issparse(product) else np.asarray(product)

    def contributions(self, history, item: int) -> np.ndarray:
        """Each history item's exact share of ``item``'s score (they sum to the score).

        A repeated history item counts once in the score, so only its first position gets credit.
        """
        self._check_fitted()
        history = self._check_histories([history])[0]
        # The history's rows first: a column of a 54k-item sparse matrix scans every row.
        terms = self.weights_[history][:, item]
        terms = terms.toarray().ravel() if sparse.issparse(terms) else np.asarray(terms).ravel()
        return np.where(first_occurrences(history), terms, 0.0).astype(np.float32)
