"""The model contract, checked on every registered model, plus model-specific cases."""
from __future__ import annotations

import numpy as np
import pytest

from recsys.data.ragged import Ragged
from recsys.errors import DataError, NotFittedError, ParameterError
from recsys.models import get_model, load_model, model_names
from recsys.split import leave_one_out

# Small, fast settings per model for the shared checks (defaults where none are given).
FAST_PARAMS: dict[str, dict] = {
    "bpr": {"epochs": 2}, "ratingmf": {"epochs": 2}, "features": {"epochs": 2},
    "bpmf": {"burn_in": 2, "samples": 4, "keep": 2},
    "gpt": {"epochs": 1, "layers": 1, "max_len": 50}, "bert": {"epochs": 1, "layers": 1, "max_len": 50},
    # The contract on its own: distillation from a teacher is tests/test_distill.py's
    "gpt-student": {"epochs": 1, "layers": 1, "max_len": 50, "distill_weight": 0.0},
    "bert-student": {"epochs": 1, "layers": 1, "max_len": 50, "distill_weight": 0.0},
}


@pytest.fixture(scope="module")
def split(ml100k):
    return leave_one_out(ml100k)


@pytest.fixture(scope="module", autouse=True)
def proxy_file(split, ml100k, tmp_path_factory):
    """The proxy model reads another tool's lists: here Markov's top 20 for the first 300 test users."""
    path = write_proxy_file(split, ml100k, tmp_path_factory.mktemp("proxy") / "recs.csv", users=300)
    FAST_PARAMS["proxy"] = {"path": str(path)}
    yield path
    FAST_PARAMS.pop("proxy")


def write_proxy_file(split, ds, path, users: int, k: int = 20):
    import pandas as pd

    markov = get_model("markov").fit(split.train)
    rows = split.test.users[:users]
    items, _ = markov.recommend(split.test.histories.take(np.arange(users)), k=k, users=rows)
    frame = pd.DataFrame({"user": np.repeat(ds.user_ids[rows], k), "item": ds.item_ids[items.ravel()],
                          "rank": np.tile(np.arange(1, k + 1), users)})
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module", params=model_names())
def fitted(request, split):
    return get_model(request.param, **FAST_PARAMS.get(request.param, {})).fit(split.train)


def test_init_only_stores_parameters():
    for name in model_names():
        model = get_model(name)
        assert set(vars(model)) == set(model.param_names()), name
        assert not model.is_fitted


def test_fit_returns_self_and_learns_underscore_attributes(split):
    for name in model_names():
        model = get_model(name, **FAST_PARAMS.get(name, {}))
        assert model.fit(split.train) is model
        learned = set(vars(model)) - set(model.param_names())
        assert learned and all(a.endswith("_") for a in learned), (name, learned)


def test_unfitted_model_refuses_to_score():
    for name in model_names():
        with pytest.raises(NotFittedError):
            get_model(name).recommend([1, 2], k=3)


def test_score_shape_and_dtype(fitted, split):
    scores = fitted.score(split.test.histories.rows(0, 5), users=split.test.users[:5])
    assert scores.shape == (5, split.train.n_items) and scores.dtype == np.float32
    # finite, or -inf for "never recommend" (the proxy's unlisted items); never NaN or +inf
    assert not np.isnan(scores).any() and not np.isposinf(scores).any()
    assert np.isfinite(scores).all() or fitted.name == "proxy"


def test_recommend_one_and_batch(fitted, split):
    history = split.test.histories[0]
    items, scores = fitted.recommend(history, k=10)
    assert items.shape == scores.shape == (10,)
    assert not set(items) & set(history), "seen items must be excluded"
    assert (np.diff(scores) <= 0).all()
    batch_items, batch_scores = fitted.recommend(split.test.histories.take(np.arange(3)), k=10)
    assert batch_items.shape == (3, 10)
    # Same answer for the same history, whether alone or in a batch (list of arrays or Ragged).
    assert np.array_equal(batch_items[0], items)
    listed, _ = fitted.recommend([split.test.histories[j] for j in range(3)], k=10)
    assert np.array_equal(listed, batch_items)


def test_recommend_can_include_seen(fitted, split):
    history = split.test.histories[0]
    items, _ = fitted.recommend(history, k=fitted.n_items_, exclude_seen=False)
    assert set(history) <= set(items)


def test_k_larger_than_catalogue(fitted):
    items, scores = fitted.recommend([0, 1, 2], k=10**6)
    assert len(items) == fitted.n_items_ - 3 and len(set(items)) == len(items)
    batch, batch_scores = fitted.recommend([np.array([0, 1, 2]), np.array([5])], k=fitted.n_items_)
    assert batch.shape == (2, fitted.n_items_)
    assert (batch[0] == -1).sum() == 3 and np.isneginf(batch_scores[0][-3:]).all()


