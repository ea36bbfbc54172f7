"""Explanations: exactness, faithfulness (removing the top-SHAP items hurts most), attention frames,
feature SHAP and the "because you watched" line."""
import numpy as np
import pandas as pd
import pytest

from recsys.errors import DataError, ParameterError
from recsys.explain import (HistoryExplanation, attention_frame, attention_matrix, because_you_watched,
                            explain_items,
                            feature_shap, shap_history)
from recsys.models import get_model


@pytest.fixture(scope="module")
def models(ml100k_split):
    train = ml100k_split.train
    return {"itemknn": get_model("itemknn").fit(train), "markov": get_model("markov").fit(train),
            "userknn": get_model("userknn").fit(train), "bpr": get_model("bpr", epochs=3).fit(train),
            "gpt": get_model("gpt", epochs=2, layers=1, max_len=50).fit(train)}


def _histories(split, n=25, lo=20, hi=120):
    rows = split.test.histories.rows()
    return [h for h in rows if lo <= len(h) <= hi][:n]


def test_exact_contributions_sum_to_the_score(models, ml100k_split):
    model = models["itemknn"]
    for h in _histories(ml100k_split, 5):
        item = model.recommend(h, k=1)[0][0]
        e = shap_history(model, h, item)
        assert e.method == "exact" and e.base_value == 0.0
        assert e.values.sum() == pytest.approx(model.score([h])[0, item], rel=1e-5)


@pytest.mark.parametrize("name", ["markov", "userknn", "bpr", "gpt"])
def test_shapley_values_add_up_to_full_minus_empty(models, ml100k_split, name):
    model = models[name]
    h = _histories(ml100k_split, 1)[0]
    item = model.recommend(h, k=1)[0][0]
    e = shap_history(model, h, item, max_evals=4 * len(h) + 2)
    full, empty = model.score([h, np.array([], np.int64)])[:, item]
    assert e.method == "shap-permutation" and len(e.values) == len(h)
    assert e.base_value == pytest.approx(empty, abs=1e-4)
    assert e.score == pytest.approx(full, rel=1e-3, abs=1e-4)


@pytest.mark.parametrize("name", ["itemknn", "markov", "userknn", "bpr", "gpt"])
def test_removing_top_shap_items_hurts_more_than_random(models, ml100k_split, name):
    """Faithfulness: the items the explanation credits most are the ones the score depends on."""
    model = models[name]
    rng = np.random.default_rng(0)
    top_drop, random_drop = [], []
    for h in _histories(ml100k_split, 20):
        item = model.recommend(h, k=1)[0][0]
        e = shap_history(model, h, item)
        top = np.argsort(-e.values, kind="stable")[:3]
        rand = rng.choice(len(h), 3, replace=False)
        full, without_top, without_random = model.score(
            [h, np.delete(h, top), np.delete(h, rand)])[:, item]
        top_drop.append(full - without_top)
        random_drop.append(full - without_random)
    assert np.mean(top_drop) > np.mean(random_drop), (np.mean(top_drop), np.mean(random_drop))


def test_explanation_frame_and_because_line():
    titles = pd.Series(["A", "B", "C", "D"])
    e = HistoryExplanation(item=3, history=np.array([0, 1, 2]), values=np.array([0.5, -0.2, 0.9]),
                           base_value=0.0, score=1.2, method="exact")
    assert e.top(3).tolist() == [2, 0]
    assert because_you_watched(e, titles) == "Because you watched C and A"
    assert e.frame(titles)["title"].tolist() == ["C", "A", "B"]
    none = HistoryExplanation(3, np.array([0]), np.array([-0.1]), 0.0, -0.1, "exact")
    assert "No item in the history" in because_you_watched(none, titles)


def test_bad_explanation_requests(models):
    with pytest.raises(ParameterError, match="empty history"):
        shap_history(models["markov"], [], 1)
    with pytest.raises(DataError, match="unknown item"):
        shap_history(models["markov"], [1, 2], 10**6)
    with pytest.raises(DataError, match="unknown item"):
        shap_history(models["markov"], [1, 10**6], 3)
    with pytest.raises(ParameterError, match="no attention"):
        attention_frame(models["markov"], [1, 2])


