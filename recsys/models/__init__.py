"""Recommenders behind one contract (``recsys.models.base.Recommender``), found by name.

Model modules are imported on first use (``get_model("gpt")`` or ``from recsys.models import GPT``),
so code that only lists or stores models does not pay for torch.
"""
from __future__ import annotations

import importlib

from recsys.models.base import Recommender
from recsys.models.registry import (BUILTIN, get_model, load_model, model_class, model_label, model_names,
                                    register)

_CLASSES = {entry.cls: entry.module for entry in BUILTIN.values()}

__all__ = ["Recommender", *_CLASSES, "get_model", "load_model", "model_class", "model_label",
           "model_names", "register"]


def __getattr__(name: str):
    if name in _CLASSES:
        return getattr(importlib.import_module(f"recsys.models.{_CLASSES[name]}"), name)
    raise AttributeError(f"module 'recsys.models' has no attribute {name!r}")
