"""Classic recommenders on small data whose right answer is known."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from recsys.errors import DataError, ParameterError
from recsys.models import get_model
from recsys.split import random_split

from conftest import make_dataset


@pytest.fixture(scope="module")
def chain():
    """Every user walks the cycle 0 -> 1 -> ... -> 11 -> 0 from their own starting item."""
    rows = []
    for u in range(24):
        for step in range(8):
            rows.append((u, (u + step) % 12, 5, step))
    return make_dataset(rows)


@pytest.fixture(scope="module")
def two_groups():
    """Users 0-19 only ever touch items 0-9, users 20-39 only items 10-19."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(40):
        base = 0 if u < 20 else 10
        for t, i in enumerate(rng.choice(10, size=6, replace=False)):
            rows.append((u, base + int(i), 4, t))
    return make_dataset(rows)


def test_markov_follows_a_strict_chain(chain):
    model = get_model("markov", window=1).fit(chain)
    for last in range(12):
        items, _ = model.recommend(np.array([(last - 1) % 12, last]), k=1)
        assert items.tolist() == [(last + 1) % 12]


def test_markov_longer_window_still_prefers_the_next_item(chain):
    model = get_model("markov").fit(chain)
    items, _ = model.recommend(np.array([3, 4, 5]), k=1)
    assert items.tolist() == [6]


def test_markov_steps_count_later_items_within_each_user(chain):
    # Each user walks 8 items of the 12-cycle from their own start: item i is followed by i+1, i+2, i+3
    # in the users whose walk holds them, and never across two users' rows.
    model = get_model("markov", steps=3, step_decay=0.5).fit(chain)
    first = get_model("markov").fit(chain).transitions_.toarray()
    T = model.transitions_.toarray()
    for i in range(12):
        for gap, weight in ((1, 1.0), (2, 0.5), (3, 0.25)):
            j = (i + gap) % 12
            assert T[i, j] == pytest.approx(weight * first[i, (i + 1) % 12] * (8 - gap) / 7), f"{i}->{j}"
        others = np.delete(T[i], [(i + g) % 12 for g in (1, 2, 3)])
        assert not others.any(), f"item {i} counts an item more than 3 places later"


@pytest.mark.parametrize("name, params", [
    ("itemknn", {}), ("userknn", {}), ("hybridcf", {}), ("ease", {"l2": 1.0}),
    ("bpr", {"epochs": 60, "recency_half_life": None, "l2": 0.0, "lr": 0.05}),
])
def test_cf_stays_inside_the_users_group(two_groups, name, params):
    model = get_model(name, **params).fit(two_groups)
    group_a, group_b = np.array([0, 1, 2]), np.array([10, 11, 12])
    for history, allowed in ((group_a, set(range(3, 10))), (group_b, set(range(13, 20)))):
        items, _ = model.recommend(history, k=5)  # a new history: folded in / scored from items
        assert set(items.tolist()) <= allowed, (name, items)


def test_userknn_does_not_count_the_user_as_their_own_neighbour(two_groups):
    model = get_model("userknn", neighbors=1).fit(two_groups)
    u = 0
    history = two_groups.item[two_groups.user == u]
    with_self = model.score([history])  # the user's own row is the closest match
    without_self = model.score([history], users=np.array([u]))
    assert not np.allclose(with_self, without_self)
    assert np.allclose(with_self[0][history] / with_self[0].max(), 1.0)


def _neighbour_scores_by_definition(user_items, histories, neighbors, shrink, exclude_users,
                                    half_life=None):
    """UserKNN's scores written out row by row with dense arrays: cosine to every training user (the
    history's items weighing 1/2 every ``half_life`` steps back from the latest), the ``neighbors`` most
    similar (and any tied with the last of them), their items summed by similarity."""
    X = user_items.toarray()
    norms = np.sqrt(X.sum(axis=1)).astype(np.float32)
    out = []
    for r, history in enumerate(histories):
        h = np.zeros(X.shape[1], np.float32)
        for back, item in enumerate(history[::-1]):          # the latest first: it sets the weight
            if h[item] == 0:
                h[item] = 1.0 if half_life is None else 0.5 ** (back / half_life)
        sims = (X @ h).astype(np.float32) / (np.sqrt(h @ h) * norms + shrink + 1e-12)
        if exclude_users is not None:
            sims[exclude_users[r]] = 0.0
        if neighbors < len(sims):
            sims[sims < np.sort(sims)[::-1][neighbors - 1]] = 0.0
        out.append(sims @ X)
    return np.array(out)


