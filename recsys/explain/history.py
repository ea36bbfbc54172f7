"""Why an item was recommended: each history item's credit in the item's score, one explanation object.

``explain_items`` is the one function every reader goes through (the Users and Explanations pages, their
check, the CSV download, the precomputed store): it runs the attribution method that fits the model
(``recsys.explain.methods``; the per-model default was chosen by measurement), finds a verified
counterfactual per item (``recsys.explain.counterfactual``), and returns ``HistoryExplanation`` objects
that name their method, settings and uncertainty.

A model that ranks known users by a learned vector (``per_user_parameters``: rating MF or MF-BPR with
``user_vectors=True``, Bayesian MF with Thompson sampling) is explained through its history path
(fold-in), since a learned user vector has no history items to credit; the defaults of the three rank
every list from the history (the two rating models with the ratings the user gave), so their lists are
the ones explained.
"""
from __future__ import annotations

import functools

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from recsys.errors import DataError, ParameterError
from recsys.explain.counterfactual import Counterfactual, counterfactuals, excluded_mask, ranks_in
from recsys.explain.methods import ADDITIVE, attribute, credit_order, default_method, single_removals
from recsys.models.base import Recommender


@dataclass
class HistoryExplanation:
    """Each history item's credit in one item's score, with how it was computed."""

    item: int
    history: np.ndarray        # the explained history, oldest first
    values: np.ndarray         # credit of each history position (same length as history)
    base_value: float          # where the credit starts: the empty-history score (0 for exact terms)
    score: float               # the score with the whole history
    method: str                # "exact", "occlusion", "shapley", "integrated-gradients", "attention",
                               # or "none" (the model ignores the history; settings["reason"] says why)
    settings: dict = field(default_factory=dict)
    error: np.ndarray | None = None            # standard error per position; None = deterministic
    rank: int | None = None                    # the item's rank for this history (seen items excluded)
    counterfactual: Counterfactual | None = None

    def settled(self, fact: Counterfactual) -> "HistoryExplanation":
        """This explanation with the counterfactual ``counterfactual.decide`` settled, marked in its
        settings (the sentence then names the branch and bound as the proof)."""
        return replace(self, counterfactual=fact, settings={**self.settings, "settled": "by branch and bound"})

    @property
    def additive(self) -> bool:
        """True when the credit adds up (to the score, or to score − empty-history score)."""
        return self.method in ADDITIVE

    @property
    def uncertainty(self) -> str:
        if self.error is None:
            return "deterministic (no sampling error)"
        return f"sampled: largest standard error {float(np.nanmax(self.error)) if len(self.error) else 0:.3g}"

    def frame(self, titles: pd.Series | None = None) -> pd.DataFrame:
        """One row per history position, the largest absolute credit first."""
        out = pd.DataFrame({"position": np.arange(len(self.history)), "item": self.history,
                            "contribution": self.values})
        if self.error is not None:
            out["error"] = self.error
        if titles is not None:
            out.insert(2, "title", titles.to_numpy()[self.history])
        return out.reindex(out["contribution"].abs().sort_values(ascending=False, kind="stable").index)

    def top(self, n: int = 3) -> np.ndarray:
        """Positions of the ``n`` largest positive credits, largest first. With a sampling error, only
        credit clearly above zero (more than two standard errors) counts."""
        floor = np.zeros(len(self.values)) if self.error is None else \
            2 * np.nan_to_num(self.error, nan=np.inf)
        order = credit_order(self.values)
        return order[self.values[order] > floor[order]][:n]


# ``settings["path"]`` of a model with per-user vectors (MF): explained through its folded-in history.
FOLDED_IN = "folded-in history (the learned user vector has no items to credit)"


class KnownUser:
    """A model that scores every history as one known user's (UserKNN leaves that user out of their
    own neighbours), so explanations and their checks rank items as the user's list does."""

    def __init__(self, model: Recommender, user: int):
        self.model, self.user = model, int(user)

    def score(self, histories, users=None) -> np.ndarray:
        return self.model.score(histories, users=np.full(len(histories), self.user))

    def __getattr__(self, name):
        value = getattr(self.model, name)
        # Bounds on what removals can do depend on whose list it is (Bayesian MF folds in their ratings).
        return functools.partial(value, user=self.user) if name == "lead_terms" else value


