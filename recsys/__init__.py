"""recsys: the RecLens recommender library (data, splits, models, evaluation, artifacts).

It works on its own, from Python or as ``python -m recsys``; the Streamlit app is a thin layer over it.
Nothing in this package imports Streamlit.
"""
from recsys.errors import ArtifactError, DataError, NotFittedError, ParameterError, RecsysError

__version__ = "0.1.0"

__all__ = ["__version__", "RecsysError", "DataError", "ArtifactError", "NotFittedError",
           "ParameterError"]
