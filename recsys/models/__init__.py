"""Recommenders behind one contract (``recsys.models.base.Recommender``), found by name.

Importing this package registers every model module listed below.
"""
# Each module registers its models on import.
from recsys.models import bert, content, ease, features, gpt, knn, markov, mf, popularity  # noqa: F401
from recsys.models.base import Recommender
from recsys.models.bert import BERT4Rec
from recsys.models.content import ContentModel
from recsys.models.ease import EASE
from recsys.models.gpt import GPT
from recsys.models.knn import HybridCF, ItemKNN, UserKNN
from recsys.models.markov import MarkovChain
from recsys.models.mf import BPR, RatingMF
from recsys.models.popularity import Popularity
from recsys.models.registry import get_model, load_model, model_class, model_names, register

__all__ = ["Recommender", "Popularity", "ItemKNN", "UserKNN", "HybridCF", "EASE",
           "MarkovChain", "BPR", "RatingMF", "GPT",
           "BERT4Rec", "ContentModel", "get_model", "load_model", "model_class", "model_names",
           "register"]
