"""Every metric against cases computed by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import sparse

from recsys import metrics as M

# Two users, K = 4. User 0 has relevant items at ranks 2 and 4 (2 relevant in all);
# user 1 has none in the list (1 relevant in all).
HITS = np.array([[0, 1, 0, 1], [0, 0, 0, 0]], dtype=bool)
N_REL = np.array([2, 1])


def test_cosine_example_from_the_issue():
    assert M.cosine_similarity([1, 0.5, -0.2], [0.8, 1.2, 0.3]) == pytest.approx(0.8009, abs=1e-4)
    assert M.cosine_similarity([0, 0], [1, 2]) == 0.0


def test_hit_rate_precision_recall():
    assert M.hit_rate(HITS).tolist() == [1.0, 0.0]
    assert M.precision(HITS).tolist() == [0.5, 0.0]
    assert M.recall(HITS, N_REL).tolist() == [1.0, 0.0]


def test_mrr():
    assert M.mrr(HITS).tolist() == [0.5, 0.0]


def test_ndcg():
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert M.ndcg(HITS, N_REL) == pytest.approx([dcg / idcg, 0.0])
    # A single relevant item at rank 1 is perfect.
    assert M.ndcg(np.array([[1, 0]], bool), np.array([1])) == pytest.approx([1.0])


def test_map():
    # Precision at the hits: 1/2 at rank 2, 2/4 at rank 4; divided by min(2, 4).
    assert M.average_precision(HITS, N_REL) == pytest.approx([(0.5 + 0.5) / 2, 0.0])


def test_intra_list_diversity():
    genres = sparse.csr_matrix(np.array([[1, 0], [1, 0], [0, 1], [1, 1]], dtype=float))
    lists = np.array([[0, 1, -1], [0, 2, 3]])
    cos03 = 1 / math.sqrt(2)
    expected_second = ((1 - 0) + (1 - cos03) + (1 - cos03)) / 3
    assert M.intra_list_diversity(lists, genres) == pytest.approx([0.0, expected_second])


def test_novelty_and_mean_popularity():
    popularity = np.array([8, 4, 1, 0])
    lists = np.array([[0, 1], [2, 3]])
    # p = count / 8 users; an unseen item counts as seen once.
    assert M.novelty(lists, popularity, 8) == pytest.approx([(0 + 1) / 2, (3 + 3) / 2])
    assert M.mean_popularity(lists, popularity) == pytest.approx([6.0, 0.5])


def test_coverage_and_gini():
    assert M.coverage(np.array([3, 0, 1, 0])) == 0.5
    assert M.gini(np.array([5, 5, 5, 5])) == pytest.approx(0.0)
    assert M.gini(np.array([0, 0, 0, 10])) == pytest.approx(0.75)  # (n-1)/n for one item only
    assert M.gini(np.array([1, 2, 3, 4])) == pytest.approx(0.25)


def test_rating_errors():
    y, p = np.array([3.0, 4.0, 5.0]), np.array([2.5, 4.0, 3.0])
    assert M.mse(y, p) == pytest.approx((0.25 + 0 + 4) / 3)
    assert M.rmse(y, p) == pytest.approx(math.sqrt(4.25 / 3))
    assert M.mae(y, p) == pytest.approx(2.5 / 3)


def test_direction():
    assert M.higher_is_better("ndcg@10") and not M.higher_is_better("gini@10")
    assert not M.higher_is_better("rmse")