@pytest.mark.parametrize("case", ["ml-100k: long histories, dense similarities",
                                  "sparse: short histories, few shared items, ties"])
def test_user_neighbour_scores_match_their_definition(ml100k, case):
    from recsys.models.knn import user_neighbour_scores

    rng = np.random.default_rng(0)
    if case.startswith("ml-100k"):
        user_items = ml100k.user_item_matrix()
        histories = [ml100k.item[ml100k.user == u][:n] for u, n in ((0, 200), (5, 40), (100, 3), (7, 1))]
    else:  # 300 users of 2-4 items among 400: most users share nothing with a history, many tie
        rows = [(u, int(i), 1, t) for u in range(300)
                for t, i in enumerate(rng.choice(400, size=rng.integers(2, 5), replace=False))]
        user_items = make_dataset(rows).user_item_matrix()
        histories = [rng.choice(user_items.shape[1], size=n, replace=False) for n in (1, 2, 3, 5, 8)]
    norms = np.sqrt(np.asarray(user_items.sum(axis=1)).ravel()).astype(np.float32)
    exclude = np.arange(len(histories))
    for neighbors, excluded, half_life in itertools.product((1, 5, 20), (None, exclude), (None, 3.0)):
        got = user_neighbour_scores(user_items, norms, histories, neighbors, 0.0, exclude_users=excluded,
                                    half_life=half_life)
        want = _neighbour_scores_by_definition(user_items, histories, neighbors, 0.0, excluded, half_life)
        for r in range(len(histories)):
            assert np.allclose(got[r], want[r], rtol=1e-5, atol=1e-6), \
                (case, f"history {r} ({len(histories[r])} items)", neighbors, excluded is not None, half_life)


def test_history_matrix_weighs_each_item_by_its_latest_occurrence():
    from recsys.models.base import history_matrix

    m = history_matrix([np.array([5, 2, 5, 7]), np.array([], np.int64), np.array([3])], 8, half_life=1.0)
    assert m[0].toarray().ravel().tolist() == [0, 0, 0.25, 0, 0, 0.5, 0, 1.0]
    assert m[1].nnz == 0 and m[2, 3] == 1.0
    assert history_matrix([np.array([5, 2, 5])], 8)[0].toarray().ravel().tolist() == [0, 0, 1, 0, 0, 1, 0, 0]


def test_userknn_neighbours_follow_the_latest_items():
    # Users 0-19 touch items 0-9, users 20-39 items 10-19. A history that moved from the first group's
    # items to the second's: with recency weights its neighbours (and list) are the second group's.
    rng = np.random.default_rng(0)
    rows = [(u, (0 if u < 20 else 10) + int(i), 4, t)
            for u in range(40) for t, i in enumerate(rng.choice(10, size=6, replace=False))]
    ds = make_dataset(rows)
    history = np.array([ds.item_index(i) for i in (0, 1, 2, 3, 10)])
    old = get_model("userknn", neighbors=5, recency_half_life=None).fit(ds)
    new = get_model("userknn", neighbors=5, recency_half_life=0.5).fit(ds)
    assert set(old.recommend(history, k=3)[0]) <= set(ds.item_index(i) for i in range(10))
    assert set(new.recommend(history, k=3)[0]) <= set(ds.item_index(i) for i in range(10, 20))


