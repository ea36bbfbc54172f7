"""Re-ranking a model's candidates for diversity (MMR) and against popularity.

Maximal marginal relevance (Carbonell & Goldstein, 1998) picks, one at a time, the candidate with the
best ``lam · relevance − (1 − lam) · max similarity to the items already picked``; ``lam = 1`` keeps the
model's order. Relevance is the model's score min-max scaled over the candidates, minus
``popularity_penalty`` times the candidate's scaled log popularity. Similarity is the cosine of item
vectors — genre vectors by default, so the diversity gained is the one ILD@k measures.
"""
from __future__ import annotations

import numpy as np

from recsys.checks import check_positive_int
from recsys.errors import ParameterError


def _scaled(x: np.ndarray) -> np.ndarray:
    if not len(x):  # a filter can leave no candidate at all
        return x
    span = x.max() - x.min()
    return np.zeros_like(x) if span <= 0 or not np.isfinite(span) else (x - x.min()) / span


def reorders(lam: float, popularity_penalty: float) -> bool:
    """Whether these settings can move items away from the model's order (else the list is the model's)."""
    return lam < 1.0 or bool(popularity_penalty)


def rerank(items: np.ndarray, scores: np.ndarray, k: int, *, vectors: np.ndarray | None = None,
           lam: float = 1.0, popularity: np.ndarray | None = None, popularity_penalty: float = 0.0
           ) -> tuple[np.ndarray, np.ndarray]:
    """The re-ranked top-``k`` of the candidates ``items`` (with their model ``scores``), and the
    adjusted relevance of each pick. Candidates padded with -1 are ignored."""
    check_positive_int("k", k)
    if not 0.0 <= lam <= 1.0:
        raise ParameterError(f"lam must be between 0 and 1, got {lam}")
    if popularity_penalty < 0:
        raise ParameterError(f"popularity_penalty must be >= 0, got {popularity_penalty}")
    items, scores = np.asarray(items), np.asarray(scores, np.float64)
    keep = items >= 0
    items, scores = items[keep], scores[keep]
    relevance = _scaled(scores)
    if popularity is not None and popularity_penalty:
        relevance = relevance - popularity_penalty * _scaled(np.log1p(popularity[items].astype(float)))
    if lam >= 1.0 or vectors is None:
        order = np.argsort(-relevance, kind="stable")[:k]
        return items[order], relevance[order]
    v = vectors[items].astype(np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    v = np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)
    sim = v @ v.T
    picked: list[int] = []
    closest = np.zeros(len(items))  # max similarity of each candidate to what is picked
    available = np.ones(len(items), bool)
    for _ in range(min(k, len(items))):
        gain = np.where(available, lam * relevance - (1 - lam) * closest, -np.inf)
        j = int(np.argmax(gain))
        picked.append(j)
        available[j] = False
        closest = np.maximum(closest, sim[j])
    picked = np.array(picked, dtype=np.int64)
    return items[picked], relevance[picked]


def recommend_reranked(model, history, k: int = 10, *, users=None, lam: float = 1.0,
                       vectors: np.ndarray | None = None, popularity: np.ndarray | None = None,
                       popularity_penalty: float = 0.0, pool: int | None = None, exclude=None,
                       allowed=None) -> tuple[np.ndarray, np.ndarray]:
    """A model's top-``k`` for one history, re-ranked from its top ``pool`` candidates (default 5·k,
    at least 50). Returns the items and the model's own scores for them; with ``lam=1`` and no
    penalty it is exactly ``model.recommend``. ``exclude`` / ``allowed`` filter the candidates as in
    ``recommend``."""
    check_positive_int("k", k)
    if not reorders(lam, popularity_penalty):
        return model.recommend(history, k=k, users=users, exclude=exclude, allowed=allowed)
    candidates, scores = model.recommend(history, k=pool or max(5 * k, 50), users=users,
                                         exclude=exclude, allowed=allowed)
    items, _ = rerank(candidates, scores, k, vectors=vectors, lam=lam, popularity=popularity,
                      popularity_penalty=popularity_penalty)
    by_item = dict(zip(candidates.tolist(), scores.tolist()))
    return items, np.array([by_item[i] for i in items.tolist()], np.float32)
