"""Overlap, paired bootstrap, segments and re-ranking, checked on hand-made cases."""
import numpy as np
import pytest

from recsys.compare import (PairTest, activity_segment, compare_all, find_pair, holm, jaccard,
                            overlap_matrix, paired_bootstrap, pairs_matrix,
                            popularity_segment, segment_errors, segment_means)
from recsys.errors import ParameterError
from recsys.metrics import intra_list_diversity
from recsys.rerank import rerank


def test_jaccard_by_hand():
    assert jaccard([1, 2, 3], [2, 3, 4]) == pytest.approx(2 / 4)
    assert jaccard([1, -1], [1]) == 1.0 and jaccard([], []) == 1.0 and jaccard([1], [2]) == 0.0
    m = overlap_matrix({"a": np.array([1, 2]), "b": np.array([2, 3])})
    assert m.loc["a", "a"] == 1.0 and m.loc["a", "b"] == pytest.approx(1 / 3)


def test_bootstrap_detects_a_real_difference_and_not_a_null_one():
    rng = np.random.default_rng(0)
    base = rng.random(500)
    better = paired_bootstrap(base + 0.05, base)
    assert better.significant and better.low > 0 and better.diff == pytest.approx(0.05)
    assert better.verdict("A", "B").startswith("A beats B on NDCG@10 by 0.0500")
    assert "p < 0.0001" in better.verdict("A", "B") and "Holm" not in better.verdict("A", "B")
    noise = paired_bootstrap(base, base[::-1].copy())
    assert noise.low < noise.diff < noise.high
    same = paired_bootstrap(base, base + np.where(np.arange(500) % 2, 0.01, -0.01))
    assert not same.significant and "cannot be told apart" in same.verdict("A", "B")
    with pytest.raises(ParameterError):
        paired_bootstrap([1.0], [2.0])
    with pytest.raises(ParameterError):
        paired_bootstrap([1.0, 2.0], [2.0])


@pytest.mark.parametrize("shift", [0.0, 0.01, 0.02, 0.03, 0.05, -0.02])
def test_one_pair_interval_and_verdict_agree(shift):
    """The issue's contradiction: a green verdict over a test that says otherwise. With one pair the
    verdict is significant exactly when the interval leaves zero."""
    rng = np.random.default_rng(3)
    base = rng.random(400)
    t = paired_bootstrap(base + shift + rng.normal(0, 0.2, 400), base)
    assert t.significant == (t.low > 0 or t.high < 0), (shift, t)
    assert t.significant == (t.p_value < 0.05), (shift, t)


def test_holm_by_hand():
    # p sorted: 0.01·3 = 0.03, 0.02·2 = 0.04, 0.04·1 = 0.04 (kept monotone)
    assert np.allclose(holm([0.04, 0.01, 0.02]), [0.04, 0.03, 0.04])
    assert np.allclose(holm([0.5, 0.6]), [1.0, 1.0])
    assert np.allclose(holm([0.03]), [0.03])


def test_all_pairs_are_one_family():
    rng = np.random.default_rng(4)
    base = rng.random(300)
    values = {"x": base + 0.1, "y": base + 0.1 + rng.normal(0, 0.3, 300) * 0.05, "z": base}
    tests = compare_all(values, resamples=2000)
    assert [(t.a, t.b) for t in tests] == [("x", "y"), ("x", "z"), ("y", "z")]
    assert all(t.pairs == 3 for t in tests)
    assert np.allclose([t.p_adjusted for t in tests], holm([t.p_value for t in tests]))
    xz = find_pair(tests, "z", "x")
    assert xz.diff == pytest.approx(-0.1) and xz.high < 0 and xz.significant
    assert "x beats z" in xz.verdict("z", "x")
    # the pair found in the family is the pair tested alone, with the correction on top
    alone = paired_bootstrap(values["x"], values["z"], resamples=2000)
    assert find_pair(tests, "x", "z").p_adjusted >= alone.p_value
    matrix = pairs_matrix(tests, {"x": "X", "y": "Y", "z": "Z"})
    assert matrix["difference"].loc["X", "Z"] == pytest.approx(0.1)
    assert matrix["difference"].loc["Z", "X"] == pytest.approx(-0.1)
    assert bool(matrix["significant"].loc["Z", "X"]) and np.isnan(matrix["difference"].loc["X", "X"])
    with pytest.raises(ParameterError):
        find_pair(tests, "x", "w")
    with pytest.raises(ParameterError):
        compare_all({"x": base})


