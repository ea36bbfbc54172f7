"""Splits: leave-one-out by time, per-user time ratio, seeded random."""
from __future__ import annotations

import numpy as np
import pytest

from recsys.errors import DataError
from recsys.split import leave_one_out, make_split, random_split, time_ratio

from conftest import make_dataset


def raw(ds, items):
    return ds.item_ids[np.asarray(items)].tolist()


def test_leave_one_out_by_time(tiny):
    s = leave_one_out(tiny)
    u1, u3 = tiny.user_index(1), tiny.user_index(3)
    test_users = s.test.users.tolist()
    assert test_users == [u for u in range(tiny.n_users) if tiny.user_activity()[u] >= 3]
    row1, row3 = test_users.index(u1), test_users.index(u3)
    assert raw(tiny, s.test.targets[row1]) == [13] and raw(tiny, s.valid.targets[row1]) == [12]
    assert raw(tiny, s.test.histories[row1]) == [10, 11, 12]  # train + valid, in time order
    assert raw(tiny, s.valid.histories[row1]) == [10, 11]
    assert raw(tiny, s.test.targets[row3]) == [11]
    # User 4 has one interaction: it stays in train and is never evaluated.
    u4 = tiny.user_index(4)
    assert u4 not in test_users and (s.train.user == u4).sum() == 1
    assert s.train.n_interactions + len(s.valid.targets.values) + len(s.test.targets.values) == 12
    assert s.train.n_items == tiny.n_items  # the catalogue is the whole dataset's


def test_leave_one_out_ties_use_file_order():
    ds = make_dataset([(1, 1, 1, 7), (1, 2, 1, 7), (1, 3, 1, 7)])
    s = leave_one_out(ds)
    assert raw(ds, s.test.targets[0]) == [3] and raw(ds, s.valid.targets[0]) == [2]


def test_leave_one_out_on_ml100k(ml100k):
    s = leave_one_out(ml100k)
    assert len(s.test) == len(s.valid) == 943  # every ml-100k user has >= 20 ratings
    assert s.train.n_interactions == 100_000 - 2 * 943
    # No test item is in its own history.
    for j in range(0, 943, 97):
        assert s.test.targets[j][0] not in s.test.histories[j]


def test_time_ratio():
    rows = [(1, i, 1, i) for i in range(10)] + [(2, i, 1, i) for i in range(3)]
    ds = make_dataset(rows)
    s = time_ratio(ds, (0.8, 0.1, 0.1))
    assert raw(ds, s.test.targets[0]) == [9] and raw(ds, s.valid.targets[0]) == [8]
    assert raw(ds, s.test.histories[0]) == list(range(9))
    # 3 interactions: floor(2.4) = 2 in train, nothing in valid, one in test.
    assert raw(ds, s.test.targets[1]) == [2]
    with pytest.raises(DataError):
        time_ratio(ds, (0.5, 0.1, 0.1))


def test_random_split_is_seeded_and_about_80_20(ml100k):
    a, b, c = random_split(ml100k, seed=1), random_split(ml100k, seed=1), random_split(ml100k, seed=2)
    assert np.array_equal(a.test.targets.values, b.test.targets.values)
    assert not np.array_equal(a.test.targets.values, c.test.targets.values)
    share = len(a.test.targets.values) / ml100k.n_interactions
    assert 0.19 < share < 0.21
    assert len(a.valid) == 0
    with pytest.raises(DataError):
        random_split(ml100k, test=1.5)


def test_make_split_by_name(tiny):
    assert make_split(tiny, "ratio").protocol == "ratio"
    with pytest.raises(DataError, match="unknown split"):
        make_split(tiny, "kfold")


def test_held_out_take_and_sample_keep_users_targets_and_ratings_together(ml100k):
    s = time_ratio(ml100k)  # several targets per user, each with its rating
    rows = np.array([5, 0, 17])
    part = s.test.take(rows)
    assert part.users.tolist() == s.test.users[rows].tolist()
    for j, r in enumerate(rows):
        assert part.targets[j].tolist() == s.test.targets[r].tolist()
        assert part.histories[j].tolist() == s.test.histories[r].tolist()
        lo, hi = s.test.targets.indptr[r], s.test.targets.indptr[r + 1]
        plo, phi = part.targets.indptr[j], part.targets.indptr[j + 1]
        assert part.ratings[plo:phi].tolist() == s.test.ratings[lo:hi].tolist()
    sample = s.test.sample(100, seed=3)
    assert len(sample) == 100 and len(set(sample.users.tolist())) == 100
    assert sample.users.tolist() == s.test.sample(100, seed=3).users.tolist()  # seeded
    assert sample.users.tolist() != s.test.sample(100, seed=4).users.tolist()
    assert s.test.sample(len(s.test)) is s.test  # nothing to sample: unchanged


def test_validation_uses_a_fixed_user_sample_past_the_limit(ml100k_split):
    from recsys.evaluate import evaluate
    from recsys.models import get_model
    from recsys.models.torch_utils import validation_ndcg

    split = ml100k_split
    model = get_model("pop").fit(split.train)
    sampled = validation_ndcg(model, split.valid, split.train, max_users=200)
    expected = evaluate(model, split.valid.sample(200, seed=0), split.train, k=(10,)).metrics["ndcg@10"]
    full = evaluate(model, split.valid, split.train, k=(10,)).metrics["ndcg@10"]
    assert sampled == pytest.approx(expected) and sampled != pytest.approx(full)
    assert validation_ndcg(model, split.valid, split.train) == pytest.approx(full)  # 943 < 5,000
