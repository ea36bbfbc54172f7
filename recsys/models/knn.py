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


def _stored_rows(m: sparse.csr_matrix) -> np.ndarray:
    """The row of each stored value of a CSR matrix (aligned with ``m.data`` and ``m.indices``)."""
    return np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))


def item_neighbours(X: sparse.csr_matrix, neighbors: int, shrink: float,
                    progress: Progress | None = None) -> sparse.csr_matrix:
    """W (n_items, n_items): W[h, j] = cos(h, j) when h is among j's ``neighbors`` most similar items
    (of items tied with the last of them, the lowest indices).

    Computed for blocks of items j, the similarities kept sparse: on Amazon Beauty an item co-occurs
    with a few hundred of 54.5k items, and choosing among those, not among a dense column of every item,
    took the fit from 65 s to seconds.
    """
    n_items = X.shape[1]
    X = sparse.csr_matrix(X, dtype=np.float32)
    XT = sparse.csr_matrix(X.T)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=0)).ravel()).astype(np.float32)
    k = min(neighbors, n_items - 1)
    block = max(1, _BLOCK_BYTES // (4 * max(n_items, 1)))
    rows, cols, vals = [], [], []
    for lo in range(0, n_items, block) if k > 0 else ():
        hi = min(lo + block, n_items)
        sims = sparse.csr_matrix(XT[lo:hi] @ X)  # (items j of the block, every item h)
        sims.sort_indices()
        j = lo + _stored_rows(sims)
        h = sims.indices
        sims.data /= norms[h] * norms[j] + shrink + 1e-12
        sims.data[h == j] = 0.0  # an item is not its own neighbour
        order = np.lexsort((h, -sims.data, j))  # per item j: most similar first, then lowest index
        rank = np.arange(len(order)) - sims.indptr[j[order] - lo]
        keep = order[(rank < k) & (sims.data[order] > 0)]
        rows.append(h[keep])
        cols.append(j[keep])
        vals.append(sims.data[keep])
        if progress:
            progress(hi / n_items, f"similarities {hi:,}/{n_items:,} items")
    if not rows:
        return sparse.csr_matrix((n_items, n_items), dtype=np.float32)
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(n_items, n_items), dtype=np.float32)


