"""Attribution methods: how much of a recommended item's score each history item accounts for.

Every method takes a fitted model, one validated history and the items to explain, and returns an
``Attribution``: a (positions × items) array of credit, a standard error where the method samples, and
the settings it ran with. One batch of model calls explains a whole list, since a call scores every item.

- ``exact``: the model's own per-item terms, where its score is a sum over history items (ItemKNN, EASE,
  the Markov chain). Add up to the score.
- ``occlusion``: leave-one-out — the score lost when that one item is removed (order of the rest kept).
  n + 1 model calls; deterministic.
- ``shapley``: Shapley values by antithetic permutation sampling over which history items are present.
  Add up to score − empty-history score; the spread across permutation pairs gives a standard error.
- ``integrated-gradients``: for the transformers, the item embeddings scaled from zero to their value
  (positions kept), gradient × input summed over the embedding; deterministic.
- ``attention``: attention rollout (Abnar & Zuidema 2020) of the row that makes the recommendation — a
  baseline: the same for every item of the list, and not a measure of effect.

Which one a model gets by default was decided by ``bench/explain_quality.py`` (see ``DEFAULT_METHOD``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recsys.errors import ParameterError
from recsys.models.base import Recommender

METHODS = ("exact", "occlusion", "shapley", "integrated-gradients", "attention")
# How the app names each method, and what its numbers mean, in a sentence.
LABELS = {"exact": "exact terms", "occlusion": "leave-one-out occlusion", "shapley": "Shapley values",
          "integrated-gradients": "integrated gradients", "attention": "attention rollout",
          "none": "no history explanation"}
NOTES = {
    "exact": "The score is a sum over history items; these are its terms (they add up to the score).",
    "occlusion": "Each item's credit is the score lost when that one item is removed from the history.",
    "shapley": "Shapley values over which history items are present, from antithetic permutations; they "
               "add up to score − empty-history score. Error bars: one standard error.",
    "integrated-gradients": "Gradient × input along a path scaling each item's embedding from zero (the "
                            "transformer's part of the score: not a transition prior added to it).",
    "attention": "How much the scoring position attends to each item, through the layers: the same for "
                 "every recommended item, and not a measure of effect (a baseline).",
}
ADDITIVE = {"exact", "shapley"}  # credit adds up to the score (exact) or to score − empty score

# Chosen by bench/explain_quality.py on ml-100k (README, "Explanations"): occlusion wins the deletion
# curve for every model we measured and is deterministic; exact terms equal occlusion for the linear
# item-item models and are cheaper. Markov's exact terms are *not* its removal effects (removing an item
# shifts the decay of the older ones), so occlusion explains it more faithfully.
DEFAULT_METHOD = {"itemknn": "exact", "ease": "exact"}


@dataclass
class Attribution:
    values: np.ndarray                  # (positions, items) credit
    error: np.ndarray | None            # (positions, items) standard error, None when deterministic
    full: np.ndarray                    # (items,) score with the whole history
    empty: np.ndarray                   # (items,) where the credit starts: the empty-history score
                                        # (0 for exact terms, which add up to the score itself)
    method: str
    settings: dict = field(default_factory=dict)


def available_methods(model: Recommender) -> list[str]:
    """The methods that apply to a model, its default first."""
    out = [default_method(model)]
    if out == ["none"]:
        return out
    if hasattr(model, "contributions"):
        out.append("exact")
    out += ["occlusion", "shapley"]
    if hasattr(model, "integrated_gradients"):
        out.append("integrated-gradients")
    if hasattr(model, "attention"):
        out.append("attention")
    return list(dict.fromkeys(out))


def default_method(model: Recommender) -> str:
    """The model's method: "none" for a model whose score ignores the history."""
    if model.ignores_history:
        return "none"
    method = DEFAULT_METHOD.get(model.name, "occlusion")
    return method if method != "exact" or hasattr(model, "contributions") else "occlusion"


def credit_order(values: np.ndarray) -> np.ndarray:
    """Positions from the most to the least credited (ties: the more recent first)."""
    n = len(values)
    return np.lexsort((-np.arange(n), -np.asarray(values, np.float64)))


def scores_of(model: Recommender, histories: list[np.ndarray], items: np.ndarray,
              batch: int = 512) -> np.ndarray:
    """(len(histories), len(items)) scores, in batches so a long history's coalitions fit in memory."""
    out = np.empty((len(histories), len(items)), np.float64)
    for lo in range(0, len(histories), batch):
        out[lo:lo + batch] = model.score(histories[lo:lo + batch])[:, items]
    return out