def test_item_cosine_by_hand():
    ds = make_dataset([(1, "a", 1, 1), (1, "b", 1, 2), (2, "a", 1, 1), (3, "b", 1, 1)])
    model = get_model("itemknn", neighbors=5).fit(ds)
    a, b = ds.item_index("a"), ds.item_index("b")
    assert model.weights_[a, b] == pytest.approx(0.5)  # 1 / (sqrt 2 · sqrt 2)
    assert model.weights_[a, a] == 0.0


@pytest.mark.parametrize("name", ["itemknn", "ease"])
def test_exact_contributions_sum_to_the_score(ml100k_split, name):
    model = get_model(name).fit(ml100k_split.train)
    history = ml100k_split.test.histories[3]
    items, scores = model.recommend(history, k=5)
    for item, score in zip(items, scores):
        parts = model.contributions(history, int(item))
        assert parts.shape == history.shape
        assert parts.sum() == pytest.approx(score, rel=1e-4, abs=1e-5)


def test_bpr_fold_in_agrees_with_the_learned_user_vectors(ml100k_split):
    # A held-out user's history, folded in, should land near the vector learned for that user.
    # With the training's recency half-life, not the shorter one new histories are folded in with.
    model = get_model("bpr", epochs=10, fold_in_half_life=10.0, fold_in_l2=1.0,
                      user_vectors=True).fit(ml100k_split.train)
    overlaps, cosines = [], []
    for j in range(0, len(ml100k_split.test), 50):
        history, user = ml100k_split.test.histories[j], ml100k_split.test.users[j]
        folded, learned = model.user_embedding(history), model.user_factors_[user]
        cosines.append(folded @ learned / (np.linalg.norm(folded) * np.linalg.norm(learned)))
        a, _ = model.recommend(history, k=20)
        b, _ = model.recommend(history, k=20, users=user)
        overlaps.append(len(set(a) & set(b)) / 20)
    assert np.mean(cosines) > 0.8 and np.mean(overlaps) > 0.6
    assert model.item_embeddings().shape == (ml100k_split.train.n_items, 64)


def test_bpr_with_user_vectors_rejects_unknown_users(ml100k_split):
    model = get_model("bpr", epochs=1, user_vectors=True).fit(ml100k_split.train)
    with pytest.raises(DataError, match="unknown user"):
        model.score([np.array([1, 2])], users=np.array([10**6]))


def test_bpr_ranks_known_users_by_their_history_as_it_explains_them(ml100k_split):
    # The default folds every history in, so a known user's list is the one its explanation explains
    # (explain_items scores the folded-in history); user_vectors=True ranks by the learned vector.
    model = get_model("bpr", epochs=2).fit(ml100k_split.train)
    assert not model.per_user_parameters
    histories = ml100k_split.test.histories.rows()[:5]
    users = ml100k_split.test.users[:5]
    np.testing.assert_array_equal(model.score(histories, users=users), model.score(histories))
    model.user_vectors = True
    assert model.per_user_parameters
    assert not np.allclose(model.score(histories, users=users), model.score(histories))


@pytest.fixture(scope="module")
def low_rank():
    """Rounded ratings of a rank-3 matrix: 200 users × 40 of 100 items, and rating MF fitted on 80%."""
    rng = np.random.default_rng(0)
    n_users, n_items = 200, 100
    U, V = rng.normal(size=(n_users, 3)), rng.normal(size=(n_items, 3))
    true = np.clip(3 + U @ V.T * 0.6, 1, 5)
    pairs = [(u, i) for u in range(n_users) for i in rng.choice(n_items, 40, replace=False)]
    rows = [(u, i, float(np.round(true[u, i])), t) for t, (u, i) in enumerate(pairs)]
    split = random_split(make_dataset(rows), test=0.2, seed=0)
    return split, get_model("ratingmf", dim=8, epochs=60, l2=0.01, lr=0.01).fit(split.train)


def test_rating_mf_learns_a_low_rank_matrix(low_rank):
    split, model = low_rank
    errors = model.rating_errors(split.test)
    baseline = np.sqrt(np.mean((split.test.ratings - split.train.rating.mean()) ** 2))
    assert errors["rmse"] < 0.7 * baseline
    assert errors["mse"] == pytest.approx(errors["rmse"] ** 2)
    pred = model.predict(np.array([0, 1]), np.array([0, 1]))
    assert ((pred >= 1) & (pred <= 5)).all()