def test_a_difference_that_does_not_survive_the_correction_says_so():
    t = PairTest("a", "b", 0.2, 0.19, 0.01, 0.001, 0.02, 0.03, 0.09, 3, 100, 0.95, 10_000)
    text = t.verdict("A", "B")
    assert not t.significant and "once 3 pairs are compared" in text and "does not survive" in text


def test_bootstrap_interval_covers_the_normal_approximation():
    rng = np.random.default_rng(1)
    d = rng.normal(0.1, 1.0, 2000)
    r = paired_bootstrap(d, np.zeros_like(d), resamples=4000)
    se = d.std() / np.sqrt(len(d))
    assert r.low == pytest.approx(d.mean() - 1.96 * se, abs=0.015)
    assert r.high == pytest.approx(d.mean() + 1.96 * se, abs=0.015)


def test_segments():
    seg = activity_segment(np.array([5, 20, 49, 150, 300]))
    assert list(seg) == ["1–19", "20–49", "20–49", "100–199", "200+"]
    pop = np.arange(100)[::-1].astype(float)  # item 0 most popular
    assert list(popularity_segment(np.array([0, 10, 99]), pop)) == ["head (top 5%)", "torso (5–20%)",
                                                                    "tail (80%)"]
    table = segment_means({"m": np.array([1.0, 0.0, 0.5, 1.0, 1.0])}, seg)
    assert table.loc["20–49", "m"] == 0.25 and table.loc["20–49", "users"] == 2
    assert table.loc["50–99", "users"] == 0
    errors = segment_errors({"m": np.array([1.0, 0.0, 0.5, 1.0, 1.0])}, seg)
    # 20–49 holds 0.0 and 0.5: sd 0.3536, n 2 -> 1.96 · 0.3536 / √2 = 0.49; one user or none: no interval
    assert errors.loc["20–49", "m"] == pytest.approx(0.49)
    assert errors.loc[["1–19", "50–99"], "m"].isna().all()


def test_rerank_keeps_order_at_lambda_one_and_diversifies_below():
    items = np.array([0, 1, 2, 3, 4])
    scores = np.array([5.0, 4.9, 4.8, 1.0, 0.5])
    genres = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1]], float)
    same, _ = rerank(items, scores, 3, vectors=genres, lam=1.0)
    assert same.tolist() == [0, 1, 2]
    diverse, _ = rerank(items, scores, 3, vectors=genres, lam=0.3)
    assert diverse[0] == 0 and 3 in diverse
    from scipy import sparse
    g = sparse.csr_matrix(genres)
    assert (intra_list_diversity(diverse[None], g)[0] > intra_list_diversity(same[None], g)[0])


def test_rerank_popularity_penalty_and_bad_knobs():
    items, scores = np.array([0, 1, 2, -1]), np.array([1.0, 0.9, 0.0, -np.inf])
    pop = np.array([1000.0, 1.0, 1.0])
    assert rerank(items, scores, 2)[0].tolist() == [0, 1]
    assert rerank(items, scores, 2, popularity=pop, popularity_penalty=0.5)[0].tolist() == [1, 0]
    # A filter that leaves no candidate: an empty list, not a reduction over nothing (a fuzz-found 500).
    none = np.array([-1, -1]), np.array([-np.inf, -np.inf])
    for knobs in ({"popularity": pop, "popularity_penalty": 0.5}, {"vectors": np.eye(3), "lam": 0.5}):
        picked, relevance = rerank(*none, 2, **knobs)
        assert picked.size == 0 and relevance.size == 0, knobs
    with pytest.raises(ParameterError):
        rerank(items, scores, 2, lam=1.5)
    with pytest.raises(ParameterError):
        rerank(items, scores, 2, popularity_penalty=-1)