@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_bad_k_is_refused(fitted, k):
    with pytest.raises(ParameterError, match="k must be a positive integer"):
        fitted.recommend([0, 1], k=k)


def test_unknown_items_in_history(fitted):
    with pytest.raises(DataError, match="unknown item"):
        fitted.recommend([0, fitted.n_items_ + 5], k=5)
    with pytest.raises(DataError, match="unknown item"):
        fitted.recommend([-1], k=5)


def test_empty_history_gets_recommendations(fitted):
    items, _ = fitted.recommend([], k=5)
    assert len(items) == 5


def test_save_load_gives_identical_scores(fitted, split, tmp_path):
    fitted.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert type(again) is type(fitted) and again.get_params() == fitted.get_params()
    histories = split.test.histories.rows(0, 20)
    users = split.test.users[:20]
    assert np.array_equal(again.score(histories, users=users), fitted.score(histories, users=users))


def test_fitting_twice_is_deterministic(split):
    for name in model_names():
        a = get_model(name, **FAST_PARAMS.get(name, {})).fit(split.train)
        b = get_model(name, **FAST_PARAMS.get(name, {})).fit(split.train)
        h = split.test.histories.rows(0, 10)
        assert np.array_equal(a.score(h), b.score(h)), name


def test_params_round_trip_and_unknown_names():
    model = get_model("pop", half_life_days=30.0)
    assert model.get_params() == {"half_life_days": 30.0}
    assert model.set_params(half_life_days=None) is model and model.half_life_days is None
    with pytest.raises(ParameterError, match="no parameter"):
        model.set_params(alpha=1)
    with pytest.raises(ParameterError, match="no parameter"):
        get_model("pop", alpha=1)
    with pytest.raises(ParameterError, match="unknown model"):
        get_model("nope")


# -- Popularity ---------------------------------------------------------------------------------------------
def test_popularity_counts_and_recency(tiny):
    pop = get_model("pop").fit(tiny)
    assert pop.popularity_.tolist() == tiny.item_popularity().tolist()
    items, _ = pop.recommend(np.array([], dtype=int), k=2)
    assert tiny.item_ids[items].tolist() == [10, 11]
    # With a 1-second half-life only the newest interaction (user 3's item 11 at t=8) matters.
    trending = get_model("pop", half_life_days=1 / 86400).fit(tiny)
    assert tiny.item_ids[trending.recommend([], k=1)[0]].tolist() == [11]
    with pytest.raises(ParameterError):
        get_model("pop", half_life_days=-1).fit(tiny)


def test_ragged_and_list_histories_score_alike(split):
    pop = get_model("pop").fit(split.train)
    ragged = split.test.histories.take(np.arange(4))
    assert isinstance(ragged, Ragged)
    assert np.array_equal(pop.score(ragged), pop.score(ragged.rows()))


# -- proxy (bring your own recommendations) ------------------------------------------------------------------
def test_proxy_reproduces_the_files_lists_and_evaluates_like_the_source(split, ml100k, proxy_file):
    from recsys.evaluate import evaluate

    proxy = get_model("proxy", path=str(proxy_file)).fit(split.train)
    markov = get_model("markov").fit(split.train)
    j = np.arange(5)
    got, _ = proxy.recommend(split.test.histories.take(j), k=20, users=split.test.users[j])
    want, _ = markov.recommend(split.test.histories.take(j), k=20, users=split.test.users[j])
    assert np.array_equal(got, want)
    sub = split.test.__class__(split.test.users[:300], split.test.histories.take(np.arange(300)),
                               split.test.targets.take(np.arange(300)), split.test.ratings[:300])
    a = evaluate(proxy, sub, split.train, k=(10,)).metrics["ndcg@10"]
    b = evaluate(markov, sub, split.train, k=(10,)).metrics["ndcg@10"]
    assert a == pytest.approx(b)


def test_proxy_files_with_unknown_ids_or_bad_columns_get_clear_messages(split, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rank\nnobody,nothing,1\nghost,void,2\n")
    with pytest.raises(DataError, match="2 unknown users, 2 unknown items"):
        get_model("proxy", path=str(bad)).fit(split.train)
    bad.write_text("user,item\n1,1\n")
    with pytest.raises(DataError, match="'rank' or 'score'"):
        get_model("proxy", path=str(bad)).fit(split.train)
    bad.write_text("user,item,score\n1,1,high\n")
    with pytest.raises(DataError, match="line 2.*score"):
        get_model("proxy", path=str(bad)).fit(split.train)
    some = tmp_path / "some.csv"
    some.write_text("user,item,rank\n1,1,1\n1,999999,2\nstranger,1,1\n")
    model = get_model("proxy", path=str(some)).fit(split.train)
    assert (model.unknown_users_, model.unknown_items_, model.rows_) == (1, 1, 1)
    with pytest.raises(ParameterError, match="needs path"):
        get_model("proxy").fit(split.train)