def bind_user(model: Recommender, user: int | None):
    """``model`` scoring as ``user`` where the user's identity changes a history's score without
    replacing it; models with per-user parameters are explained through their history (fold-in)."""
    if user is None or model.per_user_parameters or isinstance(model, KnownUser):
        return model
    return KnownUser(model, user)


def shap_history(model: Recommender, history, item: int, **options) -> HistoryExplanation:
    """One item's explanation; options as in ``explain_items``."""
    return explain_items(model, history, [item], **options)[0]


def explain_items(model: Recommender, history, items, *, user: int | None = None,
                  method: str | None = None, seed: int = 0,
                  counterfactual: bool = True, cutoff: int = 10, max_removals: int = 10,
                  pairs: int = 8, steps: int = 32, hidden=None) -> list[HistoryExplanation]:
    """Explain the scores of several ``items`` for one ``history`` (ids, oldest first).

    ``user`` (a known user's index) makes UserKNN-like models score as that user's list does; models
    with per-user parameters (MF) are explained through their folded-in history whatever ``user`` is.
    ``method`` defaults to the model's (``methods.default_method``). ``counterfactual`` searches, per
    item, the smallest set of up to ``max_removals`` history items whose removal ranks it below
    ``cutoff``. ``pairs`` is shapley's budget (antithetic permutation pairs; the standard error shrinks
    as 1/sqrt(pairs)), ``steps`` integrated gradients'. ``seed`` matters for shapley only.
    ``hidden``: a mask of the items a filtered list cannot show (a genre, years, exclusions); ranks,
    and so counterfactuals, are then among the items it can show, as the list was ranked.
    """
    history = np.asarray(history)
    if history.ndim != 1:
        raise DataError("explain one history at a time (a 1-D array of item ids)")
    if not len(history):
        raise ParameterError("an empty history has nothing to explain: the score comes from the model "
                             "alone")
    history = model._check_histories([history])[0]
    model = bind_user(model, user)
    items = np.atleast_1d(np.asarray(items, dtype=np.int64))
    bad = items[(items < 0) | (items >= model.n_items_)]
    if len(bad):
        raise DataError(f"unknown item id {int(bad[0])}: this model knows items 0..{model.n_items_ - 1}")
    if not len(items):
        return []
    excluded = excluded_mask(model.n_items_, history)
    if hidden is not None:
        hidden = np.asarray(hidden, bool)
        if hidden.shape != excluded.shape:
            raise ParameterError(f"hidden must mark each of the {model.n_items_} items, "
                                 f"got shape {hidden.shape}")
        excluded |= hidden
    if model.ignores_history:
        whole = model.score([history]).repeat(len(items), axis=0)
        ranks, scores = ranks_in(whole, items, excluded), whole[0, items]
        return [HistoryExplanation(int(i), history, np.zeros(len(history), np.float32), float(s), float(s),
                                   "none", {"reason": model.ignores_history}, None, int(r),
                                   # The score does not read the history: no removal can move it.
                                   Counterfactual(np.zeros(0, np.int64), False, int(r), int(r),
                                                  max(cutoff, int(r)), max_removals, 0, proved_none=True))
                for i, s, r in zip(items, scores, ranks)]
    method = method or default_method(model)
    single = single_removals(model, history) if counterfactual or method == "occlusion" else None
    found = attribute(model, history, items, method, seed=seed, pairs=pairs, steps=steps, single=single)
    settings = {**found.settings, "path": FOLDED_IN if model.per_user_parameters else "history"}
    if counterfactual:
        facts = counterfactuals(model, history, items, found.values, cutoff=cutoff,
                                max_removals=max_removals, excluded=excluded, single=single)
        ranks = [f.rank_before for f in facts]
    else:
        facts = [None] * len(items)
        ranks = ranks_in(model.score([history]).repeat(len(items), axis=0), items, excluded).tolist()
    out = []
    for j, item in enumerate(items):
        error = None if found.error is None else found.error[:, j].astype(np.float32)
        out.append(HistoryExplanation(int(item), history, found.values[:, j].astype(np.float32),
                                      float(found.empty[j]), float(found.full[j]), method, settings,
                                      error, int(ranks[j]), facts[j]))
    return out
