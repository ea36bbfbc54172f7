"""Models by name: ``get_model("pop", **params)`` builds one; ``BUILTIN`` is the one table of built-in
models (adding a model is one row here and ``@register(name)`` on its class).

The built-in models' modules are imported when a model is first asked for, so listing names or reading
artifacts' manifests does not import torch (about 2 s — most of the app's first-render time): what a
manifest is checked against (default parameters, parameter names, revision) comes from ``model_facts``,
cached on disk per version of the library's source.
"""
from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path

from recsys.cache import cache_root
from recsys.errors import ParameterError
from recsys.io import atomic_write_bytes


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


@dataclass(frozen=True)
class ModelFacts:
    params: dict         # the default hyper-parameters, as JSON holds them (what manifests record)
    revision: int

    @property
    def param_names(self) -> list[str]:
        return list(self.params)


_FACTS: dict[str, ModelFacts] = {}


def model_facts(name: str) -> ModelFacts:
    """A model's default parameters and revision without importing it, for checking manifests.

    Built-in models' facts are read from <cache>/model-facts-<hash of the library's source>.json, written
    by the first process that asks (``make build`` does): a change to any source file gives a new hash,
    so a stale entry is never read. Models registered at run time are asked directly.
    """
    if name not in _FACTS:
        if name in BUILTIN:
            _FACTS.update(_builtin_facts())
        else:
            _FACTS[name] = _facts_of(model_class(name))
    return _FACTS[name]


def _facts_of(cls: type) -> ModelFacts:
    # Through JSON as a manifest would store them, so the defaults compare equal to a manifest's params.
    return ModelFacts(json.loads(json.dumps(cls().get_params(), default=str)), cls.revision)


def _builtin_facts() -> dict[str, ModelFacts]:
    path = cache_root() / f"model-facts-{_source_hash()}.json"
    try:
        stored = json.loads(path.read_text())
        return {name: ModelFacts(stored[name]["params"], stored[name]["revision"]) for name in BUILTIN}
    except (OSError, ValueError, KeyError, TypeError):
        pass  # missing, damaged or short of a model: import the models and write it again
    facts = {name: _facts_of(model_class(name)) for name in BUILTIN}
    try:
        atomic_write_bytes(path, json.dumps({name: {"params": f.params, "revision": f.revision}
                                             for name, f in facts.items()}, indent=1).encode())
        for old in path.parent.glob("model-facts-*.json"):  # earlier versions' entries
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only data folder: the next process computes them again
    return facts


def _source_hash() -> str:
    """A hash of every source file of the recsys package (a default can live in any of them)."""
    h = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        h.update(str(path.relative_to(package)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]
