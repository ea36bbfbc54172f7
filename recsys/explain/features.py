"""Feature SHAP: which user and item features moved the feature model's predicted rating.

The feature model (``recsys.models.features``) reads six features; shap's exact explainer enumerates
their 64 coalitions against a background of random (user, item) pairs, so the values are exact Shapley
values for that background and add up to ``prediction - base_value`` — what a waterfall plot shows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys.errors import ParameterError
from recsys.models.base import Recommender


@dataclass
class FeatureExplanation:
    names: list[str]
    shown: list[str]            # readable feature values ("M", "Comedy|Drama", ...)
    values: np.ndarray          # SHAP value per feature
    base_value: float           # mean prediction over the background
    prediction: float           # base_value + values.sum()

    def frame(self) -> pd.DataFrame:
        """Rows in waterfall order (largest |value| first) with the running total after each step."""
        out = pd.DataFrame({"feature": self.names, "value": self.shown, "shap": self.values})
        out = out.reindex(out["shap"].abs().sort_values(ascending=False, kind="stable").index)
        out["running"] = self.base_value + out["shap"].cumsum()
        return out.reset_index(drop=True)


def background(model, size: int = 100, seed: int = 0) -> np.ndarray:
    """Raw feature rows of random (user, item) pairs: what "no information" means for shap."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, len(model.user_age_), size)
    items = rng.integers(0, model.n_items_, size)
    return model.raw_features(users, items)


def feature_shap(model: Recommender, user: int | None, item: int, *, background_size: int = 100,
                 seed: int = 0) -> FeatureExplanation:
    """Explain the predicted rating of ``item`` for ``user`` (None = the average user)."""
    if not hasattr(model, "predict_raw"):
        raise ParameterError(f"{model.name} is not a feature model; feature SHAP needs 'features'")
    import shap

    from recsys.models.features import FEATURES

    row = model.raw_features(None if user is None else np.array([user]), np.array([item]))
    masker = shap.maskers.Independent(background(model, background_size, seed),
                                      max_samples=background_size)
    explainer = shap.explainers.Exact(model.predict_raw, masker, feature_names=FEATURES)
    result = explainer(row)
    values = np.asarray(result.values[0], np.float64)
    base = float(np.ravel(result.base_values)[0])
    return FeatureExplanation(list(FEATURES), model.describe(row[0]), values, base,
                              base + float(values.sum()))
