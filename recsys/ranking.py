"""Turning score matrices into ranked lists: history masking and a deterministic top-k."""
from __future__ import annotations

import numpy as np

from recsys.data.ragged import Ragged
from recsys.errors import DataError, ParameterError


def mask_history(scores: np.ndarray, histories: list[np.ndarray] | Ragged) -> np.ndarray:
    """Set each row's history items to -inf, in place, and return ``scores``."""
    if isinstance(histories, Ragged):
        rows, cols = histories.row_ids(), histories.values
    else:
        lengths = np.fromiter((len(h) for h in histories), np.int64, count=len(histories))
        rows = np.repeat(np.arange(len(histories)), lengths)
        cols = np.concatenate(histories).astype(np.int64) if lengths.sum() else np.zeros(0, np.int64)
    scores[rows, cols] = -np.inf
    return scores


def item_filter(n_items: int, exclude=None, allowed=None) -> np.ndarray | None:
    """A boolean mask of the items a list may hold (None = all): ``allowed`` (a boolean mask over the
    catalogue, e.g. one genre) minus the ids in ``exclude``. Shared by ``recommend`` and
    ``ItemIndex.similar_items``."""
    if exclude is None and allowed is None:
        return None
    mask = np.ones(n_items, bool)
    if allowed is not None:
        allowed = np.asarray(allowed, bool)
        if allowed.shape != (n_items,):
            raise ParameterError(f"allowed must be a boolean mask over {n_items:,} items, got shape "
                                 f"{allowed.shape}")
        mask &= allowed
    if exclude is not None:
        exclude = np.asarray(list(exclude), np.int64)
        if len(exclude) and (exclude.min() < 0 or exclude.max() >= n_items):
            raise DataError(f"exclude holds unknown item ids: the catalogue is 0..{n_items - 1}")
        mask[exclude] = False
    return mask


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best items per row, best first; equal scores go to the smaller item id.

    The result does not depend on k: the first k of top_k(s, 20) equal top_k(s, k). Positions with a
    score of -inf (masked items, when k exceeds what is left) get item -1.
    """
    n, m = scores.shape
    k = min(k, m)
    if k < m:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        # argpartition picks arbitrarily among items tied with the k-th score; rows where such a tie
        # crosses the cut are re-ranked in full so that the smaller ids win.
        kth = np.take_along_axis(scores, part, axis=1).min(axis=1)
        tied = np.flatnonzero((scores >= kth[:, None]).sum(axis=1) > k)
        for lo in range(0, len(tied), 256):
            rows = tied[lo:lo + 256]
            full = np.lexsort((np.broadcast_to(np.arange(m), (len(rows), m)), -scores[rows]), axis=1)
            part[rows] = full[:, :k]
    else:
        part = np.broadcast_to(np.arange(m), (n, m))
    part_scores = np.take_along_axis(scores, part, axis=1)
    # lexsort's last key is primary: by score descending, then by item id.
    order = np.lexsort((part, -part_scores), axis=1)
    items = np.take_along_axis(part, order, axis=1).astype(np.int64)
    top = np.take_along_axis(part_scores, order, axis=1)
    items[~np.isfinite(top) & (top < 0)] = -1
    return items, top
