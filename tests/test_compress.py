"""Compression: fp16 embeddings, int8 linear layers, and dot-product models as inner-product search."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys import compress
from recsys.errors import ParameterError
from recsys.evaluate import evaluate
from recsys.index import ItemIndex
from recsys.models import get_model

SMALL = {"bpr": {"epochs": 3}, "gpt": {"epochs": 2, "dim": 32, "max_len": 50, "content_init": False},
         "bert": {"epochs": 1, "dim": 32, "max_len": 50, "content_init": False}}


@pytest.fixture(scope="module")
def models(ml100k_split):
    return {name: get_model(name, **params).fit(ml100k_split.train) for name, params in SMALL.items()}


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / a.shape[1] for x, y in zip(a, b)]))


@pytest.mark.parametrize("name", ["bpr", "gpt", "bert"])
def test_linear_parts_reproduce_the_scores(models, ml100k_split, name):
    model, test = models[name], ml100k_split.test
    histories, users = test.histories.rows(0, 40), test.users[:40]
    queries, items = compress.linear_parts(model, histories, users)
    assert np.allclose(queries @ items.T, model.score(histories, users), atol=1e-4)
    # ... so an exact inner-product index returns the model's own top 10.
    ids, _ = ItemIndex(kind="exact", metric="ip").build(items).search(queries, 10)
    top, _ = model.recommend(histories, k=10, exclude_seen=False, users=users)
    assert overlap(ids, top) > 0.99


def test_linear_parts_refuses_other_models(ml100k_split):
    with pytest.raises(ParameterError, match="dot product"):
        compress.linear_parts(get_model("pop").fit(ml100k_split.train), [np.array([1, 2])])


@pytest.mark.parametrize("name", ["bpr", "gpt", "bert"])
def test_fp16_embeddings_halve_the_tables_and_keep_the_lists(models, ml100k_split, name):
    model = models[name]
    half = compress.half_embeddings(model)
    n_items, dim = model.item_embeddings().shape
    saved = compress.state_bytes(model) - compress.state_bytes(half)
    assert saved >= n_items * dim * 2  # at least the item table went from 4 to 2 bytes a number
    histories, users = ml100k_split.test.histories.rows(0, 100), ml100k_split.test.users[:100]
    a, _ = model.recommend(histories, k=10, users=users)
    b, _ = half.recommend(histories, k=10, users=users)
    assert overlap(a, b) > 0.95
    assert model.item_embeddings().dtype == np.float32  # the original is untouched


def test_fp16_bpr_saves_half_size_and_loads_the_same(models, ml100k_split, tmp_path):
    from recsys.models.mf import BPR

    half = compress.half_embeddings(models["bpr"])
    half.save(tmp_path / "half")
    models["bpr"].save(tmp_path / "full")
    again = BPR.load(tmp_path / "half")
    assert again.item_factors_.dtype == np.float16
    size = lambda p: sum(f.stat().st_size for f in p.iterdir())  # noqa: E731
    assert size(tmp_path / "half") < 0.7 * size(tmp_path / "full")
    h = ml100k_split.test.histories.rows(0, 5)
    assert np.array_equal(again.score(h), half.score(h))


@pytest.mark.parametrize("name", ["gpt", "bert"])
def test_int8_quantises_the_linear_layers(models, ml100k_split, name):
    model = models[name]
    q = compress.quantize_int8(model)
    quantised = [m for m in q.module_.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    assert len(quantised) == 4 * model.layers  # qkv, proj and the two MLP layers of each block
    assert compress.state_bytes(q) < compress.state_bytes(model)
    histories = ml100k_split.test.histories.rows(0, 50)
    a, b = model.score(histories), q.score(histories)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99 and not np.array_equal(a, b)
    full = evaluate(model, ml100k_split.test, ml100k_split.train, k=(10,)).metrics["ndcg@10"]
    small = evaluate(q, ml100k_split.test, ml100k_split.train, k=(10,)).metrics["ndcg@10"]
    assert abs(full - small) < 0.01


def test_int8_refuses_models_without_linear_layers(models):
    with pytest.raises(ParameterError, match="transformers"):
        compress.quantize_int8(models["bpr"])
