"""Models by name: ``@register("pop")`` on a class, ``get_model("pop", **params)`` to build one."""
from __future__ import annotations

from pathlib import Path

from recsys.errors import ParameterError

_REGISTRY: dict[str, type] = {}


def register(name: str):
    def deco(cls):
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"model name {name!r} is registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls
    return deco


def model_names() -> list[str]:
    return sorted(_REGISTRY)


def model_class(name: str) -> type:
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
