"""top_k and history masking."""
from __future__ import annotations

import numpy as np

from recsys.ranking import mask_history, top_k


def test_ties_go_to_the_smaller_id_whatever_k():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(50, 30)).astype(np.float32)  # many ties
    full, _ = top_k(scores, 30)
    for k in (1, 3, 7, 12, 29):
        items, values = top_k(scores, k)
        assert np.array_equal(items, full[:, :k]), k
        assert (np.diff(values, axis=1) <= 0).all()
    expected = np.lexsort((np.broadcast_to(np.arange(30), (50, 30)), -scores), axis=1)
    assert np.array_equal(full, expected)


def test_masked_items_become_minus_one():
    scores = np.array([[3.0, 2.0, 1.0]], np.float32)
    mask_history(scores, [np.array([0, 2])])
    items, values = top_k(scores, 3)
    assert items.tolist() == [[1, -1, -1]] and values[0, 0] == 2.0


def test_the_torch_path_for_large_matrices_ranks_as_numpy_does(monkeypatch):
    import recsys.ranking as ranking

    rng = np.random.default_rng(1)
    finite = rng.integers(0, 50, size=(40, 500)).astype(np.float32)  # ties across the cut
    finite[:, :5] = -np.inf
    with_nan = finite.copy()
    with_nan[3, 7] = np.nan  # NaN keeps numpy's order (NaN last), not torch's (NaN first)
    for scores in (finite, with_nan, finite.astype(np.float64)):
        monkeypatch.setattr(ranking, "TORCH_TOPK_ABOVE", 10**9)
        expected = top_k(scores, 12)
        monkeypatch.setattr(ranking, "TORCH_TOPK_ABOVE", 0)
        got = top_k(scores, 12)
        assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
