"""Bayesian PMF: it recovers a known noise level, its intervals cover what they say on data drawn from
the model, its uncertainty shrinks with evidence, it saves and folds in, Thompson draws vary."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recsys.data.dataset import build_dataset
from recsys.errors import DataError, NotApplicable, ParameterError
from recsys.explain import explain_items
from recsys.models import get_model, load_model
from recsys.models.bpmf import mixture_quantiles
from recsys.split import random_split

NOISE_SD = 0.5


@pytest.fixture(scope="module")
def planted():
    """Ratings drawn from a rank-3 model plus N(0, 0.5²) noise: 300 users with 5 to 60 ratings each."""
    rng = np.random.default_rng(1)
    n_users, n_items, d = 300, 200, 3
    U, V = rng.normal(0, 0.6, (n_users, d)), rng.normal(0, 0.6, (n_items, d))
    rows = []
    for u in range(n_users):
        items = rng.choice(n_items, rng.integers(5, 61), replace=False)
        rows += [(u, i, 3.0 + U[u] @ V[i] + rng.normal(0, NOISE_SD)) for i in items]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    frame["timestamp"] = np.arange(len(frame))
    ds = build_dataset(frame, name="planted", source="test")
    return ds, random_split(ds, test=0.2, seed=0)


@pytest.fixture(scope="module")
def fitted(planted):
    return get_model("bpmf", dim=3, burn_in=60, samples=120, keep=20).fit(planted[1].train)


@pytest.fixture
def alike(fitted):
    """The fitted model with every rating of a fold-in weighing alike: the sampler's own conditional,
    and the fold-in ``lead_terms`` bounds."""
    half_life = fitted.fold_in_half_life
    yield fitted.set_params(fold_in_half_life=None)
    fitted.set_params(fold_in_half_life=half_life)


def test_recovers_the_noise_and_beats_the_mean(fitted, planted):
    split = planted[1]
    noise = fitted.noise_precision_ ** -0.5
    assert abs(noise.mean() - NOISE_SD) < 0.08, noise
    errors = fitted.rating_errors(split.test)
    baseline = float(np.sqrt(np.mean((split.test.ratings - split.train.rating.mean()) ** 2)))
    assert errors["rmse"] < 0.8 * baseline, (errors, baseline)


@pytest.mark.parametrize("level", [0.5, 0.8, 0.9])
def test_intervals_cover_what_they_say(fitted, planted, level):
    """On data drawn from the model, the central ``level`` intervals hold about ``level`` of held-out
    ratings (binomial noise on ~1,900 ratings is ±0.02)."""
    errors = fitted.rating_errors(planted[1].test)
    assert abs(errors[f"coverage_{round(level * 100)}"] - level) < 0.05, errors


def test_fewer_ratings_wider_intervals(fitted, planted):
    """Parameter uncertainty: the 10% of users with the fewest training ratings get wider intervals
    than the 10% with the most (same items)."""
    train = planted[1].train
    counts = np.bincount(train.user, minlength=train.n_users)
    order = np.argsort(counts, kind="stable")
    few, many = order[:30], order[-30:]
    items = np.arange(train.n_items)
    width = {}
    for name, group in (("few", few), ("many", many)):
        users = np.repeat(group, len(items))
        low, high = fitted.predict_interval(users, np.tile(items, len(group)), 0.9)
        width[name] = float(np.mean(high - low))
    assert width["few"] > width["many"], width


def test_mixture_quantiles_match_scipy_and_sampling():
    q = mixture_quantiles(np.array([[1.0]]), np.array([[2.0]]), np.array([0.05, 0.5, 0.95]))[0]
    assert np.allclose(q, stats.norm(1.0, 2.0).ppf([0.05, 0.5, 0.95]), atol=1e-6)
    means, sds = np.array([[-2.0, 3.0]]), np.array([[0.5, 1.0]])
    draws = np.concatenate([stats.norm(-2, 0.5).rvs(200_000, random_state=0),
                            stats.norm(3, 1.0).rvs(200_000, random_state=1)])
    levels = np.array([0.1, 0.5, 0.9])
    assert np.allclose(mixture_quantiles(means, sds, levels)[0], np.quantile(draws, levels), atol=0.03)


def test_save_load_same_predictions_and_intervals(fitted, planted, tmp_path):
    users, items = np.array([0, 5, 299]), np.array([3, 100, 199])
    loaded = load_model(fitted.save(tmp_path / "bpmf"))
    assert np.array_equal(loaded.predict(users, items), fitted.predict(users, items))
    for a, b in zip(loaded.predict_interval(users, items), fitted.predict_interval(users, items)):
        assert np.array_equal(a, b)


def test_fold_in_with_the_users_ratings_ranks_like_the_learned_user(alike, planted):
    """A known user's ratings folded in give (nearly) the learned posterior: per user, the Spearman
    correlation between the two item orders is high."""
    train = planted[1].train
    for u in (0, 1, 2, 3, 4):
        mine = train.user == u
        folded = alike.fold_in(train.item[mine], train.rating[mine])[0].mean(axis=0)
        learned = alike.user_samples_[:, u].mean(axis=0)
        items = alike.item_samples_.mean(axis=0)
        rho = stats.spearmanr(items @ folded, items @ learned).statistic
        assert rho > 0.9, (u, rho)


def test_the_fold_in_weighs_the_latest_ratings_more(fitted, planted):
    """Each rating's likelihood is raised to its weight — halving every ``fold_in_half_life`` ratings
    back from the latest, averaging 1 — so, per draw, the fold-in's mean solves
    (Lambda_U + alpha Σ w v vᵀ) m = Lambda_U mu_U + alpha Σ w (r − mu) v (checked per user), the order
    of the history matters, and no bound on removals is claimed (a removal moves the others' weights)."""
    train = planted[1].train
    half_life = fitted.fold_in_half_life
    assert half_life is not None
    for u in (0, 1, 2, 3, 4):
        mine = train.user == u
        history, ratings = train.item[mine], train.rating[mine].astype(np.float64)
        n = len(history)
        w = 0.5 ** (np.arange(n)[::-1] / half_life)
        w *= n / w.sum()
        np.testing.assert_allclose(fitted.fold_in_weights(n), w, err_msg=f"user {u}")
        mean, _ = fitted.fold_in(history, ratings)
        for s in range(fitted.keep):
            V = fitted.item_samples_[s, history].astype(np.float64)
            alpha, mu_u, lam_u = (fitted.noise_precision_[s], fitted.hyper_user_[s, 0],
                                  fitted.hyper_user_[s, 1:])
            precision = lam_u + alpha * (V * w[:, None]).T @ V
            shift = lam_u @ mu_u + alpha * V.T @ (w * (ratings - fitted.global_mean_))
            np.testing.assert_allclose(precision @ mean[s], shift, atol=1e-6, err_msg=f"user {u}, draw {s}")
        reversed_order = fitted.score([history[::-1]], users=[u])[0]
        assert not np.allclose(reversed_order, fitted.score([history], users=[u])[0]), f"user {u}"
        assert fitted.lead_terms(history, [0], 3, user=u) is None, f"user {u}"


def test_each_draws_fold_in_is_the_conditional_its_users_were_drawn_from(ml100k_split):
    """Folding a training user's ratings in under kept draw s gives the Gaussian the sampler drew that
    user's vector from in draw s, so the squared Mahalanobis distance of the stored vector averages
    about dim (chi-squared) over users, draw by draw. The chain turns the factors as it runs, so a
    single prior for every draw fails this on the early draws (7.1 for the first of six)."""
    train = ml100k_split.train
    model = get_model("bpmf", burn_in=20, samples=60, keep=6, fold_in_half_life=None).fit(train)
    users = np.arange(0, train.n_users, 3)
    distance = np.zeros(model.keep)
    for u in users:
        mine = train.user == u
        mean, cov = model.fold_in(train.item[mine], train.rating[mine])
        diff = model.user_samples_[:, u] - mean
        distance += np.einsum("sd,sd->s", diff, np.linalg.solve(cov, diff[..., None])[..., 0])
    distance /= len(users)
    for s, value in enumerate(distance):        # sd of each mean: sqrt(2 dim / users) = 0.25
        assert abs(value - model.dim) < 1.0, f"draw {s}: mean squared distance {value:.2f}, not ~{model.dim}"


def test_batched_fold_in_scores_each_history_as_alone(fitted):
    """Scoring many histories at once (occlusion's batches) gives, per history, the posterior mean of
    its own fold-in — including an empty history (the prior) and a repeated item."""
    histories = [np.array([0, 5, 9]), np.array([], np.int64), np.array([3, 3, 150]), np.arange(40)]
    batch = fitted.score(histories)
    for j, h in enumerate(histories):
        mean, _ = fitted.fold_in(h)
        alone = fitted.global_mean_ + np.einsum("sd,sid->i", mean, fitted.item_samples_) / len(mean)
        assert np.allclose(batch[j], alone, atol=1e-4), f"history {j}"


def test_thompson_ranks_by_one_posterior_draw_per_call(planted):
    """Each Thompson row is exactly one kept draw's scores for that user; calls draw anew; the
    posterior-mean model scores with the average of the draws."""
    train = planted[1].train
    model = get_model("bpmf", dim=3, burn_in=20, samples=40, keep=20, thompson=True).fit(train)
    users = np.arange(5)
    histories = [train.item[train.user == u] for u in users]
    per_draw = model.global_mean_ + np.einsum("snd,sid->sni", model.user_samples_[:, users],
                                              model.item_samples_)  # (keep, users, items)
    picked = set()
    for _ in range(10):
        rows = model.score(histories, users=users)
        for j, u in enumerate(users):
            match = np.flatnonzero(np.abs(per_draw[:, j] - rows[j]).max(axis=1) < 1e-4)
            assert len(match) >= 1, f"user {u}: a Thompson row that is no posterior draw"
            picked.add(int(match[0]))
    assert len(picked) > 5, picked


def test_a_known_users_list_folds_in_the_ratings_they_gave(fitted, planted):
    """Without Thompson sampling a known user is ranked by their history folded in with their training
    ratings (an item they did not rate counts at the implicit rating), and each listed item's
    explanation stands at the item's place in that list (one computation, checked per item)."""
    train = planted[1].train
    assert not fitted.per_user_parameters
    for u in (0, 1, 2, 3, 4):
        mine = train.user == u
        unrated = np.setdiff1d(np.arange(train.n_items), train.item[mine])[0]
        history = np.append(train.item[mine], unrated)
        ratings = np.append(train.rating[mine], fitted.implicit_rating_)
        np.testing.assert_allclose(fitted.known_ratings(u, history), ratings, rtol=1e-6)
        mean, _ = fitted.fold_in(history, ratings)
        alone = fitted.global_mean_ + np.einsum("sd,sid->i", mean, fitted.item_samples_) / len(mean)
        assert np.allclose(fitted.score([history], users=[u])[0], alone, atol=1e-4), f"user {u}"
        listed = fitted.recommend(history, k=5, users=[u])[0]
        for place, e in enumerate(explain_items(fitted, history, listed, user=u), start=1):
            assert e.rank == place, f"user {u}, item {e.item}: explained at #{e.rank}, listed at #{place}"
        summary = fitted.rating_summary(listed, user=u, history=history)
        assert np.all(np.diff(summary["predicted"]) <= 1e-5), f"user {u}: predictions out of list order"


def test_bad_input_is_refused(fitted, ml100k):
    with pytest.raises(DataError, match="unknown user"):
        fitted.predict(np.array([10_000]), np.array([0]))
    with pytest.raises(DataError, match="ratings for"):
        fitted.fold_in([1, 2], [4.0])
    with pytest.raises(ParameterError, match="keep"):
        get_model("bpmf", samples=5, keep=10).fit(ml100k)
    with pytest.raises(ParameterError, match="level"):
        fitted.predict_interval([0], [0], level=1.5)
    implicit = build_dataset(pd.DataFrame({"user": [1, 1, 2], "item": [1, 2, 1]}), name="x", source="t")
    with pytest.raises(NotApplicable, match="ratings"):
        get_model("bpmf").fit(implicit)


def test_the_posterior_narrows_as_a_users_ratings_are_folded_in(fitted, planted):
    """Per user (five with the most training ratings): the model's own spread for an item after all of
    their ratings is below the prior's (no ratings), and the path ends where the full fold-in is."""
    train = planted[1].train
    counts = np.bincount(train.user, minlength=train.n_users)
    for u in np.argsort(-counts, kind="stable")[:5]:
        mine = train.user == u
        path = fitted.posterior_path(train.item[mine], train.rating[mine], item=7)
        assert path["items"][0] == 0 and path["items"][-1] == mine.sum(), (u, path["items"])
        # What is left is the item vectors' own spread, which no user rating narrows.
        assert path["model_sd"][-1] < 0.75 * path["model_sd"][0], (u, path["model_sd"])
        assert np.all(path["low"] <= path["predicted"]) and np.all(path["predicted"] <= path["high"]), u
        full = fitted.rating_summary([7], history=train.item[mine], ratings=train.rating[mine])
        assert np.isclose(full["predicted"][0], path["predicted"][-1]), u
        known = fitted.rating_summary([7], user=int(u))
        assert abs(known["predicted"][0] - full["predicted"][0]) < 0.5, (u, known, full)


@pytest.mark.parametrize("user, removable", [(None, None), (0, None), (7, None), (11, None),
                                           (7, "even"), (None, "first 4")])
def test_the_lead_bound_holds_for_every_set_of_removals(alike, planted, user, removable):
    """``lead_terms`` let the counterfactual search prove that no set of k removals exists: each
    bound must lie below the true lead after every set of up to k removals, checked for each listed
    item, each other item and each of the 175 sets of a 10-item history (the failing case named); with
    ``removable``, every set of those positions (the branch and bound keeps the others)."""
    from itertools import combinations

    from recsys.explain.counterfactual import lowest_lead

    train = planted[1].train
    history = train.item[train.user == (user if user is not None else 3)][:10].astype(np.int64)
    users = None if user is None else [user]
    items = alike.recommend(history, k=3, users=users)[0]
    mask = {None: np.ones(10, bool), "even": np.arange(10) % 2 == 0, "first 4": np.arange(10) < 4}[removable]
    floors = lowest_lead(*alike.lead_terms(history, items, 3, user=user,
                                            removable=None if removable is None else mask), 3)
    # The branch and bound asks for a few other items only: the same numbers as their columns of all
    some = np.array([5, 0, 17])
    part, whole = (alike.lead_terms(history, items, 3, user=user, removable=mask, others=o)
                   for o in (some, None))
    assert np.allclose(part[0], whole[0][:, some]) and np.allclose(part[1], whole[1][:, some])
    sets = [()] + [c for k in (1, 2, 3) for c in combinations(np.flatnonzero(mask).tolist(), k)]
    scores = alike.score([np.delete(history, list(c)) for c in sets],
                          users=None if user is None else [user] * len(sets))
    for j, item in enumerate(items):
        leads = scores[:, [item]] - scores                                 # (sets, items)
        gap = leads - floors[j]
        r, c = np.unravel_index(np.argmin(gap), gap.shape)
        assert gap[r, c] >= -1e-9, f"user {user}, item {item} over {c}, removing {sets[r]}: lead " \
                                   f"{leads[r, c]:.6f} below its bound {floors[j, c]:.6f}"


def test_long_histories_get_a_proof_that_no_few_removals_would_do(alike, planted):
    """Where a heavy user's list top cannot be moved by 3 removals, the search says it is proved, and
    re-scoring the sets it could not rule out confirms none moves the item (per item)."""
    train = planted[1].train
    user = int(np.bincount(train.user).argmax())
    history = train.item[train.user == user].astype(np.int64)
    items = alike.recommend(history, k=3, users=[user])[0]
    facts = [e.counterfactual for e in explain_items(alike, history, items, user=user, max_removals=1)]
    assert any(f.proved_none for f in facts), [(f.found, f.rank_after) for f in facts]
    for item, f in zip(items, facts):
        if f.proved_none:
            assert not f.found, item
            singles = alike.score([np.delete(history, p) for p in range(len(history))],
                                   users=[user] * len(history))
            own = singles[:, item]
            singles[:, history] = -np.inf
            assert ((singles > own[:, None]).sum(axis=1) < f.cutoff).all(), f"item {item}"


@pytest.mark.parametrize("user", [None, 7])
def test_branch_and_bound_decides_as_exhaustive_search_does(alike, planted, user):
    """On a 10-item history and up to 3 removals, every set can be scored: the branch and bound must
    find a set exactly when one exists (and the set it returns must work when re-scored), and say
    "none" otherwise, for each of the list's items and cutoffs (the failing case named)."""
    import itertools
    from itertools import combinations

    from recsys.explain.counterfactual import branch_and_bound, excluded_mask, ranks_in
    from recsys.explain.history import bind_user

    train = planted[1].train
    history = train.item[train.user == (user if user is not None else 3)][:10].astype(np.int64)
    model = bind_user(alike, user)
    excluded = excluded_mask(alike.n_items_, history)
    sets = [c for k in (1, 2, 3) for c in combinations(range(10), k)]
    scores = model.score([np.delete(history, list(c)) for c in sets])
    outcomes = set()
    for item in alike.recommend(history, k=5, users=None if user is None else [user])[0]:
        ranks = ranks_in(scores, np.full(len(sets), item), excluded)
        for limit, k in itertools.product((5, 10, 20), (1, 2, 3)):
            status, removed, nodes = branch_and_bound(model, history, int(item), limit, max_removals=k,
                                                      excluded=excluded, max_nodes=5000)
            exists = bool((ranks[[len(c) <= k for c in sets]] > limit).any())
            case = f"user {user}, item {item}, top {limit}, {k} removals: {status} after {nodes} nodes, " \
                   f"exists {exists}"
            assert status == ("found" if exists else "none"), case
            if status == "found":
                assert len(removed) <= k and ranks_in(model.score([np.delete(history, removed)]),
                                                      np.array([item]), excluded)[0] > limit, case
            outcomes.add(status)
    assert outcomes == {"found", "none"}, outcomes          # both answers were exercised


def test_only_a_bounded_list_can_be_settled(alike, planted):
    """The Explanations page offers the branch and bound where the model bounds its list: Bayesian MF's
    posterior-mean list with every rating alike, not a Thompson draw, not a fold-in weighted to the latest
    ratings (a removal moves the others' weights), and not a model without ``lead_terms``."""
    import copy

    from recsys.explain.counterfactual import can_decide

    drawn = copy.copy(alike)
    drawn.thompson = True
    weighted = copy.copy(alike).set_params(fold_in_half_life=3.0)
    assert can_decide(alike) and not can_decide(drawn) and not can_decide(weighted)
    assert not can_decide(get_model("itemknn").fit(planted[1].train))