@pytest.fixture(params=[2.0, None], ids=["recent-most", "alike"])
def half_life(low_rank, request):
    """The fitted rating MF's fold-in half-life for one test, restored after it."""
    model, before = low_rank[1], low_rank[1].fold_in_half_life
    model.set_params(fold_in_half_life=request.param)
    yield request.param
    model.set_params(fold_in_half_life=before)


def test_rating_mf_folds_a_known_user_in_as_training_would(low_rank, half_life):
    """A known user's list is their rated history folded in: (b_u, p_u) minimise the training loss's
    share for that user with the item side fixed, each rating's error and penalty weighted by its
    recency (every rating alike with no half-life: then it is the training's own user step), so the
    weighted gradient vanishes there (checked per user); the ratings are the ones they gave, and each
    listed item's explanation stands at its place in the list (one computation)."""
    from recsys.explain import explain_items

    split, model = low_rank
    train = split.train
    assert not model.per_user_parameters
    Q, b_i = model.item_factors_.astype(np.float64), model.item_bias_.astype(np.float64)
    for u in (0, 1, 2, 3, 4):
        mine = train.user == u
        history, ratings = train.item[mine].astype(np.int64), train.rating[mine].astype(np.float64)
        np.testing.assert_allclose(model.known_ratings(u, history), ratings, rtol=1e-6)
        (bias,), (vector,) = model.fold_in([history], [u])
        error = ratings - model.global_mean_ - b_i[history] - bias - Q[history] @ vector
        n = len(history)
        w = np.ones(n) if half_life is None else 0.5 ** (np.arange(n)[::-1] / half_life)
        assert abs(-(w * error).sum() + model.l2 * w.sum() * bias) < 1e-8 * n, \
            f"user {u}: bias not at the minimum"
        np.testing.assert_allclose(-Q[history].T @ (w * error) + model.l2 * w.sum() * vector, 0,
                                   atol=1e-8 * n, err_msg=f"user {u}: vector not at the minimum")
        # The order of the history matters exactly when the fold-in weighs recency.
        reordered = model.score([history[::-1]], users=[u])[0]
        assert np.allclose(reordered, model.score([history], users=[u])[0]) == (half_life is None), \
            f"user {u}"
        scores = model.global_mean_ + bias + b_i + Q @ vector
        np.testing.assert_allclose(model.score([history], users=[u])[0], scores, rtol=1e-5, atol=1e-5,
                                   err_msg=f"user {u}")
        listed = model.recommend(history, k=5, users=[u])[0]
        for place, e in enumerate(explain_items(model, history, listed, user=u), start=1):
            assert e.rank == place, f"user {u}, item {e.item}: explained at #{e.rank}, listed at #{place}"
        # The learned vector ranks otherwise (user_vectors=True keeps it): a different computation.
        learned = model.set_params(user_vectors=True).score([history], users=[u])[0]
        model.set_params(user_vectors=False)
        assert not np.allclose(learned, scores), f"user {u}"