def test_recommend_reranked_matches_recommend_without_knobs_and_diversifies_with(ml100k_split):
    from recsys.models import get_model
    from recsys.rerank import recommend_reranked

    train = ml100k_split.train
    model = get_model("itemknn").fit(train)
    genres = train.genre_matrix()[0].toarray()
    h = ml100k_split.test.histories[0]
    plain = model.recommend(h, k=10)
    same = recommend_reranked(model, h, 10)
    assert plain[0].tolist() == same[0].tolist()
    diverse, scores = recommend_reranked(model, h, 10, lam=0.5, vectors=genres)
    assert len(set(diverse.tolist())) == 10 and not np.isin(diverse, h).any()
    np.testing.assert_allclose(scores, model.score([h])[0, diverse], rtol=1e-5)
    from scipy import sparse
    g = sparse.csr_matrix(genres)
    assert intra_list_diversity(diverse[None], g)[0] > intra_list_diversity(plain[0][None], g)[0]


def test_rbo_by_hand():
    from recsys.compare import rbo

    assert rbo([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert rbo([1, 2, 3], [4, 5, 6]) == 0.0
    # X_1 = 0, X_2 = 2: (2/2)·0.25 + (1-0.5)/0.5 · (0 + (2/2)·0.25) = 0.5
    assert rbo([1, 2], [2, 1], p=0.5) == pytest.approx(0.5)
    # the top counts more: a swap at the bottom costs less than a swap at the top
    assert rbo([1, 2, 3, 4], [1, 2, 4, 3]) > rbo([1, 2, 3, 4], [2, 1, 3, 4])
    assert rbo([1, -1], [1]) == pytest.approx(1.0)
    m = overlap_matrix({"a": np.array([1, 2]), "b": np.array([2, 1])}, "rbo")
    assert m.loc["a", "b"] == pytest.approx(rbo([1, 2], [2, 1]))
    with pytest.raises(ParameterError):
        overlap_matrix({"a": np.array([1])}, "cosine")


def test_disagreements_pick_the_largest_differences():
    from recsys.compare import disagreements

    table = disagreements(np.array([10, 11, 12, 13]), [0.0, 1.0, 0.5, 0.2], [0.0, 0.0, 1.0, 0.2], n=2)
    assert table["user"].tolist() == [11, 12] and table["difference"].tolist() == [1.0, -0.5]


def test_rank_changes_by_hand():
    from recsys.compare import rank_changes

    t = rank_changes([1, 2, 3], [2, 4, 1])
    assert t["item"].tolist() == [2, 4, 1, 3]
    assert t["change"].tolist()[0] == 1 and t["change"].tolist()[2] == -2
    assert np.isnan(t.loc[t["item"] == 4, "before"]).all() and np.isnan(t.loc[t["item"] == 3, "after"]).all()


def test_exposure_and_genre_slices_by_hand():
    import pandas as pd

    from recsys.compare import exposure_by_popularity, genre_segment, popularity_concentration

    popularity = np.arange(20, 0, -1).astype(float)  # item 0 is the most popular
    lists = np.array([[0, 1, 5], [0, 19, -1]])
    table = exposure_by_popularity(lists, popularity, k=3, bins=10)
    # 5 filled slots: items 0, 1 (decile 1), 0 (decile 1), 5 (decile 3), 19 (decile 10)
    assert table["share of slots"].tolist()[0] == pytest.approx(3 / 5)
    assert table["share of slots"].tolist()[2] == pytest.approx(1 / 5)
    assert table["share of interactions"].sum() == pytest.approx(1.0)
    assert popularity_concentration(lists, popularity, k=3) == pytest.approx(0.6)
    seg = genre_segment(np.array([0, 1, 2]), pd.Series(["Drama|War", "", "Comedy"]))
    assert list(seg) == ["Drama", "(none)", "Comedy"]


def test_edited_history_by_hand():
    from recsys.compare import edited_history

    history = [5, 3, 8, 1, 9]
    assert edited_history(history).tolist() == history
    # removed wins over moved; moved go to the end in the order given; added come last
    assert edited_history(history, removed=[3], moved=[5, 3, 8], added=[7]).tolist() == [1, 9, 5, 8, 7]
    assert edited_history(history, moved=[9]).tolist() == history  # already the latest
    assert edited_history([], added=[2, 4]).tolist() == [2, 4]


def test_cohort_masks_by_rating_profile_and_activity(ml100k, ml100k_split):
    from recsys.compare import Cohort, cohort_values

    test = ml100k_split.test
    everyone = Cohort().mask(test.users, ml100k, test)
    assert everyone.all() and Cohort().describe() == "all test users"
    liked = Cohort(min_rating=4).mask(test.users, ml100k, test)
    held_out_rating = test.ratings[test.targets.indptr[:-1]]
    assert (liked == (held_out_rating >= 4)).all() and 0 < liked.sum() < len(test)
    women = Cohort(genders=("F",), ages=(20, 30)).mask(test.users, ml100k, test)
    profile = ml100k.users.iloc[test.users]
    for j in np.flatnonzero(women)[:50]:
        assert profile["gender"].iloc[j] == "F" and 20 <= profile["age"].iloc[j] <= 30, j
    assert not (women & ~((profile["gender"] == "F") & profile["age"].between(20, 30)).to_numpy()).any()
    active = Cohort(activity=(100, 10**6)).mask(test.users, ml100k, test)
    assert (test.histories.lengths[active] >= 100).all() and active.sum() > 0
    from recsys.compare import genre_share

    horror = genre_share(ml100k, test, "Horror")
    j = int(np.argmax(horror))
    history = test.histories[j]
    by_hand = np.mean(["Horror" in ml100k.items["genres"].iloc[i].split("|") for i in history])
    assert horror[j] == pytest.approx(by_hand) and 0 < horror.mean() < 0.2
    fans = Cohort(taste=("Horror", 0.2)).mask(test.users, ml100k, test)
    assert (fans == (horror >= 0.2)).all() and 0 < fans.sum() < len(test)
    with pytest.raises(ParameterError, match="unknown genre"):
        Cohort(taste=("Space Opera", 0.1)).mask(test.users, ml100k, test)
    text = Cohort(min_rating=4, genders=("F",), occupations=("writer", "artist")).describe()
    assert text == "held-out item rated 4★ or more; gender F; writer, artist"
    cut = cohort_values({"users": test.users, "ndcg@10": np.arange(len(test), dtype=float),
                         "lists": np.zeros((len(test), 3))}, liked)
    assert len(cut["users"]) == len(cut["ndcg@10"]) == len(cut["lists"]) == liked.sum()
    with pytest.raises(ParameterError, match="not test users"):
        Cohort().mask(np.array([10**6]), ml100k, test)


def test_who_interacted_and_who_gets_an_item(ml100k):
    from recsys.compare import recommended_to
    from recsys.errors import DataError

    star_wars = int(np.flatnonzero(ml100k.item_ids == 50)[0])
    who = ml100k.interactions_of(star_wars)
    assert len(who) == ml100k.item_popularity()[star_wars] == 583
    assert who["rating"].between(1, 5).all() and who["user"].nunique() == len(who)
    with pytest.raises(DataError, match="unknown item"):
        ml100k.interactions_of(10**6)
    evaluation = {"users": np.array([7, 8, 9]), "lists": np.array([[1, 2, 3], [3, 4, 5], [5, 6, 1]])}
    assert recommended_to(evaluation, 1, k=3).tolist() == [7, 9]
    assert recommended_to(evaluation, 1, k=2).tolist() == [7] and recommended_to(evaluation, 42).tolist() == []
