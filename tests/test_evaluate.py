"""The full-ranking evaluation loop on a hand-checked case and on ml-100k."""
from __future__ import annotations

import math

import numpy as np
import pytest

from recsys.evaluate import evaluate, results_frame
from recsys.errors import ParameterError
from recsys.models import Recommender, get_model
from recsys.split import leave_one_out


class ByItemIndex(Recommender):
    """Ranks items by index (0 first): a known ranking for checking the loop by hand."""

    name = "by-index"

    def __init__(self):
        pass

    def fit(self, train, *, valid=None, progress=None):
        self.n_items_ = train.n_items
        return self

    def _score(self, histories, users):
        return np.tile(-np.arange(self.n_items_, dtype=np.float32), (len(histories), 1))


def test_hand_checked_ranking(tiny):
    s = leave_one_out(tiny)
    model = ByItemIndex().fit(s.train)
    r = evaluate(model, s.test, s.train, k=(1, 3))
    # Test items after excluding histories: user 1 -> 13 at rank 1, user 2 -> 14 at rank 3,
    # user 3 -> 11 at rank 1.
    assert r.per_user["rank"].tolist() == [1, 3, 1]
    assert r.metrics["hr@1"] == pytest.approx(2 / 3)
    assert r.metrics["hr@3"] == pytest.approx(1.0)
    assert r.metrics["ndcg@3"] == pytest.approx((1 + 1 / math.log2(4) + 1) / 3)
    assert r.metrics["mrr@3"] == pytest.approx((1 + 1 / 3 + 1) / 3)
    assert r.metrics["precision@3"] == pytest.approx(1 / 3)
    # Lists at 3: user 1 [13,14,15], user 2 [12,13,14], user 3 [11,13,14] -> 5 of 6 items.
    assert r.metrics["coverage@3"] == pytest.approx(5 / 6)


def test_without_excluding_history_the_ranks_change(tiny):
    s = leave_one_out(tiny)
    model = ByItemIndex().fit(s.train)
    r = evaluate(model, s.test, s.train, k=(3,), exclude_seen=False)
    assert r.per_user["rank"].tolist() == [4, 5, 2]
    assert r.metrics["hr@3"] == pytest.approx(1 / 3)


def test_batches_do_not_change_results(ml100k):
    s = leave_one_out(ml100k)
    model = get_model("pop").fit(s.train)
    whole = evaluate(model, s.test, s.train)
    small = evaluate(model, s.test, s.train, batch_size=7)
    assert whole.metrics == pytest.approx(small.metrics)
    for name, values in whole.per_user.items():
        assert np.allclose(values, small.per_user[name], equal_nan=True), name


def test_per_user_values_average_to_the_means(ml100k):
    s = leave_one_out(ml100k)
    r = evaluate(get_model("pop").fit(s.train), s.test, s.train)
    for name in ("hr@10", "ndcg@10", "mrr@20", "recall@20"):
        assert r.per_user[name].mean() == pytest.approx(r.metrics[name])
    assert len(r.users) == len(s.test) == len(r.per_user["ndcg@10"])
    assert set(r.to_dict()["metrics"]) == set(r.metrics)
    assert results_frame([r]).loc["pop", "ndcg@10"] == pytest.approx(r.metrics["ndcg@10"])


def test_popularity_on_ml100k_is_stable(ml100k):
    # Regression guard for the protocol: Popularity is deterministic, so these numbers only move
    # when loading, splitting, masking or a metric changes.
    s = leave_one_out(ml100k)
    r = evaluate(get_model("pop").fit(s.train), s.test, s.train)
    assert r.metrics["hr@10"] == pytest.approx(81 / 943)
    assert r.metrics["ndcg@10"] == pytest.approx(0.0449, abs=1e-4)


def test_bad_k(tiny):
    s = leave_one_out(tiny)
    with pytest.raises(ParameterError):
        evaluate(ByItemIndex().fit(s.train), s.test, s.train, k=(0,))


def test_k_above_catalogue(tiny):
    s = leave_one_out(tiny)
    r = evaluate(ByItemIndex().fit(s.train), s.test, s.train, k=(50,))
    assert r.metrics["hr@50"] == 1.0


def test_sampled_candidates_are_explicit_seeded_and_inflated(ml100k_split):
    from recsys.evaluate import evaluate
    from recsys.models import get_model

    model = get_model("itemknn").fit(ml100k_split.train)
    full = evaluate(model, ml100k_split.test, ml100k_split.train, k=(10,))
    a = evaluate(model, ml100k_split.test, ml100k_split.train, k=(10,), sampled=100)
    b = evaluate(model, ml100k_split.test, ml100k_split.train, k=(10,), sampled=100)
    pop = evaluate(model, ml100k_split.test, ml100k_split.train, k=(10,), sampled=100,
                   sampling="popularity")
    assert full.candidates == "full ranking"
    assert a.candidates == "sampled: 100 uniform negatives (seed 0)"
    assert a.metrics == b.metrics  # the same seed, the same negatives
    assert a.metrics["hr@10"] > pop.metrics["hr@10"] > full.metrics["hr@10"]
    assert (a.per_user["rank"] <= 101).all()
    assert (np.sum(a.lists >= 0, axis=1) == 10).all()


def test_known_users_false_scores_from_the_history_alone(ml100k_split):
    # MF-BPR with user_vectors=True scores a known user with their learned vector; known_users=False
    # folds the history in, as for a new or edited history: each user's rank is the fold-in's.
    model = get_model("bpr", epochs=2, user_vectors=True).fit(ml100k_split.train)
    heldout = ml100k_split.test.take(np.arange(40))
    learned = evaluate(model, heldout, ml100k_split.train, k=(10,))
    folded = evaluate(model, heldout, ml100k_split.train, k=(10,), known_users=False)
    for j, (history, target) in enumerate(zip(heldout.histories, heldout.targets)):
        scores = model.score([history])[0]
        scores[history] = -np.inf
        assert folded.per_user["rank"][j] == 1 + (scores > scores[target[0]]).sum(), f"user row {j}"
    assert not np.array_equal(learned.per_user["rank"], folded.per_user["rank"])