def test_rating_mf_scores_an_unrated_history_at_the_implicit_rating(low_rank):
    _, model = low_rank
    history = np.array([3, 7, 11])
    alone = model.score([history])[0]
    as_rated = model.fold_in([history], None)
    assert model.implicit_rating_ == pytest.approx(np.percentile(low_rank[0].train.rating, 75))
    np.testing.assert_allclose(alone, model.global_mean_ + as_rated[0][0] + model.item_bias_
                               + model.item_factors_ @ as_rated[1][0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.score([np.zeros(0, np.int64)])[0],
                               model.global_mean_ + model.item_bias_, rtol=1e-6)


def test_rating_mf_refuses_bad_fold_in_input(low_rank):
    _, model = low_rank
    with pytest.raises(DataError, match="unknown item"):
        model.fold_in([np.array([-1])])
    with pytest.raises(DataError, match="2 users for 1 histories"):
        model.fold_in([np.array([1, 2])], [0, 1])
    for user_vectors in (False, True):                      # a user the model does not know
        model.set_params(user_vectors=user_vectors)
        with pytest.raises(DataError, match="unknown user"):
            model.score([np.array([1, 2])], users=[10_000])
    model.set_params(user_vectors=False)


def test_a_test_history_folds_in_its_validation_rating(ml100k_split):
    """A test history holds the validation item, whose rating the user gave as surely as the training
    ones: the rating models fold it in at that rating (the sentences show it), not at the implicit one.
    The held-out test item's rating is never kept."""
    split = ml100k_split
    model = get_model("ratingmf", dim=4, epochs=1).fit(split.train, valid=split.valid)
    valid_items = dict(zip(split.valid.users.tolist(), split.valid.targets.values.tolist()))
    valid_ratings = dict(zip(split.valid.users.tolist(), split.valid.ratings.tolist()))
    for j in range(0, len(split.test), 97):
        u, history = int(split.test.users[j]), split.test.histories[j]
        v = valid_items[u]
        assert v in history, f"user {u}"
        assert model.known_ratings(u, [v])[0] == valid_ratings[u], f"user {u}, item {v}"
        target = split.test.targets[j][0]
        if target not in history and target != v:
            assert model.known_ratings(u, [target])[0] == model.implicit_rating_, f"user {u}"


def test_rating_mf_needs_ratings(tmp_path):
    from recsys.data import load_interactions
    path = tmp_path / "clicks.csv"
    path.write_text("user,item\n1,2\n1,3\n2,3\n")
    with pytest.raises(DataError, match="explicit ratings"):
        get_model("ratingmf").fit(load_interactions(path))


@pytest.mark.parametrize("name, params", [
    ("itemknn", {"neighbors": 0}), ("itemknn", {"shrink": -1.0}), ("userknn", {"neighbors": 2.5}),
    ("hybridcf", {"alpha": 1.5}), ("ease", {"l2": -5.0}), ("ease", {"max_items": 3}),
    ("markov", {"window": 0}), ("markov", {"decay": 0.0}), ("markov", {"beta": -1.0}),
    ("markov", {"steps": 0}), ("markov", {"step_decay": 0.0}),
    ("bpr", {"dim": 0}), ("bpr", {"lr": 0.0}), ("ratingmf", {"l2": -0.1}), ("ratingmf", {"l2": 0.0}),
    ("ratingmf", {"fold_in_half_life": 0.0}),
    ("bpr", {"device": "tpu"}), ("bpr", {"fold_in_half_life": 0.0}), ("userknn", {"recency_half_life": -1.0}),
])
def test_bad_hyper_parameters_are_refused(tiny, name, params):
    with pytest.raises(ParameterError):
        get_model(name, **params).fit(tiny)


def test_sparse_bpr_learns_like_dense_bpr(ml100k_split):
    from recsys.evaluate import evaluate

    split = ml100k_split
    pop = evaluate(get_model("pop").fit(split.train), split.test, split.train, k=(10,)).metrics["ndcg@10"]
    ndcg = {}
    for sparse in (False, True):
        model = get_model("bpr", epochs=10, sparse=sparse).fit(split.train)
        ndcg[sparse] = evaluate(model, split.test, split.train, k=(10,)).metrics["ndcg@10"]
    # Lazy Adam updates only the rows a batch touches; it reaches the same quality on this data.
    assert ndcg[True] > 1.3 * pop and abs(ndcg[True] - ndcg[False]) < 0.015


def test_sparse_bpr_refuses_torchrun(ml100k_split, monkeypatch):
    import recsys.models.mf as mf

    monkeypatch.setattr(mf, "world_size", lambda: 2)
    with pytest.raises(ParameterError, match="one process"):
        get_model("bpr", epochs=1, sparse=True).fit(ml100k_split.train)