@pytest.mark.parametrize("name", ["gpt", "bert"])
def test_attention_frame_rows_sum_to_one_and_name_positions(ml100k, ml100k_split, name):
    model = get_model(name, epochs=1, layers=2, heads=2, max_len=8).fit(ml100k_split.train)
    history = ml100k_split.test.histories.rows()[0][:20]
    frame = attention_frame(model, history, ml100k.items["title"])
    length = 8
    assert len(frame) == 2 * 2 * length * length
    sums = frame.groupby(["layer", "head", "query"])["weight"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-5)
    items = frame.loc[frame["query"] == frame["query"].max(), "query_item"].iloc[0]
    if name == "bert":  # [MASK] appended after the last max_len - 1 history items
        assert items == -1 and frame["key_label"].str.endswith("[MASK]").any()
        assert frame.loc[frame["key"] == 0, "key_item"].iloc[0] == history[-(length - 1)]
    else:  # causal: no weight on later positions; the last position is the latest item
        assert items == history[-1]
        assert frame.loc[frame["key"] > frame["query"], "weight"].max() == pytest.approx(0, abs=1e-7)
    matrix = attention_matrix(frame, layer=1, head=None)
    assert matrix.shape == (length, length)
    first = frame["key_item"].iloc[0]
    assert matrix.index[0] == f"0 · {ml100k.items['title'].iloc[first]}"


def test_feature_shap_is_waterfall_ready(ml100k_split):
    model = get_model("features", epochs=2).fit(ml100k_split.train)
    e = feature_shap(model, 0, 49)
    assert e.prediction == pytest.approx(float(model.predict(np.array([0]), np.array([49]))[0]), abs=1e-4)
    frame = e.frame()
    assert frame["running"].iloc[-1] == pytest.approx(e.prediction, abs=1e-6)
    assert set(frame["feature"]) == {"age", "gender", "occupation", "genres", "year", "popularity"}
    assert frame.loc[frame["feature"] == "gender", "value"].item() in model.genders_
    average = feature_shap(model, None, 49)
    assert average.frame().loc[lambda f: f["feature"] == "gender", "value"].item() == "average user"
    with pytest.raises(ParameterError, match="not a feature model"):
        feature_shap(get_model("pop").fit(ml100k_split.train), 0, 1)


@pytest.mark.parametrize("name", ["markov", "gpt", "itemknn"])
def test_many_items_at_once_match_one_at_a_time(models, ml100k_split, name):
    model = models[name]
    h = _histories(ml100k_split, 1)[0]
    items = model.recommend(h, k=4)[0]
    many = explain_items(model, h, items, permutations=2)
    for item, e in zip(items, many):
        single = shap_history(model, h, item, permutations=2)
        assert e.item == item
        np.testing.assert_allclose(e.values, single.values, rtol=1e-4, atol=1e-6)


def test_grouped_old_items_keep_the_total_exact(models, ml100k_split):
    model = models["gpt"]
    h = _histories(ml100k_split, 1, lo=60)[0]
    item = model.recommend(h, k=1)[0][0]
    e = shap_history(model, h, item, max_players=10, permutations=1)
    full, empty = model.score([h, np.array([], np.int64)])[:, item]
    assert e.score == pytest.approx(full, rel=1e-3, abs=1e-4)
    old = len(h) - 9
    assert np.allclose(e.values[:old], e.values[0])  # the group's even shares
    assert e.values[:old].sum() + e.values[old:].sum() == pytest.approx(full - empty, rel=1e-3, abs=1e-4)


def test_removal_check(models, ml100k_split):
    from recsys.explain import removal_check

    h = _histories(ml100k_split, 1)[0]
    exact = models["itemknn"]
    item = exact.recommend(h, k=1)[0][0]
    check = removal_check(exact, shap_history(exact, h, item))
    assert check.rank == 1 and len(check.drops) == len(h)  # exact contributions are the drops
    ranks = []
    for h in _histories(ml100k_split, 10):
        item = models["markov"].recommend(h, k=1)[0][0]
        ranks.append(removal_check(models["markov"], shap_history(models["markov"], h, item)).rank)
    assert np.median(ranks) <= 2, ranks
