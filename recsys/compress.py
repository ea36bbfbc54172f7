"""Smaller models for serving, each measurable against the original: int8 linear layers in the
transformers, fp16 embedding tables, and retrieval through a product-quantised FAISS index.

- ``quantize_int8(model)``: a copy of a GPT / BERT model whose linear layers run as int8 (torch dynamic
  quantisation: int8 weights, activations quantised per batch). The item table and output layer stay
  float32 — they are the embeddings, which ``half_embeddings`` handles.
- ``half_embeddings(model)``: a copy whose embedding tables are stored as float16 (half the bytes) and
  widened to float32 when scoring.
- ``linear_parts(model, ...)``: for models whose score is a dot product (BPR, GPT, BERT), the query vector
  of each history and the item matrix, with the item bias folded in as one more dimension — so that an
  inner-product index (exact or IVF-PQ) retrieves exactly what the model would rank.
- ``state_bytes(model)``: the bytes of a fitted model's learned state, as stored.
"""
from __future__ import annotations

import copy

import numpy as np
from scipy import sparse
import torch
import torch.nn as nn

from recsys.errors import ParameterError
from recsys.models.base import Recommender


def _sequential(model) -> bool:
    from recsys.models.sequential import SequentialRecommender

    return isinstance(model, SequentialRecommender)


def _factor(model) -> bool:
    from recsys.models.mf import BPR

    return isinstance(model, BPR)


def quantize_int8(model: Recommender) -> Recommender:
    """A copy of a fitted GPT or BERT with int8 linear layers (CPU inference)."""
    model._check_fitted()
    if not _sequential(model):
        raise ParameterError(f"int8 quantisation applies to the transformers (gpt, bert), not {model.name}")
    out = copy.deepcopy(model)
    out.module_ = torch.ao.quantization.quantize_dynamic(out.module_.cpu().eval(), {nn.Linear},
                                                          dtype=torch.qint8)
    out.compression_ = "int8 linear layers"
    return out


class _HalfEmbedding(nn.Module):
    """An embedding table kept in float16, looked up (and read as ``weight``) in float32."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.register_buffer("table16", weight.detach().to(torch.float16))

    @property
    def weight(self) -> torch.Tensor:
        return self.table16.float()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.table16[tokens].float()


def half_embeddings(model: Recommender) -> Recommender:
    """A copy of a fitted BPR, GPT or BERT whose embedding tables are stored as float16."""
    model._check_fitted()
    out = copy.deepcopy(model)
    if _sequential(model):
        out.module_.tok = _HalfEmbedding(out.module_.tok.weight)
    elif _factor(model):
        out.user_factors_ = out.user_factors_.astype(np.float16)
        out.item_factors_ = out.item_factors_.astype(np.float16)
    else:
        raise ParameterError(f"fp16 embeddings apply to bpr, gpt and bert, not {model.name}")
    out.compression_ = "fp16 embeddings"
    return out


def state_bytes(model: Recommender) -> int:
    """Bytes of the learned state: arrays as stored, transformer tensors (int8 weights counted as int8)."""
    model._check_fitted()
    total = 0
    for value in model._fitted_state().values():
        if isinstance(value, np.ndarray):
            total += value.nbytes
        elif sparse.issparse(value):  # e.g. the transition prior's counts
            csr = sparse.csr_matrix(value)
            total += csr.data.nbytes + csr.indices.nbytes + csr.indptr.nbytes
        elif isinstance(value, nn.Module):
            total += _module_bytes(value)
    return total


def _module_bytes(module: nn.Module) -> int:
    total = 0
    for sub in module.modules():
        if isinstance(sub, torch.ao.nn.quantized.dynamic.Linear):
            # int8 weights, a float32 bias, and the weights' scale and zero point (8 bytes).
            weight, bias = sub._packed_params._weight_bias()
            total += weight.int_repr().numel() + (0 if bias is None else bias.numel() * 4) + 8
            continue
        for t in list(sub.parameters(recurse=False)) + list(sub.buffers(recurse=False)):
            total += t.numel() * t.element_size()
    return total


def linear_parts(model: Recommender, histories, users: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(queries (n, d + 1), items (n_items, d + 1)) with queries @ items.T == model.score(...).

    The last column carries the item bias (items) against a constant 1 (queries), which turns the
    model's ranking into a pure maximum-inner-product search."""
    model._check_fitted()
    rows = model._check_histories(histories)
    if _factor(model):
        users = model._check_users(users, len(rows))
        queries = np.asarray(model._user_vectors(rows, users), np.float32)
        items, bias = np.asarray(model.item_factors_, np.float32), model.item_bias_
    elif _sequential(model):
        if getattr(model, "prior_weight_", 0.0):
            raise ParameterError(f"{model.name} adds the Markov chain's log-probability to its dot product "
                                 f"(prior_weight_ {model.prior_weight_:g}); linear_parts covers it only "
                                 "with transition_prior=False")
        if any(len(h) == 0 for h in rows):
            raise ParameterError("linear_parts needs non-empty histories")
        queries = model._final_states(rows).numpy()
        items = model.item_embeddings()
        bias = model.module_.out_bias.detach().cpu().numpy()
    else:
        raise ParameterError(f"{model.name} does not score by a dot product; use bpr, gpt or bert")
    queries = np.hstack([queries, np.ones((len(queries), 1), np.float32)])
    items = np.hstack([items, np.asarray(bias, np.float32)[:, None]])
    return queries, items
