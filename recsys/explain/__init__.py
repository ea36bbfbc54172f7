"""Explanations: one explanation object per (model, history, item) with its method, settings,
uncertainty and a verified counterfactual; quality measures per case; sentences; attention frames and
feature SHAP."""
from recsys.explain.attention import attention_frame, attention_matrix
from recsys.explain.counterfactual import Counterfactual
from recsys.explain.features import FeatureExplanation, feature_shap
from recsys.explain.history import HistoryExplanation, explain_items, shap_history
from recsys.explain.methods import METHODS, available_methods, default_method
from recsys.explain.quality import RemovalCheck, removal_check
from recsys.explain.text import (because_you_watched, counterfactual_sentence, list_reasons,
                                 natural_title, natural_titles)

__all__ = ["attention_frame", "attention_matrix", "Counterfactual", "FeatureExplanation", "feature_shap",
           "HistoryExplanation", "explain_items", "shap_history", "METHODS", "available_methods",
           "default_method", "RemovalCheck", "removal_check", "because_you_watched",
           "counterfactual_sentence", "list_reasons", "natural_title", "natural_titles"]

