"""Models by name: ``@register("pop")`` on a class, ``get_model("pop", **params)`` to build one.

The built-in models' modules are imported when a model is first asked for, so listing names or reading
artifacts' manifests does not import torch (about 2 s — most of the app's first-render time).
"""
from __future__ import annotations

import importlib
from pathlib import Path

from recsys.errors import ParameterError

_REGISTRY: dict[str, type] = {}
# name: (module under recsys.models, display label)
BUILTIN = {"pop": ("popularity", "Popularity"), "itemknn": ("knn", "ItemKNN"),
           "userknn": ("knn", "UserKNN"), "hybridcf": ("knn", "Hybrid CF"),
           "markov": ("markov", "Markov chain"), "ease": ("ease", "EASE"), "bpr": ("mf", "MF (BPR)"),
           "ratingmf": ("mf", "MF (ratings)"), "gpt": ("gpt", "GPT"), "bert": ("bert", "BERT4Rec"),
           "content": ("content", "Content (MiniLM)"), "features": ("features", "Feature MLP (ratings)"),
           "proxy": ("proxy", "Your recommendations")}


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
    return BUILTIN[name][1] if name in BUILTIN else getattr(_REGISTRY.get(name), "label", name)


def model_class(name: str) -> type:
    if name not in _REGISTRY and name in BUILTIN:
        importlib.import_module(f"recsys.models.{BUILTIN[name][0]}")  # registers its models
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ParameterError(f"unknown model {name!r}; choose one of {', '.join(model_names())}") from None


def get_model(name: str, **params):
    """A new, unfitted model; unknown parameters are refused with the list of known ones."""
    cls = model_class(name)
    unknown = set(params) - set(cls.param_names())
    if unknown:
        raise ParameterError(f"{name} has no parameter(s) {', '.join(sorted(unknown))}; "
                             f"it takes {', '.join(cls.param_names()) or 'none'}")
    return cls(**params)


def load_model(path: str | Path):
    """Load a saved model of any registered kind."""
    from recsys.models.base import read_config

    return model_class(read_config(Path(path))["model"]).load(path)
