"""Neighbourhood collaborative filtering: item-based, user-based, and a hybrid of the two.

Similarity is cosine on the binary user × item matrix, with an optional shrinkage term in the denominator
that damps similarities resting on few co-occurrences (Koren 2008). Item-based CF keeps, for each item,
its ``neighbors`` most similar items; a history scores item j by the summed similarity of its items to j,
so each score is exactly the sum of per-history-item contributions (``contributions``). User-based CF
finds the training users most similar to a history and sums their items, weighted by similarity.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from recsys.checks import check_int, check_number
from recsys.data.dataset import Dataset
from recsys.models.base import Recommender, history_matrix
from recsys.models.item_item import ItemItemRecommender
from recsys.models.registry import register
from recsys.progress import Progress

_BLOCK_BYTES = 128 * 2**20


def item_neighbours(X: sparse.csr_matrix, neighbors: int, shrink: float,
                    progress: Progress | None = None) -> sparse.csr_matrix:
    """W (n_items, n_items): W[h, j] = cos(h, j) when h is among j's ``neighbors`` most similar items.

    Computed in column blocks so that only n_items × block similarities exist at once.
    """
    n_items = X.shape[1]
    Xc = sparse.csc_matrix(X, dtype=np.float32)
    XT = sparse.csr_matrix(Xc.T)
    norms = np.sqrt(np.asarray(Xc.multiply(Xc).sum(axis=0)).ravel()).astype(np.float32)
    k = min(neighbors, n_items - 1)
    block = max(1, _BLOCK_BYTES // (4 * max(n_items, 1)))
    rows, cols, vals = [], [], []
    for lo in range(0, n_items, block):
        hi = min(lo + block, n_items)
        dots = (XT @ Xc[:, lo:hi]).toarray()  # (n_items, b)
        sims = dots / (norms[:, None] * norms[None, lo:hi] + shrink + 1e-12)
        sims[np.arange(lo, hi), np.arange(hi - lo)] = 0.0  # an item is not its own neighbour
        if k <= 0:
            continue
        top = np.argpartition(-sims, k - 1, axis=0)[:k]  # (k, b)
        top_vals = np.take_along_axis(sims, top, axis=0)
        keep = top_vals > 0
        rows.append(top[keep])
        cols.append(np.broadcast_to(np.arange(lo, hi), top.shape)[keep])
        vals.append(top_vals[keep])
        if progress:
            progress(hi / n_items, f"similarities {hi:,}/{n_items:,} items")
    if not rows:
        return sparse.csr_matrix((n_items, n_items), dtype=np.float32)
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(n_items, n_items), dtype=np.float32)


def user_neighbour_scores(user_items: sparse.csr_matrix, user_norms: np.ndarray,
                          histories: list[np.ndarray], neighbors: int, shrink: float,
                          exclude_users: np.ndarray | None = None) -> np.ndarray:
    """Scores from the ``neighbors`` training users most similar to each history (cosine)."""
    n_users, n_items = user_items.shape
    H = history_matrix(histories, n_items)
    h_norm = np.sqrt(np.asarray(H.sum(axis=1)).ravel())
    out = np.zeros((len(histories), n_items), np.float32)
    chunk = max(1, _BLOCK_BYTES // (4 * max(n_users, 1)))
    k = min(neighbors, n_users)
    for lo in range(0, len(histories), chunk):
        hi = min(lo + chunk, len(histories))
        sims = (H[lo:hi] @ user_items.T).toarray()
        sims /= h_norm[lo:hi, None] * user_norms[None, :] + shrink + 1e-12
        if exclude_users is not None:
            sims[np.arange(hi - lo), exclude_users[lo:hi]] = 0.0  # a user is not their own neighbour
        if k < n_users:
            cut = np.argpartition(-sims, k - 1, axis=1)[:, k - 1:k]
            threshold = np.take_along_axis(sims, cut, axis=1)
            sims[sims < threshold] = 0.0
        out[lo:hi] = (sparse.csr_matrix(sims) @ user_items).toarray()
    return out


@register("itemknn")
class ItemKNN(ItemItemRecommender):
    """Item-based CF: score(j) = sum over history items h of cos(h, j), over j's nearest items."""


    def __init__(self, *, neighbors: int = 10, shrink: float = 0.0):
        self.neighbors = neighbors
        self.shrink = shrink

    def fit(self, train: Dataset, *, valid=None, progress: Progress | None = None) -> "ItemKNN":
        check_int("neighbors", self.neighbors)
        check_number("shrink", self.shrink)
        self.weights_ = item_neighbours(train.user_item_matrix(), self.neighbors, self.shrink, progress)
        self.n_items_ = train.n_items
        return self


@register("userknn")
class UserKNN(Recommender):
    """User-based CF: the items of the ``neighbors`` training users closest to the history."""


    def __init__(self, *, neighbors: int = 20, shrink: float = 0.0):
        self.neighbors = neighbors
        self.shrink = shrink

    def fit(self, train: Dataset, *, valid=None, progress: Progress | None = None) -> "UserKNN":
        check_int("neighbors", self.neighbors)
        check_number("shrink", self.shrink)
        self.user_items_ = train.user_item_matrix()
        self.n_items_ = train.n_items
        self.user_norms_ = np.sqrt(np.asarray(self.user_items_.sum(axis=1)).ravel()).astype(np.float32)
        if progress:
            progress(1.0, "indexed users")
        return self

    def _score(self, histories, users):
        return user_neighbour_scores(self.user_items_, self.user_norms_, histories, self.neighbors,
                                     self.shrink, exclude_users=users)


def _row_max_normalise(scores: np.ndarray) -> np.ndarray:
    top = scores.max(axis=1, keepdims=True)
    return np.divide(scores, top, out=np.zeros_like(scores), where=top > 0)


@register("hybridcf")
class HybridCF(Recommender):
    """alpha × item-based + (1 - alpha) × user-based CF, each scaled to a maximum of 1 per user."""


    def __init__(self, *, alpha: float = 0.3, item_neighbors: int = 10, user_neighbors: int = 20,
                 shrink: float = 0.0):
        self.alpha = alpha
        self.item_neighbors = item_neighbors
        self.user_neighbors = user_neighbors
        self.shrink = shrink

    def fit(self, train: Dataset, *, valid=None, progress: Progress | None = None) -> "HybridCF":
        check_number("alpha", self.alpha, maximum=1.0)
        check_int("item_neighbors", self.item_neighbors)
        check_int("user_neighbors", self.user_neighbors)
        check_number("shrink", self.shrink)
        X = train.user_item_matrix()
        self.n_items_ = train.n_items
        self.weights_ = item_neighbours(X, self.item_neighbors, self.shrink, progress)
        self.user_items_ = X
        self.user_norms_ = np.sqrt(np.asarray(X.sum(axis=1)).ravel()).astype(np.float32)
        return self

    def _score(self, histories, users):
        item_based = (history_matrix(histories, self.n_items_) @ self.weights_).toarray()
        user_based = user_neighbour_scores(self.user_items_, self.user_norms_, histories,
                                           self.user_neighbors, self.shrink, exclude_users=users)
        return (self.alpha * _row_max_normalise(item_based)
                + (1 - self.alpha) * _row_max_normalise(user_based))
