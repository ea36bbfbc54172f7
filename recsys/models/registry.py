"""Models by name: ``get_model("pop", **params)`` builds one; ``BUILTIN`` is the one table of built-in
models (adding a model is one row here and ``@register(name)`` on its class).

The built-in models' modules are imported when a model is first asked for, so listing names or reading
artifacts' manifests does not import torch (about 2 s — most of the app's first-render time).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from recsys.errors import ParameterError


@dataclass(frozen=True)
class Builtin:
    module: str          # under recsys.models
    cls: str             # the class, importable as recsys.models.<cls>
    label: str           # how the app and the README name it
    default: bool        # built by `make build` and shown by the app unless $RECLENS_MODELS says otherwise
                         # (GPT and BERT4Rec take 2-4 minutes each on 2 cores; the rest take seconds)


_REGISTRY: dict[str, type] = {}
# In the order the app lists the default models.
BUILTIN = {
    "pop": Builtin("popularity", "Popularity", "Popularity", True),
    "itemknn": Builtin("knn", "ItemKNN", "ItemKNN", True),
    "userknn": Builtin("knn", "UserKNN", "UserKNN", True),
    "hybridcf": Builtin("knn", "HybridCF", "Hybrid CF", True),
    "markov": Builtin("markov", "MarkovChain", "Markov chain", True),
    "ease": Builtin("ease", "EASE", "EASE", True),
    "bpr": Builtin("mf", "BPR", "MF (BPR)", True),
    "ratingmf": Builtin("mf", "RatingMF", "MF (ratings)", False),
    "bpmf": Builtin("bpmf", "BPMF", "Bayesian MF", False),
    "features": Builtin("features", "FeatureRating", "Feature MLP (ratings)", True),
    "content": Builtin("content", "ContentModel", "Content (MiniLM)", True),
    "gpt": Builtin("gpt", "GPT", "GPT", True),
    "bert": Builtin("bert", "BERT4Rec", "BERT4Rec", True),
    "gpt-student": Builtin("distill", "GPTStudent", "GPT student (distilled)", False),
    "bert-student": Builtin("distill", "BERTStudent", "BERT4Rec student (distilled)", False),
    "proxy": Builtin("proxy", "ProxyRecommender", "Your recommendations", False),
}
DEFAULT_MODELS = tuple(name for name, entry in BUILTIN.items() if entry.default)


def register(name: str):
    def deco(cls):
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"model name {name!r} is registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls
    return deco


def model_names() -> list[str]:
    return sorted(set(_REGISTRY) | set(BUILTIN))


def model_label(name: str) -> str:
    """A model's display name ("MF (BPR)"); registered models without one show their name."""
    return BUILTIN[name].label if name in BUILTIN else getattr(_REGISTRY.get(name), "label", name)


def model_class(name: str) -> type:
    if name not in _REGISTRY and name in BUILTIN:
        importlib.import_module(f"recsys.models.{BUILTIN[name].module}")  # registers its models
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ParameterError(f"unknown model {name!r}; choose one of {', '.join(model_names())}") from None


def get_model(name: str, **params):
    """A new, unfitted model; unknown parameters are refused with the list of known ones."""
    cls = model_class(name)
    cls.check_param_names(params)
    return cls(**params)


def load_model(path: str | Path):
    """Load a saved model of any registered kind."""
    from recsys.models.base import read_config

    return model_class(read_config(Path(path))["model"]).load(path)
