"""Full-ranking evaluation: every model ranks all items for every held-out user, history excluded.

Users are scored in batches sized to a memory budget, so a million users over tens of thousands of items
never need the full score matrix. Results keep per-user values (for paired comparisons and segments) next
to the means.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from recsys import metrics as M
from recsys.checks import check_positive_int
from recsys.data.dataset import Dataset
from recsys.data.ragged import Ragged
from recsys.errors import ParameterError
from recsys.progress import Progress
from recsys.ranking import mask_history, top_k
from recsys.split import HeldOut

if TYPE_CHECKING:                      # annotations only: the models import evaluate (early stopping)
    from recsys.models.base import Recommender

DEFAULT_K = (10, 20)
SCORE_BUDGET_BYTES = 256 * 2**20


@dataclass
class EvalResult:
    """Means in ``metrics`` ('ndcg@10': 0.07, ...); ``per_user`` holds the per-user ranking metrics
    (aligned with ``users``) and ``rank``, the 1-based rank of each user's first target item."""

    model: str
    protocol: str
    k: tuple[int, ...]
    metrics: dict[str, float]
    users: np.ndarray
    per_user: dict[str, np.ndarray] = field(repr=False)
    seconds: float = 0.0
    exclude_seen: bool = True
    candidates: str = "full ranking"
    lists: np.ndarray | None = field(default=None, repr=False)  # (users, max k) top items, -1 padded

    def to_dict(self) -> dict:
        return {"model": self.model, "protocol": self.protocol, "k": list(self.k),
                "candidates": self.candidates, "exclude_seen": self.exclude_seen,
                "n_users": int(len(self.users)), "seconds": round(self.seconds, 3),
                "metrics": {k: float(v) for k, v in self.metrics.items()}}

    def arrays(self) -> dict[str, np.ndarray]:
        """What the artifact store keeps next to a model: users, per-user metrics and top lists."""
        out = {"users": self.users, **self.per_user}
        if self.lists is not None:
            out["lists"] = self.lists
        return out


