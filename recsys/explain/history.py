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


def shap_history(model: Recommender, history, item: int, *, permutations: int = 3,
                 max_evals: int | None = None, seed: int = 0, exact: bool = True,
                 batch_size: int = 256) -> HistoryExplanation:
    """Explain ``item``'s score for ``history``.

    ``exact`` uses a model's own ``contributions`` when it has them (ItemKNN, EASE). Otherwise shap's
    permutation explainer scores ``permutations`` antithetic permutations of the history, each
    2·len(history)+1 model calls (``max_evals`` overrides the budget). Every permutation alone gives
    values that sum to the score; more of them average out the order effects of sequence models (the
    default of 3 keeps a 200-item history under a second for GPT and BERT on 2 cores).
    """
    history = np.asarray(history, dtype=np.int64)
    if history.ndim != 1:
        raise DataError("explain one history at a time (a 1-D array of item ids)")
    if not len(history):
        raise ParameterError("an empty history has nothing to explain: the score comes from the model "
                             "alone")
    history = model._check_histories([history])[0]
    if not 0 <= int(item) < model.n_items_:
        raise DataError(f"unknown item id {item}: this model knows items 0..{model.n_items_ - 1}")
    item = int(item)

    if exact and hasattr(model, "contributions"):
        values = model.contributions(history, item)
        return HistoryExplanation(item, history, values, 0.0, float(values.sum()), "exact")

    import shap  # slow to import; only the permutation path needs it

    n = len(history)
    minimum = 2 * n + 1
    budget = max(int(max_evals) if max_evals is not None else permutations * minimum, minimum)

    def value(masks: np.ndarray) -> np.ndarray:
        rows = [history[m.astype(bool)] for m in np.atleast_2d(masks)]
        return model.score(rows)[:, item].astype(np.float64)

    # Background: every item absent. The masker swaps a present item (1) for the background (0).
    masker = shap.maskers.Independent(np.zeros((1, n)), max_samples=1)
    explainer = shap.explainers.Permutation(value, masker, seed=seed)
    result = explainer(np.ones((1, n)), max_evals=budget, batch_size=batch_size, silent=True)
    values = np.asarray(result.values[0], dtype=np.float32)
    base = float(np.ravel(result.base_values)[0])
    return HistoryExplanation(item, history, values, base, base + float(values.sum()),
                              "shap-permutation")


def because_you_watched(explanation: HistoryExplanation, titles: pd.Series, n: int = 3) -> str:
    """A one-line reason from the top positive contributions: "Because you watched A, B and C"."""
    top = explanation.top(n)
    if not len(top):
        return "No item in the history raises this score; the model recommends it on its own."
    names = [str(titles.iloc[explanation.history[p]]) for p in top]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"Because you watched {listed}"
