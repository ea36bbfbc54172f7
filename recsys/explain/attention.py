"""Attention weights of the transformer models as a tidy frame, with the positions named."""
from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.errors import ParameterError
from recsys.explain.text import natural_title
from recsys.models.base import Recommender

MASK_LABEL = "[MASK]"


def attention_frame(model: Recommender, history, titles: pd.Series | None = None) -> pd.DataFrame:
    """One row per (layer, head, query position, key position) with its weight.

    Positions are those the model actually reads: the last ``max_len`` history items, plus BERT's
    appended [MASK] (whose row is the one that ranks the items). ``titles`` (indexed by item id) names
    the positions; ``query_label`` / ``key_label`` are "position · title" so repeated titles stay apart.
    """
    if not hasattr(model, "attention"):
        raise ParameterError(f"{model.name} has no attention; only the transformer models (gpt, bert) do")
    weights = model.attention(history)                      # (layers, heads, L, L)
    layers, heads, length, _ = weights.shape
    # The same tokens the model read: token t is item t - 1; BERT's [MASK] token becomes item -1.
    tokens = model._inputs(model._check_histories([history])[0])
    items = np.where(tokens > model.n_items_, -1, tokens - 1).astype(np.int64)
    names = np.array([MASK_LABEL if i < 0 else natural_title(titles.iloc[i]) if titles is not None else str(i)
                      for i in items], dtype=object)
    labels = np.array([f"{p} · {n}" for p, n in enumerate(names)], dtype=object)
    layer, head, query, key = np.meshgrid(np.arange(layers), np.arange(heads), np.arange(length),
                                          np.arange(length), indexing="ij")
    query, key = query.ravel(), key.ravel()
    return pd.DataFrame({"layer": layer.ravel(), "head": head.ravel(), "query": query, "key": key,
                         "weight": weights.ravel().astype(np.float32),
                         "query_item": items[query], "key_item": items[key],
                         "query_label": labels[query], "key_label": labels[key]})


def attention_matrix(frame: pd.DataFrame, layer: int, head: int | None = None) -> pd.DataFrame:
    """A (query × key) matrix for one layer and head (``head=None`` averages the heads), labelled."""
    part = frame[frame["layer"] == layer]
    if head is not None:
        part = part[part["head"] == head]
    if part.empty:
        raise ParameterError(f"no attention for layer {layer}, head {head}")
    table = part.pivot_table(index=["query", "query_label"], columns=["key", "key_label"],
                             values="weight", aggfunc="mean")
    table.index = table.index.get_level_values(1)
    table.columns = table.columns.get_level_values(1)
    return table
