"""Explanations: attention frames, history SHAP (exact where a model allows), feature SHAP, and the
"because you watched" line built from them."""
from recsys.explain.attention import attention_frame, attention_matrix
from recsys.explain.features import FeatureExplanation, feature_shap
from recsys.explain.history import (HistoryExplanation, RemovalCheck, because_you_watched,
                                   explain_items, removal_check, shap_history)

__all__ = ["attention_frame", "attention_matrix", "FeatureExplanation", "feature_shap",
           "HistoryExplanation", "RemovalCheck", "because_you_watched", "explain_items", "removal_check",
           "shap_history", "warm_up"]


def warm_up() -> None:
    """Compile shap's numba kernels (≈10 s, once per process) so the first real explanation is fast."""
    import numpy as np
    import shap

    masker = shap.maskers.Independent(np.zeros((1, 2)), max_samples=1)
    for model in (lambda m: m.sum(axis=1), lambda m: np.stack([m.sum(axis=1), m[:, 0]], axis=1)):
        shap.explainers.Permutation(model, masker, seed=0)(np.ones((1, 2)), max_evals=5, silent=True)
        shap.explainers.Exact(model, masker)(np.ones((1, 2)))
