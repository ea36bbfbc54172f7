"""Recommenders behind one contract (``recsys.models.base.Recommender``), found by name.

Importing this package registers every model module listed below.
"""
from recsys.models import popularity  # noqa: F401  (registers "pop")
from recsys.models.base import Recommender
from recsys.models.popularity import Popularity
from recsys.models.registry import get_model, load_model, model_class, model_names, register

__all__ = ["Recommender", "Popularity", "get_model", "load_model", "model_class", "model_names",
           "register"]