def single_removals(model: Recommender, history: np.ndarray) -> np.ndarray:
    """Scores of every item for the whole history (row 0) and for the history without each position
    (row p + 1): what occlusion, the counterfactual search and the removal check all start from."""
    return model.score([history] + [np.delete(history, p) for p in range(len(history))])


def attribute(model: Recommender, history: np.ndarray, items: np.ndarray, method: str, *,
              seed: int = 0, pairs: int = 8, steps: int = 32,
              single: np.ndarray | None = None) -> Attribution:
    """Run one method; ``pairs`` (shapley's antithetic permutation pairs) and ``steps`` (integrated
    gradients' path points) are that method's budget. ``single`` (scores of the whole history and of
    each single removal, (n + 1, n_items)) saves occlusion its model calls when the caller has them."""
    if method not in METHODS:
        raise ParameterError(f"unknown explanation method {method!r}; choose one of {', '.join(METHODS)}")
    ends = scores_of(model, [history, history[:0]], items)
    full, empty = ends[0], ends[1]
    if method == "exact":
        if not hasattr(model, "contributions"):
            raise ParameterError(f"{model.name}'s score is not a sum over history items: no exact "
                                 "attribution; use occlusion or shapley")
        values = np.stack([model.contributions(history, int(i)) for i in items], axis=1)
        # The terms add up to the score itself: they start from 0, not from the empty-history score.
        return Attribution(values.astype(np.float64), None, full, np.zeros_like(full), method)
    if method == "occlusion":
        if single is None:
            single = single_removals(model, history)
        return Attribution(single[0, items][None, :] - single[1:, items].astype(np.float64), None,
                           full, empty, method)
    if method == "shapley":
        values, error = _permutation_shapley(model, history, items, full, empty, pairs, seed)
        return Attribution(values, error, full, empty, method, {"pairs": pairs, "seed": seed})
    if method == "integrated-gradients":
        if not hasattr(model, "integrated_gradients"):
            raise ParameterError(f"{model.name} has no item-embedding inputs to take gradients of")
        values = model.integrated_gradients(history, items, steps=steps)
        return Attribution(values.astype(np.float64), None, full, empty, method, {"steps": steps})
    if not hasattr(model, "attention"):
        raise ParameterError(f"{model.name} has no attention; only the transformer models do")
    weights = attention_rollout(model, history)
    return Attribution(np.repeat(weights[:, None], len(items), axis=1), None, full, empty, method)


def _permutation_shapley(model, history, items, full, empty, pairs: int, seed: int):
    """Antithetic permutation sampling (a permutation and its reverse form a pair, which cancels much of
    the order noise). Each permutation's marginals add up to full − empty exactly; the estimate is the
    mean over pairs and its standard error the spread of the pair means / sqrt(pairs)."""
    n, m = len(history), len(items)
    rng = np.random.default_rng(seed)
    pair_values = np.zeros((max(int(pairs), 1), n, m))
    for p in range(len(pair_values)):
        order = rng.permutation(n)
        for perm in (order, order[::-1]):
            joined = np.empty(n, np.int64)
            joined[perm] = np.arange(n)                     # when each position joins the coalition
            coalitions = [history[joined < k] for k in range(1, n)]
            path = np.vstack([empty[None], scores_of(model, coalitions, items), full[None]]) \
                if n > 1 else np.vstack([empty[None], full[None]])
            pair_values[p, perm] += 0.5 * np.diff(path, axis=0)
    values = pair_values.mean(axis=0)
    error = (pair_values.std(axis=0, ddof=1) / np.sqrt(len(pair_values)) if len(pair_values) > 1
             else np.full_like(values, np.nan))
    return values, error


def attention_rollout(model, history: np.ndarray) -> np.ndarray:
    """Attention rollout of the row that scores (GPT's last position, BERT's [MASK]) over the history
    positions; positions older than the model's window get 0. Rows of 0.5·A + 0.5·I, heads averaged,
    multiplied through the layers."""
    weights = model.attention(history).mean(axis=1)         # (layers, L, L)
    length = weights.shape[-1]
    rollout = np.eye(length)
    for layer in weights:
        step = 0.5 * layer + 0.5 * np.eye(length)
        rollout = (step / step.sum(axis=1, keepdims=True)) @ rollout
    tokens = model._inputs(history)
    read = int((tokens <= model.n_items_).sum())           # history tokens; BERT's [MASK] comes last
    out = np.zeros(len(history))
    out[len(history) - read:] = rollout[-1][:read]
    return out
