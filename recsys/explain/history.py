"""Why an item was recommended: the share of each history item in the item's score.

For models whose score is a sum over history items (ItemKNN, EASE) the shares are exact. For every other
model they are Shapley values computed with shap's permutation explainer over a *history-presence mask*:
a coalition is the history with the absent items removed (order kept), and the value of a coalition is
the model's score of the item for that shorter history. The values add up to
``score(full history) - score(empty history)``, whatever the budget.

Models with per-user parameters (MF-BPR, UserKNN's known users) are explained through their history
path (fold-in), since a learned user vector has no history items to credit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys.errors import DataError, ParameterError
from recsys.models.base import Recommender


@dataclass
class HistoryExplanation:
    """Each history item's contribution to one item's score."""

    item: int
    history: np.ndarray        # the explained history, oldest first
    values: np.ndarray         # contribution of each history position (same length as history)
    base_value: float          # the score with an empty history (0 for exact explanations)
    score: float               # base_value + values.sum()
    method: str                # "exact" or "shap-permutation"

    def frame(self, titles: pd.Series | None = None) -> pd.DataFrame:
        """One row per history position, the largest absolute contribution first."""
        out = pd.DataFrame({"position": np.arange(len(self.history)), "item": self.history,
                            "contribution": self.values})
        if titles is not None:
            out.insert(2, "title", titles.to_numpy()[self.history])
        return out.reindex(out["contribution"].abs().sort_values(ascending=False, kind="stable").index)

    def top(self, n: int = 3) -> np.ndarray:
        """Positions of the ``n`` largest positive contributions, largest first."""
        order = np.argsort(-self.values, kind="stable")
        return order[self.values[order] > 0][:n]


def shap_history(model: Recommender, history, item: int, **options) -> HistoryExplanation:
    """Explain ``item``'s score for ``history``; options as in ``explain_items``."""
    return explain_items(model, history, [item], **options)[0]


def explain_items(model: Recommender, history, items, *, permutations: int = 3,
                  max_evals: int | None = None, max_players: int | None = None, seed: int = 0,
                  exact: bool = True, batch_size: int = 256) -> list[HistoryExplanation]:
    """Explain the scores of several ``items`` for one ``history`` at once.

    ``exact`` uses a model's own ``contributions`` when it has them (ItemKNN, EASE). Otherwise shap's
    permutation explainer scores ``permutations`` antithetic permutations of the history, each
    2·players+1 model calls (``max_evals`` overrides the budget), and since a call scores every item,
    all ``items`` are explained by the same calls. Every permutation alone gives values that sum to the
    score; more of them average out the order effects of sequence models (the default of 3 keeps a
    200-item history under a second for GPT and BERT on 2 cores).

    ``max_players`` caps the players: the oldest items beyond it play as one group, and each of them
    is credited an even share of the group's value (the total stays exact). The Users page uses it to
    explain a whole list in a fraction of a second.
    """
    history = np.asarray(history)
    if history.ndim != 1:
        raise DataError("explain one history at a time (a 1-D array of item ids)")
    if not len(history):
        raise ParameterError("an empty history has nothing to explain: the score comes from the model "
                             "alone")
    history = model._check_histories([history])[0]
    items = np.atleast_1d(np.asarray(items, dtype=np.int64))
    bad = items[(items < 0) | (items >= model.n_items_)]
    if len(bad):
        raise DataError(f"unknown item id {int(bad[0])}: this model knows items 0..{model.n_items_ - 1}")

    if exact and hasattr(model, "contributions"):
        out = []
        for item in items:
            values = model.contributions(history, int(item))
            out.append(HistoryExplanation(int(item), history, values, 0.0, float(values.sum()), "exact"))
        return out

    import shap  # slow to import; only the permutation path needs it

    n = len(history)
    # player p covers history positions [starts[p], starts[p + 1]); only the first may hold a group
    grouped = 0 if max_players is None or n <= max_players else n - max(1, int(max_players)) + 1
    starts = np.concatenate([[0], np.arange(max(grouped, 1), n + 1)]) if grouped else np.arange(n + 1)
    players = len(starts) - 1
    owner = np.repeat(np.arange(players), np.diff(starts))
    minimum = 2 * players + 1
    budget = max(int(max_evals) if max_evals is not None else permutations * minimum, minimum)

    def value(masks: np.ndarray) -> np.ndarray:
        rows = [history[m.astype(bool)[owner]] for m in np.atleast_2d(masks)]
        return model.score(rows)[:, items].astype(np.float64)

    # Background: every item absent. The masker swaps a present player (1) for the background (0).
    masker = shap.maskers.Independent(np.zeros((1, players)), max_samples=1)
    explainer = shap.explainers.Permutation(value, masker, seed=seed)
    result = explainer(np.ones((1, players)), max_evals=budget, batch_size=batch_size, silent=True)
    per_player = np.asarray(result.values[0], dtype=np.float64).reshape(players, len(items))
    shares = (per_player / np.diff(starts)[:, None])[owner]         # (positions, items)
    bases = np.ravel(result.base_values)
    out = []
    for j, item in enumerate(items):
        values = shares[:, j].astype(np.float32)
        base = float(bases[j] if len(bases) > j else bases[0])
        out.append(HistoryExplanation(int(item), history, values, base,
                                      base + float(per_player[:, j].sum()), "shap-permutation"))
    return out


def because_you_watched(explanation: HistoryExplanation, titles: pd.Series, n: int = 3) -> str:
    """A one-line reason from the top positive contributions: "Because you watched A, B and C"."""
    top = explanation.top(n)
    if not len(top):
        return "No item in the history raises this score; the model recommends it on its own."
    names = [str(titles.iloc[explanation.history[p]]) for p in top]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"Because you watched {listed}"


@dataclass
class RemovalCheck:
    """Does removing the most-credited history item lower the score the most?"""

    position: int              # history position with the largest attribution
    drop: float                # score lost when that one item is removed
    rank: int                  # 1 = no other single removal lowers the score more
    drops: np.ndarray          # score lost by removing each position alone


def removal_check(model: Recommender, explanation: HistoryExplanation) -> RemovalCheck:
    """Remove each history item alone, rescore, and rank the drop of the top-attributed item."""
    history, item = explanation.history, explanation.item
    without = [np.delete(history, j) for j in range(len(history))]
    scores = model.score([history] + without)[:, item].astype(np.float64)
    drops = scores[0] - scores[1:]
    top = int(np.argmax(explanation.values))
    rank = 1 + int((drops > drops[top] + 1e-9 * max(1.0, abs(drops[top]))).sum())
    return RemovalCheck(top, float(drops[top]), rank, drops)
