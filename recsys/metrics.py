"""Metrics as pure functions on small arrays.

Ranking metrics take ``hits`` — a bool array (n_users, K), true where the item at that rank is relevant —
and ``n_relevant`` (n_users,), and return one value per user; the evaluation loop averages them.
Beyond-accuracy metrics take recommendation lists (n_users, K) of item ids (-1 = no item).
Definitions follow RecBole's (Recall divides by the number of relevant items; NDCG's ideal DCG and MAP's
normaliser use min(n_relevant, K)).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def hit_rate(hits: np.ndarray, n_relevant: np.ndarray | None = None) -> np.ndarray:
    return hits.any(axis=1).astype(np.float64)


def precision(hits: np.ndarray, n_relevant: np.ndarray | None = None) -> np.ndarray:
    return hits.sum(axis=1) / hits.shape[1]


def recall(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    return hits.sum(axis=1) / np.maximum(n_relevant, 1)


def mrr(hits: np.ndarray, n_relevant: np.ndarray | None = None) -> np.ndarray:
    first = hits.argmax(axis=1)
    return np.where(hits.any(axis=1), 1.0 / (first + 1), 0.0)


def ndcg(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    k = hits.shape[1]
    disc = _discounts(k)
    dcg = hits @ disc
    ideal = np.concatenate(([0.0], np.cumsum(disc)))[np.minimum(n_relevant, k)]
    return np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)


def average_precision(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    k = hits.shape[1]
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return (precision_at * hits).sum(axis=1) / np.maximum(np.minimum(n_relevant, k), 1)


@dataclass(frozen=True)
class Metric:
    name: str
    fn: object
    higher_is_better: bool = True


RANKING_METRICS = {m.name: m for m in (
    Metric("hr", hit_rate), Metric("ndcg", ndcg), Metric("mrr", mrr), Metric("recall", recall),
    Metric("precision", precision), Metric("map", average_precision))}
BEYOND_METRICS = {m.name: m for m in (
    Metric("coverage", None), Metric("novelty", None), Metric("ild", None),
    Metric("mean_pop", None, higher_is_better=False), Metric("gini", None, higher_is_better=False))}
RATING_METRICS = {m.name: m for m in (
    Metric("mse", None, False), Metric("rmse", None, False), Metric("mae", None, False))}


# What a results table shows first (the headline accuracy at 10, then 20, beyond-accuracy, ratings).
LEADING = ("ndcg@10", "hr@10", "mrr@10", "recall@10", "ndcg@20", "hr@20", "coverage@10", "novelty@10",
           "ild@10", "mean_pop@10", "gini@10", "rmse", "mae")


def metric_columns(ks) -> list[str]:
    """Every ranking and beyond-accuracy metric at each K, in the order results list them."""
    return [f"{name}@{k}" for k in ks for name in (*RANKING_METRICS, *BEYOND_METRICS)]


def display_order(columns) -> list[str]:
    """The metric columns among ``columns`` in the order tables show them: ``LEADING`` first, then any
    other metric at any K, sorted. Other columns (timings, names) are left out."""
    columns = list(columns)
    first = [c for c in LEADING if c in columns]
    return first + sorted(c for c in columns if "@" in c and c not in first)


def higher_is_better(metric: str) -> bool:
    """For 'ndcg@10' and the like: whether a larger value is better."""
    base = metric.split("@")[0]
    for table in (RANKING_METRICS, BEYOND_METRICS, RATING_METRICS):
        if base in table:
            return table[base].higher_is_better
    raise KeyError(metric)


# -- beyond accuracy -----------------------------------------------------------------------------------
def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two vectors (0 when either is all zeros)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / denom) if denom > 0 else 0.0


def intra_list_diversity(lists: np.ndarray, features: sparse.spmatrix | np.ndarray) -> np.ndarray:
    """Per list: mean (1 - cosine) over pairs of its items' feature vectors (e.g. multi-hot genres).

    An item without features is at distance 1 from everything; lists with < 2 items give NaN.
    """
    feats = features.toarray() if sparse.issparse(features) else np.asarray(features)
    feats = feats.astype(np.float64)
    norms = np.linalg.norm(feats, axis=1, keepdims=True)
    unit = np.divide(feats, norms, out=np.zeros_like(feats), where=norms > 0)
    valid = lists >= 0
    vecs = unit[np.where(valid, lists, 0)] * valid[..., None]  # (n, K, f)
    sims = np.einsum("nkf,njf->nkj", vecs, vecs)
    pair = valid[:, :, None] & valid[:, None, :]
    pair &= ~np.eye(lists.shape[1], dtype=bool)[None]
    n_pairs = pair.sum(axis=(1, 2))
    dist = ((1.0 - sims) * pair).sum(axis=(1, 2))
    return np.divide(dist, n_pairs, out=np.full(len(lists), np.nan), where=n_pairs > 0)


def novelty(lists: np.ndarray, popularity: np.ndarray, n_users: int) -> np.ndarray:
    """Per list: mean self-information -log2(p_i), p_i the share of users who interacted with item i."""
    p = np.maximum(popularity, 1) / max(n_users, 1)
    info = -np.log2(p)
    valid = lists >= 0
    total = np.where(valid, info[np.where(valid, lists, 0)], 0.0).sum(axis=1)
    return np.divide(total, valid.sum(axis=1), out=np.full(len(lists), np.nan),
                     where=valid.sum(axis=1) > 0)


def mean_popularity(lists: np.ndarray, popularity: np.ndarray) -> np.ndarray:
    """Per list: the mean interaction count of its items (popularity bias)."""
    valid = lists >= 0
    total = np.where(valid, popularity[np.where(valid, lists, 0)], 0).sum(axis=1)
    return np.divide(total, valid.sum(axis=1), out=np.full(len(lists), np.nan),
                     where=valid.sum(axis=1) > 0)


def coverage(counts: np.ndarray) -> float:
    """Share of the catalogue recommended at least once; ``counts`` is per item."""
    return float((np.asarray(counts) > 0).mean()) if len(counts) else 0.0


def gini(counts: np.ndarray) -> float:
    """Gini index of how often each item is recommended: 0 = all equally, → 1 = always the same few."""
    x = np.sort(np.asarray(counts, np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    return float(((2 * np.arange(1, n + 1) - n - 1) * x).sum() / (n * total))


# -- ratings ----------------------------------------------------------------------------------------------
def mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    d = np.asarray(y_true, np.float64) - np.asarray(y_pred, np.float64)
    return float(np.mean(d * d))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.sqrt(mse(y_true, y_pred)))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(y_true, np.float64) - np.asarray(y_pred, np.float64))))