def user_neighbour_scores(user_items: sparse.csr_matrix, user_norms: np.ndarray,
                          histories: list[np.ndarray], neighbors: int, shrink: float,
                          exclude_users: np.ndarray | None = None, dense: bool = True,
                          half_life: float | None = None) -> np.ndarray | sparse.csr_matrix:
    """Scores from the ``neighbors`` training users most similar to each history (cosine); a user tied
    with the ``neighbors``-th most similar one counts too. ``dense=False``: as a CSR matrix.
    ``half_life``: the history's items weigh ``recency_weight`` in the similarity (its latest items
    decide who the neighbours are).

    The similarities stay sparse: a short history shares items with few of the training users (on
    Amazon Beauty ~50 of 40k), and selecting the neighbours among those, not among a dense row of every
    user, made evaluating 40k histories ten times faster, with the same scores to the bit.
    """
    n_users, n_items = user_items.shape
    H = history_matrix(histories, n_items, half_life)
    h_norm = np.sqrt(np.asarray(H.multiply(H).sum(axis=1)).ravel())
    out = np.zeros((len(histories), n_items), np.float32) if dense else []
    chunk = max(1, _BLOCK_BYTES // (4 * max(n_users, n_items, 1)))
    k = min(neighbors, n_users)
    items_users = sparse.csr_matrix(user_items.T)
    for lo in range(0, len(histories), chunk):
        hi = min(lo + chunk, len(histories))
        sims = sparse.csr_matrix(H[lo:hi] @ items_users)
        sims.sort_indices()  # the product's summation order below then matches a dense row's
        rows = _stored_rows(sims)
        sims.data /= h_norm[lo:hi][rows] * user_norms[sims.indices] + shrink + 1e-12
        if exclude_users is not None:
            # a user is not their own neighbour
            sims.data[sims.indices == np.asarray(exclude_users[lo:hi])[rows]] = 0.0
        if k < n_users:
            sims.data[sims.data < _kth_largest(sims, rows, k)[rows]] = 0.0
        sims.eliminate_zeros()
        if dense:
            out[lo:hi] = (sims @ user_items).toarray()
        else:
            out.append(sparse.csr_matrix(sims @ user_items))
    if not dense:
        return sparse.vstack(out, format="csr") if out else sparse.csr_matrix((0, n_items), dtype=np.float32)
    return out


def _kth_largest(m: sparse.csr_matrix, rows: np.ndarray, k: int) -> np.ndarray:
    """Each row's k-th largest stored value; 0 where a row stores fewer than k (non-negative values)."""
    counts = np.diff(m.indptr)
    kth = np.zeros(m.shape[0], m.data.dtype)
    full = np.flatnonzero(counts >= k)
    if not len(full):
        return kth
    if m.nnz > m.shape[0] * m.shape[1] // 8:
        # Long histories (ml-100k) share items with most users: a dense partition is faster there.
        dense = m.toarray() if len(full) == m.shape[0] else m[full].toarray()
        kth[full] = -np.partition(-dense, k - 1, axis=1)[:, k - 1]
        return kth
    order = np.lexsort((-m.data, rows))  # by row, then largest first
    kth[full] = m.data[order[m.indptr[full] + k - 1]]
    return kth


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
    """User-based CF: the items of the ``neighbors`` training users closest to the history.

    The history's items weigh by recency in the similarity (``recency_half_life``, in interactions; None:
    all alike): on ml-100k's validation split a half-life of 3 gives NDCG@10 0.110 against 0.074
    unweighted (bench/tune.py), since the next item follows the latest ones. (50 neighbours with a
    shrink of 10 scored 0.111, within one run's noise; 20 read fewer users per list.)
    """


    def __init__(self, *, neighbors: int = 20, shrink: float = 0.0, recency_half_life: float | None = 3.0):
        self.neighbors = neighbors
        self.shrink = shrink
        self.recency_half_life = recency_half_life

    def fit(self, train: Dataset, *, valid=None, progress: Progress | None = None) -> "UserKNN":
        check_int("neighbors", self.neighbors)
        check_number("shrink", self.shrink)
        check_number("recency_half_life", self.recency_half_life, strict=True, optional=True)
        self.user_items_ = train.user_item_matrix()
        self.n_items_ = train.n_items
        self.user_norms_ = np.sqrt(np.asarray(self.user_items_.sum(axis=1)).ravel()).astype(np.float32)
        if progress:
            progress(1.0, "indexed users")
        return self

    def _score(self, histories, users):
        return user_neighbour_scores(self.user_items_, self.user_norms_, histories, self.neighbors,
                                     self.shrink, exclude_users=users, half_life=self.recency_half_life)


def _row_max_scaled(scores: sparse.csr_matrix, weight: float) -> sparse.csr_matrix:
    """weight × each row divided by its maximum (rows of zeros stay zero); non-negative scores."""
    scores = sparse.csr_matrix(scores, dtype=np.float32)
    top = scores.max(axis=1).toarray().ravel()[_stored_rows(scores)]
    scores.data = weight * np.divide(scores.data, top, out=np.zeros_like(scores.data), where=top > 0)
    return scores


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
        # Both parts stay sparse until they are summed: on a 54.5k-item catalogue, dense arithmetic on
        # rows of mostly zeros was more than half of the time of evaluating 40k users.
        item_based = history_matrix(histories, self.n_items_) @ self.weights_
        user_based = user_neighbour_scores(self.user_items_, self.user_norms_, histories,
                                           self.user_neighbors, self.shrink, exclude_users=users,
                                           dense=False)
        return (_row_max_scaled(item_based, self.alpha)
                + _row_max_scaled(user_based, 1 - self.alpha)).toarray()
