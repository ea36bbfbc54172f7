"""First-order Markov chain: the next item depends on the last one(s).

Transition counts T[i, j] (how often j directly follows i in a user's time-ordered training sequence)
are smoothed toward popularity, P(j | i) = (T[i, j] + beta · pop(j)) / (T[i, ·] + beta), so an item
never seen as a predecessor falls back to what is popular. A history is scored from its last ``window``
items, the most recent weighing most (each step back multiplies the weight by ``decay``). With
``steps`` > 1, T also counts the items that follow up to ``steps`` places later, ``step_decay`` per place.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from recsys.checks import check_int, check_number
from recsys.data.dataset import Dataset
from recsys.models.base import Recommender
from recsys.models.registry import register
from recsys.progress import Progress


@register("markov")
class MarkovChain(Recommender):

    def __init__(self, *, window: int = 20, decay: float = 0.8, beta: float = 50.0, steps: int = 1,
                 step_decay: float = 0.7):
        self.window = window
        self.decay = decay
        self.beta = beta
        self.steps = steps
        self.step_decay = step_decay

    def fit(self, train: Dataset, *, valid=None, progress: Progress | None = None) -> "MarkovChain":
        check_int("window", self.window)
        check_number("decay", self.decay, strict=True, maximum=1.0)
        check_number("beta", self.beta)
        check_int("steps", self.steps)
        check_number("step_decay", self.step_decay, strict=True, maximum=1.0)
        self.transitions_, self.out_degree_, self.popularity_ = fit_transitions(
            train, steps=self.steps, step_decay=self.step_decay)
        self.n_items_ = train.n_items
        if progress:
            progress(1.0, f"{int(self.out_degree_.sum()):,} transitions")
        return self

    def _score(self, histories, users):
        return transition_scores(self.transitions_, self.out_degree_, self.popularity_, histories,
                                 window=self.window, decay=self.decay, beta=self.beta)

    def contributions(self, history, item: int) -> np.ndarray:
        """Each history position's term in ``item``'s score (they add up to it): decay^steps back ·
        P(item | that position's item) for the last ``window`` positions, 0 for older ones.

        These are the score's terms, not removal effects: removing one item moves every older item a
        step closer, so its weight grows (recsys.explain compares both on the deletion curve)."""
        self._check_fitted()
        history = self._check_histories([history])[0]
        out = np.zeros(len(history), np.float32)
        recent = history[::-1][: self.window]
        if not len(recent):
            return out
        counts = np.asarray(self.transitions_[recent][:, [item]].todense()).ravel()
        terms = (self.decay ** np.arange(len(recent)) * (counts + self.beta * self.popularity_[item])
                 / (self.out_degree_[recent] + self.beta + 1e-12))
        out[len(history) - len(recent):] = terms[::-1]
        return out


def fit_transitions(train: Dataset, *, steps: int = 1,
                    step_decay: float = 0.7) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """The chain's state: transition counts T (n_items × n_items), each item's out-degree, and the
    popularity share the probabilities are smoothed toward.

    With ``steps`` > 1 an item also counts toward the ones that follow it up to ``steps`` places later,
    ``step_decay`` per place (1, 0.7, 0.49 for 3 steps at 0.7): on sparse catalogues, where most pairs
    are seen once or never, "bought soon after" is evidence too (the transformers' prior uses it)."""
    n = train.n_items
    src, dst, weight = [], [], []
    for step in range(1, steps + 1):
        # Interactions are sorted by user then time: rows ``step`` apart of one user are transitions.
        same_user = train.user[step:] == train.user[:-step]
        src.append(train.item[:-step][same_user])
        dst.append(train.item[step:][same_user])
        weight.append(np.full(int(same_user.sum()), step_decay ** (step - 1), np.float32))
    src, dst, weight = (np.concatenate(a) for a in (src, dst, weight))
    counts = sparse.csr_matrix((weight, (src, dst)), shape=(n, n))
    counts.sum_duplicates()
    out_degree = np.asarray(counts.sum(axis=1)).ravel().astype(np.float32)
    pop = train.item_popularity().astype(np.float32)
    return counts, out_degree, pop / max(pop.sum(), 1.0)


def transition_scores(transitions: sparse.csr_matrix, out_degree: np.ndarray, popularity: np.ndarray,
                      histories: list[np.ndarray], *, window: int, decay: float, beta: float) -> np.ndarray:
    """P(next item) for each history (len(histories), n_items): the chain's score, also the transition
    prior of the transformers (``recsys.models.sequential``)."""
    # Sum over the last ``window`` steps s of decay^s · P(j | i_s), with P smoothed toward popularity:
    # (T[i_s, j] + beta·pop(j)) / (deg(i_s) + beta). Both terms are one sparse product per batch.
    rows, cols, weights = [], [], []
    for j, h in enumerate(histories):
        recent = h[::-1][:window]
        rows.append(np.full(len(recent), j))
        cols.append(recent)
        weights.append(decay ** np.arange(len(recent)))
    rows, cols, w = (np.concatenate(a) if a else np.zeros(0) for a in (rows, cols, weights))
    w = w / (out_degree[cols.astype(np.int64)] + beta + 1e-12)
    n_items = len(popularity)
    steps = sparse.csr_matrix((w.astype(np.float32), (rows.astype(np.int64), cols.astype(np.int64))),
                              shape=(len(histories), n_items))
    out = (steps @ transitions).toarray()
    pop_weight = beta * np.asarray(steps.sum(axis=1)).ravel()
    out += pop_weight[:, None] * popularity[None, :]
    empty = np.array([len(h) == 0 for h in histories], dtype=bool)
    out[empty] = popularity
    return out