def _batch_size(n_items: int, budget: int = SCORE_BUDGET_BYTES) -> int:
    # Score matrix (float32) plus the relevance mask (bool) per row.
    return max(1, budget // (5 * max(n_items, 1)))


def evaluate(model: Recommender, heldout: HeldOut, train: Dataset, *, k=DEFAULT_K,
             exclude_seen: bool = True, protocol: str = "loo", batch_size: int | None = None,
             sampled: int | None = None, sampling: str = "uniform", seed: int = 0,
             known_users: bool = True, progress: Progress | None = None) -> EvalResult:
    """Rank all items for each held-out user and compute ranking and beyond-accuracy metrics at ``k``.

    ``known_users=False`` scores each user from their history alone, as a new or edited history is
    scored (and explained): models with per-user parameters fold the history in instead of using them.

    ``train`` supplies item popularity (novelty, popularity bias) and genres (intra-list diversity).

    ``sampled=N`` ranks each user's targets among only N negatives drawn per user (``sampling``
    "uniform" or "popularity", fixed ``seed``), as some papers did; it inflates every number and exists
    only to reproduce them. The default is full ranking over all items.
    """
    ks = tuple(sorted({int(x) for x in np.atleast_1d(k)}))
    if not ks or ks[0] <= 0:
        raise ParameterError(f"k must be positive integers, got {k!r}")
    if len(heldout) == 0:
        raise ParameterError("no held-out users to evaluate")
    start = time.perf_counter()
    n_items = train.n_items
    k_max = min(ks[-1], n_items)
    popularity = train.item_popularity()
    genres, _ = train.genre_matrix()
    has_genres = train.has_genres
    batch = batch_size or _batch_size(n_items)
    if sampled is not None:
        check_positive_int("sampled", sampled)
        if sampling not in ("uniform", "popularity"):
            raise ParameterError(f"sampling must be 'uniform' or 'popularity', got {sampling!r}")
        weights = popularity / popularity.sum() if sampling == "popularity" and popularity.sum() else None
        rng = np.random.default_rng(seed)

    per_user: dict[str, list[np.ndarray]] = {}
    lists: list[np.ndarray] = []
    counts = {kk: np.zeros(n_items, np.int64) for kk in ks}
    n = len(heldout)
    for lo in range(0, n, batch):
        hi = min(lo + batch, n)
        histories = heldout.histories.rows(lo, hi)
        targets = heldout.targets.take(np.arange(lo, hi))
        scores = model.score(histories, users=heldout.users[lo:hi] if known_users else None)
        if exclude_seen:
            mask_history(scores, histories)
        if sampled is not None:
            _keep_sampled(scores, histories, targets, sampled, rng, weights)
        items, hits = _top_hits(scores, targets, k_max)
        lists.append(items.astype(np.int32))
        n_rel = targets.lengths
        # Rank of the first target: 1 + the number of items scored strictly higher.
        first = targets.values[targets.indptr[:-1]]
        target_score = scores[np.arange(hi - lo), first]
        _append(per_user, "rank", (scores > target_score[:, None]).sum(axis=1) + 1)
        for kk in ks:
            h, top = hits[:, :kk], items[:, :kk]
            for name, metric in M.RANKING_METRICS.items():
                _append(per_user, f"{name}@{kk}", metric.fn(h, n_rel))
            _append(per_user, f"novelty@{kk}", M.novelty(top, popularity, train.n_users))
            # Without genres every pair would count as fully diverse (1.0): say nothing instead.
            _append(per_user, f"ild@{kk}", M.intra_list_diversity(top, genres) if has_genres
                    else np.full(len(top), np.nan))
            _append(per_user, f"mean_pop@{kk}", M.mean_popularity(top, popularity))
            counts[kk] += np.bincount(top[top >= 0], minlength=n_items)
        if progress:
            progress(hi / n, f"{hi:,}/{n:,} users")

    arrays = {name: np.concatenate(parts) for name, parts in per_user.items()}
    means = {name: _nanmean(values) for name, values in arrays.items() if name != "rank"}
    for kk in ks:
        means[f"coverage@{kk}"] = M.coverage(counts[kk])
        means[f"gini@{kk}"] = M.gini(counts[kk])
    ordered = {name: means[name] for name in M.metric_columns(ks) if name in means}
    return EvalResult(model=getattr(model, "name", type(model).__name__), protocol=protocol, k=ks,
                      metrics=ordered, users=heldout.users.copy(), per_user=arrays,
                      seconds=time.perf_counter() - start, exclude_seen=exclude_seen,
                      candidates="full ranking" if sampled is None else
                      f"sampled: {sampled} {sampling} negatives (seed {seed})",
                      lists=np.concatenate(lists))


def _relevant(shape: tuple[int, int], targets: Ragged) -> np.ndarray:
    """A boolean (rows, items) mask of each row's targets."""
    relevant = np.zeros(shape, dtype=bool)
    relevant[targets.row_ids(), targets.values] = True
    return relevant


def _top_hits(scores: np.ndarray, targets: Ragged, k: int,
              relevant: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each row's top ``k`` items (-1 padded) and whether each is one of the row's targets (``relevant``,
    their mask, when the caller already has it)."""
    items, _ = top_k(scores, k)
    if relevant is None:
        relevant = _relevant(scores.shape, targets)
    valid = items >= 0
    return items, relevant[np.arange(len(scores))[:, None], np.where(valid, items, 0)] & valid


def ndcg_of_sums(parts: Callable[[list[np.ndarray]], tuple[np.ndarray, list[np.ndarray]]],
                 heldout: HeldOut, weights, *, n_items: int, k: int = 10) -> list[list[float]]:
    """Mean NDCG@k over ``heldout`` (full ranking, history excluded, as ``evaluate``) of the scores
    a + w·b for each candidate b and each w of ``weights``, where ``parts(histories)`` gives a batch's
    a and its list of b's; one row of NDCG@k per b, one column per weight.

    One pass of a costly scorer (a) serves every pair: how a product of experts picks its second
    expert's settings and weight (``recsys.models.sequential``'s transition prior)."""
    if len(heldout) == 0:
        raise ParameterError("no held-out users to evaluate")
    totals = None
    n, batch = len(heldout), _batch_size(n_items)
    for lo in range(0, n, batch):
        hi = min(lo + batch, n)
        histories = heldout.histories.rows(lo, hi)
        targets = heldout.targets.take(np.arange(lo, hi))
        a, candidates = parts(histories)
        # Masked once: a seen item's -inf stays -inf whatever finite w·b is added to it.
        mask_history(a, histories)
        relevant = _relevant(a.shape, targets)
        totals = np.zeros((len(candidates), len(weights))) if totals is None else totals
        for i, b in enumerate(candidates):
            for j, w in enumerate(weights):
                if not w and i:  # a alone is the same for every candidate: scored with the first
                    totals[i, j] = totals[0, j]
                    continue
                # In float32, as the model's own score adds them (w · b, then the sum).
                scores = a + np.float32(w) * b if w else a
                _, hits = _top_hits(scores, targets, k, relevant)
                totals[i, j] += M.ndcg(hits, targets.lengths).sum()
    return (totals / n).tolist()


def _keep_sampled(scores, histories, targets, n: int, rng, weights) -> None:
    """Set every item to -inf except each row's targets and ``n`` sampled negatives (items outside the
    row's history and targets), in place."""
    n_items = scores.shape[1]
    keep = np.zeros(scores.shape, dtype=bool)
    for j, h in enumerate(histories):
        banned = np.zeros(n_items, bool)
        banned[np.asarray(h, np.int64)] = True
        banned[targets[j]] = True
        pool = np.flatnonzero(~banned)
        p = None if weights is None else weights[pool] / weights[pool].sum()
        keep[j, rng.choice(pool, min(n, len(pool)), replace=False, p=p)] = True
        keep[j, targets[j]] = True
    scores[~keep] = -np.inf


def _nanmean(values: np.ndarray) -> float:
    """The mean over defined values (ILD is undefined for one-item lists): NaN if none."""
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if len(defined) else float("nan")


def _append(store: dict, key: str, values: np.ndarray) -> None:
    store.setdefault(key, []).append(np.asarray(values, dtype=np.float64))


def results_frame(results: list[EvalResult]) -> pd.DataFrame:
    """One row per model, one column per metric."""
    return pd.DataFrame([{"model": r.model, **r.metrics, "eval_seconds": r.seconds} for r in results]
                        ).set_index("model")
