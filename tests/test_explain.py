"""Explanations, checked case by case: each (user, item) that fails is named in the assertion.

Exactness and additivity of each method, faithfulness of each model's default method, determinism,
counterfactuals that hold when re-scored (and are as small as claimed), the stored explanations equal
the live ones, sentences, attention frames and feature SHAP."""
import copy

import numpy as np
import pandas as pd
import pytest

from recsys.errors import DataError, ParameterError
from recsys.explain import (HistoryExplanation, attention_frame, attention_matrix, available_methods,
                            because_you_watched, counterfactual_sentence, default_method, explain_items,
                            feature_shap, list_reasons, natural_title, shap_history)
from recsys.explain.counterfactual import (Counterfactual, additive_set, best_scores, excluded_mask,
                                          margins, ranks_per_row)
from recsys.explain.history import bind_user
from recsys.explain.methods import attention_rollout
from recsys.explain.quality import (curve_auc, deletion_curves, removal_check, single_removal_drops,
                                    spearman, stability)
from recsys.models import get_model


@pytest.fixture(scope="module")
def models(ml100k_split):
    train = ml100k_split.train
    out = {"itemknn": get_model("itemknn").fit(train), "markov": get_model("markov").fit(train),
           "userknn": get_model("userknn").fit(train), "bpr": get_model("bpr", epochs=3).fit(train),
           "gpt": get_model("gpt", epochs=2, layers=1, max_len=50).fit(train),
           "bert": get_model("bert", epochs=1, layers=1, max_len=50).fit(train),
           "pop": get_model("pop").fit(train),
           "ratingmf": get_model("ratingmf").fit(train),
           # every rating alike: the long histories' many-removal cases below need it
           "bpmf": get_model("bpmf", burn_in=20, samples=40, keep=5, fold_in_half_life=None).fit(train)}
    # the default fold-in (the latest ratings weigh most) on the same draws
    out["bpmf-recent"] = copy.copy(out["bpmf"]).set_params(fold_in_half_life=get_model("bpmf").fold_in_half_life)
    return out


def _cases(split, n=6, lo=20, hi=120):
    """(user, history) of the first ``n`` test users with a history of lo..hi items."""
    rows = split.test.histories.rows()
    return [(int(u), h.astype(np.int64)) for u, h in zip(split.test.users, rows) if lo <= len(h) <= hi][:n]


def _list(model, user, history, k=10):
    users = None if model.per_user_parameters else [user]
    return np.asarray(model.recommend(history, k=k, users=users)[0]).ravel()


def test_exact_terms_add_up_to_the_score(models, ml100k_split):
    for name in ("itemknn", "markov"):
        model, failures = models[name], []
        for user, h in _cases(ml100k_split, 4):
            for e in explain_items(model, h, _list(model, user, h)[:3], method="exact", user=user,
                                   counterfactual=False):
                if abs(e.values.sum() - model.score([h])[0, e.item]) > 1e-4 * max(1, abs(e.score)):
                    failures.append((name, user, e.item))
        assert not failures, f"exact terms do not add up for {failures}"


@pytest.mark.parametrize("name", ["markov", "userknn", "bpr", "gpt"])
def test_shapley_adds_up_and_reports_its_error(models, ml100k_split, name):
    model = models[name]
    user, h = _cases(ml100k_split, 1, hi=60)[0]
    items = _list(model, user, h)[:3]
    explained = explain_items(model, h, items, method="shapley", pairs=3, user=user, counterfactual=False)
    for e in explained:
        full, empty = bind_user(model, user).score([h, h[:0]])[:, e.item]
        assert e.values.sum() == pytest.approx(full - empty, rel=1e-3, abs=1e-4), (user, e.item)
        assert e.additive and e.error is not None and np.isfinite(e.error).all(), (user, e.item)
        assert e.uncertainty.startswith("sampled")


@pytest.mark.parametrize("name", ["itemknn", "markov", "userknn", "bpr", "gpt", "bert"])
def test_default_method_is_faithful_and_deterministic_per_case(models, ml100k_split, name):
    """The most-credited item's removal lowers the score at least as much as any other single removal
    (rank 1: the default methods are exact terms of linear models or occlusion), and a second run with
    another seed names the same top 3."""
    model, failures = models[name], []
    for user, h in _cases(ml100k_split, 5):
        items = _list(model, user, h)
        first = explain_items(model, h, items, user=user, counterfactual=False, seed=0)
        second = explain_items(model, h, items, user=user, counterfactual=False, seed=1)
        drops = single_removal_drops(bind_user(model, user), h, items)
        for j, (a, b) in enumerate(zip(first, second)):
            check = removal_check(model, a, drops[:, j])
            same, _ = stability([a, b])
            if check.rank != 1 or not same:
                failures.append((user, int(a.item), check.rank, same))
    assert first[0].method == default_method(model)
    assert not failures, f"{name}: (user, item, removal rank, same top 3) failing: {failures}"


@pytest.mark.parametrize("name", ["itemknn", "markov", "userknn", "bpr", "gpt", "bert", "ratingmf", "bpmf",
                                  "bpmf-recent"])
def test_counterfactuals_hold_when_rescored_and_are_minimal(models, ml100k_split, name):
    model = models[name]
    failures, found = [], 0
    for user, h in _cases(ml100k_split, 3):
        items = _list(model, user, h)
        scorer = bind_user(model, user)
        excluded = excluded_mask(model.n_items_, h)
        for e in explain_items(model, h, items, user=user):
            fact = e.counterfactual
            rank = ranks_per_row(scorer, [np.delete(h, fact.removed)], np.array([e.item]), excluded)[0][0]
            if rank != fact.rank_after or (rank > fact.cutoff) != fact.found:
                failures.append((user, e.item, "rank", int(rank), fact.rank_after, fact.found))
            if fact.found:
                found += 1
                # no member can be left out: each smaller set keeps the item in the top
                for q in fact.removed if len(fact.removed) > 1 else []:
                    rest = [p for p in fact.removed if p != q]
                    r = ranks_per_row(scorer, [np.delete(h, rest)], np.array([e.item]), excluded)[0][0]
                    if r > fact.cutoff:
                        failures.append((user, e.item, "not minimal", int(q)))
                if len(fact.removed) > fact.max_removals:
                    failures.append((user, e.item, "too many removals", len(fact.removed)))
            failures += _beyond_failures(scorer, h, e, excluded, user)
    assert not failures, f"{name}: {failures}"
    assert found > 0, f"{name}: no counterfactual found in any case"


def _beyond_failures(scorer, history, e, excluded, user) -> list[tuple]:
    """A case not found within max_removals may carry a larger set that does move the item: it must,
    re-scored, to the rank it states, and be larger than max_removals; a found case carries none."""
    fact = e.counterfactual
    if not len(fact.beyond):
        return []
    if fact.found:
        return [(user, e.item, "beyond set on a found case")]
    rank = ranks_per_row(scorer, [np.delete(history, fact.beyond)], np.array([e.item]), excluded)[0][0]
    out = []
    if rank != fact.rank_beyond or rank <= fact.cutoff:
        out.append((user, e.item, "beyond rank", int(rank), fact.rank_beyond))
    if len(fact.beyond) <= fact.max_removals or len(fact.beyond) >= len(history):
        out.append((user, e.item, "beyond size", len(fact.beyond)))
    return out


def test_long_histories_say_how_many_removals_it_takes(models, ml100k_split):
    """Bayesian MF reads every rating alike, so on the longest histories ten removals often move
    nothing; the sentence then says how many do (re-scored, each case named when it fails)."""
    from recsys.explain.quality import check_cases

    model, failures, beyond = models["bpmf"], [], 0
    titles = np.array([f"t{i}" for i in range(model.n_items_)])
    for user, h in _cases(ml100k_split, 3, lo=300, hi=2000):
        scorer, excluded = bind_user(model, user), excluded_mask(model.n_items_, h)
        explained = explain_items(model, h, _list(model, user, h), user=user)
        checked = check_cases(model, h, explained, titles, user)      # the in-app check agrees
        for e, row in zip(explained, checked):
            failures += _beyond_failures(scorer, h, e, excluded, user)
            if row["larger set holds"] is not (True if len(e.counterfactual.beyond) else None):
                failures.append((user, e.item, "check", row["larger set holds"]))
            fact = e.counterfactual   # the check says "none can exist" only when proved; blank if open
            if row["none can exist"] is not (True if fact.proved_none else False if fact.found else None):
                failures.append((user, e.item, "none can exist", row["none can exist"]))
            if len(e.counterfactual.beyond):
                beyond += 1
                sentence = counterfactual_sentence(e, titles)
                if f"Removing the {len(e.counterfactual.beyond)} history items that lower it" not in sentence:
                    failures.append((user, e.item, "sentence", sentence))
    assert not failures, failures
    assert beyond > 0, "no case of the longest histories needed more than 10 removals"


def test_a_model_that_ignores_the_history_says_so(models, ml100k_split):
    user, h = _cases(ml100k_split, 1)[0]
    e = explain_items(models["pop"], h, _list(models["pop"], user, h)[:2], user=user)[0]
    assert e.method == "none" and not e.values.any() and not e.counterfactual.found
    assert e.counterfactual.proved_none        # the score does not read the history: nothing can move it
    titles = np.array([f"T{i}" for i in range(models["pop"].n_items_)], dtype=object)
    assert "popularity alone" in because_you_watched(e, titles)
    assert "No counterfactual" in counterfactual_sentence(e, titles)
    assert available_methods(models["pop"]) == ["none"]


def test_every_method_runs_and_attention_rollout_is_a_distribution(models, ml100k_split):
    model = models["gpt"]
    user, h = _cases(ml100k_split, 1, lo=60)[0]
    items = _list(model, user, h)[:2]
    assert available_methods(model) == ["occlusion", "shapley", "integrated-gradients", "attention"]
    for method in available_methods(model):
        for e in explain_items(model, h, items, method=method, pairs=2, steps=8, counterfactual=False):
            assert e.method == method and len(e.values) == len(h) and np.isfinite(e.values).all()
            # positions the model does not read get no credit (occlusion: up to float noise of batching);
            # Shapley's coalitions drop recent items, which brings old ones into the window
            assert method == "shapley" or np.abs(e.values[:len(h) - model.max_len]).max() < 1e-5, method
    rollout = attention_rollout(model, h)
    assert (rollout >= 0).all() and rollout.sum() == pytest.approx(1.0, abs=1e-5)
    bert = attention_rollout(models["bert"], h)   # [MASK] takes part of the weight
    assert (bert >= 0).all() and bert.sum() <= 1.0 + 1e-6


def test_integrated_gradients_add_up_to_the_path(models, ml100k_split):
    """Completeness: the credits sum to score(history) − score(every item embedding zeroed), up to the
    Riemann error of the path integral."""
    import torch

    model = models["gpt"]
    user, h = _cases(ml100k_split, 1, hi=40)[0]
    item = int(_list(model, user, h)[0])
    values = model.integrated_gradients(h, [item], steps=64)[:, 0]
    tokens = torch.as_tensor(model._inputs(h))
    with torch.no_grad():
        hidden, _ = model.module_.encode(torch.zeros(1, len(tokens), model.dim), model.causal)
        baseline = float(model.module_.item_logits(hidden[:, -1], torch.tensor([item]))[0, 0])
    full = float(model.score([h])[0, item])
    assert values.sum() == pytest.approx(full - baseline, rel=0.05, abs=0.05)


def test_stored_explanations_equal_the_live_ones(models, ml100k_split):
    from recsys.explain.store import StoredExplanations, precompute

    class Few:  # a HeldOut-like slice: three users
        def __init__(self, split, rows):
            self.users = split.test.users[rows]
            self.histories = type("H", (), {"rows": lambda _s: [split.test.histories[r] for r in rows]})()

    model = models["markov"]
    stored = StoredExplanations(precompute(model, Few(ml100k_split, [0, 1, 2])))
    for r in (0, 1, 2):
        user, h = int(ml100k_split.test.users[r]), ml100k_split.test.histories[r].astype(np.int64)
        items = _list(model, user, h)
        for live in explain_items(model, h, items, user=user):
            kept = stored.get(user, h, live.item)
            assert kept is not None, (user, live.item)
            np.testing.assert_array_equal(kept.values, live.values)
            assert (kept.method, kept.rank, kept.counterfactual.rank_after, kept.counterfactual.found) == \
                (live.method, live.rank, live.counterfactual.rank_after, live.counterfactual.found)
            np.testing.assert_array_equal(kept.counterfactual.removed, live.counterfactual.removed)
        assert stored.get(user, h[:-1], items[0]) is None   # another history: not this explanation


def test_explanations_of_another_version_are_recomputed_by_the_next_build(ml100k_split):
    import json

    from recsys.artifacts import EXPLANATIONS, ArtifactStore
    from recsys.explain.store import VERSION, is_current
    from recsys.pipeline import build_model

    built = build_model("markov", ml100k_split)
    store = ArtifactStore()
    key = store.key("markov", built.model.get_params(), ml100k_split.train)
    arrays = store.explanations(key)
    assert is_current(arrays)
    stale = {**arrays, "meta": np.array(json.dumps({**json.loads(str(arrays["meta"])),
                                                     "version": VERSION - 1}))}
    store.attach(key, EXPLANATIONS, stale)
    assert not is_current(store.explanations(key))
    assert build_model("markov", ml100k_split).loaded               # no retraining
    assert is_current(store.explanations(key))


def test_quality_measures_on_known_cases():
    assert curve_auc(np.array([1.0, 1.0, 1.0])) == 1.0
    assert curve_auc(np.array([1.0, 0.0])) == 0.5
    assert spearman(np.array([1.0, 2, 3]), np.array([10.0, 20, 30])) == pytest.approx(1.0)
    assert spearman(np.array([1.0, 2, 3]), np.array([3.0, 2, 1])) == pytest.approx(-1.0)
    a = HistoryExplanation(0, np.arange(4), np.array([0.1, 0.9, 0.5, 0.3]), 0, 1, "occlusion")
    b = HistoryExplanation(0, np.arange(4), np.array([0.1, 0.5, 0.9, 0.3]), 0, 1, "occlusion")
    c = HistoryExplanation(0, np.arange(4), np.array([0.9, 0.5, 0.1, 0.3]), 0, 1, "occlusion")
    assert stability([a, b])[0] and not stability([a, c])[0]


def test_deletion_curve_of_exact_credit_sinks_the_item(models, ml100k_split):
    """ItemKNN's score is linear: removing its most-credited items lowers its rank; per case, the curve
    ends below where a random order ends."""
    model, failures = models["itemknn"], []
    rng = np.random.default_rng(0)
    for user, h in _cases(ml100k_split, 4, lo=40):
        items = _list(model, user, h)[:3]
        explained = explain_items(model, h, items, user=user, counterfactual=False)
        credit = deletion_curves(model, h, items, [np.argsort(-e.values, kind="stable") for e in explained])
        rand = deletion_curves(model, h, items, [rng.permutation(len(h)) for _ in items])
        for j, item in enumerate(items):
            if not (credit[j, 0] == 1 and credit[j, -1] < rand[j, -1]):
                failures.append((user, int(item), credit[j].round(2).tolist(), rand[j].round(2).tolist()))
    assert not failures, failures


def test_titles_in_natural_order():
    assert natural_title("Prophecy II, The (1998)") == "The Prophecy II (1998)"
    assert natural_title("Shooting Fish (1997)") == "Shooting Fish (1997)"
    assert natural_title("City of Lost Children, The (Cité des enfants perdus, La) (1995)") == \
        "The City of Lost Children (Cité des enfants perdus, La) (1995)"
    assert natural_title("Stranger in the House") == "Stranger in the House"
    assert natural_title("Homme et une femme, Un (1966)") == "Un Homme et une femme (1966)"
    assert natural_title("Age d'or, L' (1930)") == "L'Age d'or (1930)"


def test_because_line_shows_ratings_and_only_positive_credit():
    titles = np.array(["Prophecy II, The", "B", "C", "D"], dtype=object)
    e = HistoryExplanation(item=3, history=np.array([0, 1, 2]), values=np.array([0.5, -0.2, 0.9]),
                           base_value=0.0, score=1.2, method="occlusion")
    assert e.top(3).tolist() == [2, 0]
    assert because_you_watched(e, titles) == "Because you watched C and The Prophecy II"
    assert because_you_watched(e, titles, ratings={0: 1.0, 2: 5.0}) == \
        "Because you watched C (rated 5★) and The Prophecy II (rated 1★)"
    assert e.frame(pd.Series(titles))["title"].tolist() == ["C", "Prophecy II, The", "B"]
    none = HistoryExplanation(3, np.array([0]), np.array([-0.1]), 0.0, -0.1, "occlusion")
    assert "No item in your history raises" in because_you_watched(none, titles)
    # a sampled credit within two standard errors of zero is not offered as a reason
    noisy = HistoryExplanation(3, np.array([0, 1]), np.array([0.3, 0.1]), 0.0, 0.4, "shapley",
                               error=np.array([0.05, 0.2]))
    assert noisy.top(3).tolist() == [0]


def test_a_list_that_follows_one_triple_says_so_once():
    titles = np.array([f"Film {i}" for i in range(20)], dtype=object)
    history = np.arange(6)
    shared = np.array([0.0, 0.1, 0.0, 0.8, 0.7, 0.6])
    explained = []
    for j in range(10):
        values = shared.copy()
        values[j % 3] = 0.5 if j < 9 else 0.0     # each item's own extra reason
        if j == 9:
            values = np.array([0.9, 0.0, 0.0, 0.0, 0.1, 0.0])
        explained.append(HistoryExplanation(10 + j, history, values, 0.0, 1.0, "occlusion"))
    note, lines = list_reasons(explained, titles)
    assert note and "Film 3, Film 4 and Film 5" in note
    assert lines[0] == "Besides the list's shared reasons, because you watched Film 0 and Film 1"
    assert lines[1] == "Besides the list's shared reasons, because you watched Film 1"
    assert len(set(lines)) > 2
    alone, plain = list_reasons(explained[:3], titles)
    assert alone is None and plain[0].startswith("Because you watched Film 3")


def _brute_force_leaves(score_sets, item, excluded, limit):
    """Whether any of the scored histories ranks ``item`` below ``limit``."""
    own = score_sets[:, item]
    s = np.where(excluded, -np.inf, score_sets)
    return bool(((s > own[:, None]).sum(axis=1) >= limit).any())


@pytest.mark.parametrize("seed", range(40))
def test_the_bound_never_rules_out_a_set_that_exists(seed):
    # Items ranked by column sums of random terms: every set of up to 2 removals of 7 positions, tried.
    from itertools import combinations

    from recsys.explain.counterfactual import could_leave, lead_floors

    class Summed:  # a model that ranks by the column sums of its terms
        def history_terms(self, history):
            return terms

    rng = np.random.default_rng(seed)
    terms = rng.normal(size=(7, 25)) + rng.normal(size=25)          # shared item effects: real ranks
    excluded = np.zeros(25, bool)
    excluded[rng.choice(25, 3, replace=False)] = True
    sets = [c for k in (1, 2) for c in combinations(range(7), k)]
    sums = np.stack([np.delete(terms, list(c), axis=0).sum(axis=0) for c in sets])
    whole = np.where(excluded, -np.inf, terms.sum(axis=0))
    for item in np.flatnonzero(~excluded):
        limit = max(3, int((whole > whole[item]).sum()) + 1)
        exists = _brute_force_leaves(sums, item, excluded, limit)
        (floor,) = lead_floors(Summed(), np.arange(7), np.array([item]), 2)
        assert could_leave(floor, item, excluded, limit) or not exists, \
            f"seed {seed}, item {item}: ruled out, but a set of 2 removals exists"


class _Summed:
    """A model whose score is a sum over the history's rows of fixed terms: single removals' effects
    add up exactly, so the counterfactual search has no excuse to miss a set."""

    def __init__(self, terms):
        self.terms, self.n_items_ = terms, terms.shape[1]

    def score(self, histories, users=None):
        return np.stack([self.terms[np.asarray(h, np.int64)].sum(axis=0) for h in histories])


@pytest.mark.parametrize("seed", range(60))
def test_the_search_finds_a_set_wherever_effects_add_up(seed):
    # Every set of up to 3 of 10 history items, tried: where one takes the item out, the search finds one.
    # Sparse terms (each history item moves a few items) defeat the greedy steps in 5 of these seeds.
    from itertools import combinations

    from recsys.explain.counterfactual import counterfactuals

    rng = np.random.default_rng(seed)
    n_items, n = 40, 10
    terms = rng.normal(size=(n_items, n_items)) * rng.exponential(size=(n_items, 1)) + rng.normal(size=n_items)
    terms = terms * (rng.random((n_items, n_items)) < 0.15) + rng.normal(size=n_items) * 0.5
    model, history = _Summed(terms), np.arange(n)
    excluded = excluded_mask(n_items, history)
    sets = [c for k in (1, 2, 3) for c in combinations(range(n), k)]
    sums = model.score([np.delete(history, list(c)) for c in sets])
    whole = model.score([history])[0]
    items = np.flatnonzero(~excluded)[np.argsort(-whole[~excluded])][:6]
    facts = counterfactuals(model, history, items, rng.normal(size=(n, len(items))), cutoff=4,
                            max_removals=3, excluded=excluded)
    for item, fact in zip(items, facts):
        exists = _brute_force_leaves(sums, item, excluded, fact.cutoff)
        assert fact.found == exists, f"seed {seed}, item {item}: found {fact.found}, a set exists: {exists}"


def test_additive_set_is_the_smallest():
    # Three positions each pass one item; two items must pass: the smallest set has two members.
    lead = np.array([1.0, 1.0, 1.0, 5.0])
    changes = np.array([[-2.0, 0, 0], [0, -2.0, 0], [0, 0, -2.0], [-1.0, -1.0, -1.0]])
    assert len(additive_set(lead, changes, limit=2, max_removals=3)) == 2
    assert additive_set(lead, changes, limit=2, max_removals=1) is None      # one removal passes one
    assert additive_set(lead, changes, limit=4, max_removals=3) is None      # the last never passes
    # All three pass the last item together (5 − 3 · 2 < 0), so four items pass with three removals.
    changes[3] = -2.0
    assert len(additive_set(lead, changes, limit=4, max_removals=3)) == 3


def test_content_counterfactuals_proved_impossible_are(ml100k_split):
    # The content model with a plain mean ranks by a sum of per-item terms: where the search reports
    # that no set can exist, every set of up to 2 removals is re-scored to confirm it, case by case.
    from itertools import combinations

    model = get_model("content", recency_half_life=None).fit(ml100k_split.train)
    failures, proved = [], 0
    for user, h in _cases(ml100k_split, 3, lo=20, hi=40):
        items = _list(model, user, h)
        excluded = excluded_mask(model.n_items_, h)
        for e in explain_items(model, h, items, user=user, max_removals=2):
            fact = e.counterfactual
            if fact.found and fact.proved_none:
                failures.append((user, e.item, "found and proved impossible"))
            if not fact.proved_none:
                continue
            proved += 1
            sets = [c for k in (1, 2) for c in combinations(range(len(h)), k)]
            ranks, _ = ranks_per_row(model, [np.delete(h, list(c)) for c in sets],
                                     np.full(len(sets), e.item), excluded)
            if (ranks > fact.cutoff).any():
                failures.append((user, e.item, "a set exists", sets[int(np.argmax(ranks))]))
    assert not failures, failures
    assert proved > 0, "no case was proved impossible: the check did not run"


def test_counterfactual_sentence():
    titles = np.array(["Wag the Dog", "Eve's Bayou", "Apostle, The", "X"], dtype=object)
    e = HistoryExplanation(0, np.array([1, 2, 3]), np.array([0.5, 0.4, 0.0]), 0, 1, "occlusion",
                           counterfactual=Counterfactual(np.array([0, 1]), True, 1, 37, 10, 10, 5))
    assert counterfactual_sentence(e, titles) == \
        "Without Eve's Bayou and The Apostle, Wag the Dog drops from #1 to #37."
    e.counterfactual = Counterfactual(np.array([0]), False, 1, 4, 10, 10, 5)
    assert counterfactual_sentence(e, titles).startswith("No set of up to 10 history items found")
    assert counterfactual_sentence(e, titles).endswith("(the furthest it sank was #4).")
    e.counterfactual = Counterfactual(np.array([0]), False, 1, 1, 10, 10, 5)
    assert counterfactual_sentence(e, titles).endswith("(it stayed at #1).")
    e.counterfactual = Counterfactual(np.array([0]), False, 1, 2, 10, 10, 5, proved_none=True)
    assert counterfactual_sentence(e, titles).startswith("No set of up to 10 history items can take Wag "
                                                         "the Dog out of the top 10")


def test_counterfactual_sentence_of_a_folded_in_history_starts_from_its_own_rank():
    """MF ranks a known user's list with the learned vector and is explained through the folded-in
    history: the sentence names that rank instead of letting '#1 in the list' meet 'drops from #63'."""
    titles = np.array(["Wag the Dog", "Eve's Bayou", "Apostle, The", "X"], dtype=object)
    e = HistoryExplanation(0, np.array([1, 2, 3]), np.array([0.5, 0.4, 0.0]), 0, 1, "occlusion",
                           settings={"path": "folded-in history (the learned user vector has no items to "
                                             "credit)"},
                           counterfactual=Counterfactual(np.array([0]), True, 63, 81, 63, 10, 5))
    assert counterfactual_sentence(e, titles) == \
        "Folded in from the history, Wag the Dog ranks #63; without Eve's Bayou it drops to #81."
    e.counterfactual = Counterfactual(np.array([0]), False, 63, 60, 63, 10, 5)
    assert counterfactual_sentence(e, titles) == ("Folded in from the history, Wag the Dog ranks #63; no set "
                                                  "of up to 10 history items found that ranks it lower.")
    e.counterfactual = Counterfactual(np.array([0]), False, 2, 7, 10, 10, 5)
    assert counterfactual_sentence(e, titles) == (
        "Folded in from the history, Wag the Dog ranks #2; no set of up to 10 history items found whose "
        "removal takes it out of the top 10 (the furthest it sank was #7).")


def test_bad_explanation_requests(models):
    with pytest.raises(ParameterError, match="empty history"):
        shap_history(models["markov"], [], 1)
    with pytest.raises(DataError, match="unknown item"):
        shap_history(models["markov"], [1, 2], 10**6)
    with pytest.raises(DataError, match="unknown item"):
        shap_history(models["markov"], [1, 10**6], 3)
    with pytest.raises(ParameterError, match="unknown explanation method"):
        shap_history(models["markov"], [1, 2], 3, method="magic")
    with pytest.raises(ParameterError, match="no exact"):
        shap_history(models["userknn"], [1, 2], 3, method="exact")
    with pytest.raises(ParameterError, match="no attention"):
        attention_frame(models["markov"], [1, 2])
    assert explain_items(models["markov"], [1, 2], []) == []   # an empty list has nothing to explain


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
    assert matrix.index[0] == f"0 · {natural_title(ml100k.items['title'].iloc[first])}"
    # Positions are named in natural order, as every sentence names them ("The Godfather").
    inverted = attention_frame(model, history, ml100k.items["title"].map(lambda t: f"{t}, The"))
    items = inverted.drop_duplicates("key")
    for label, item in zip(items["key_label"], items["key_item"]):
        if item >= 0:
            assert label.split(" · ", 1)[1] == f"The {ml100k.items['title'].iloc[item]}", label


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
    user, h = _cases(ml100k_split, 1)[0]
    items = _list(model, user, h)[:4]
    many = explain_items(model, h, items, user=user)
    for item, e in zip(items, many):
        single = shap_history(model, h, item, user=user)
        assert e.item == item
        np.testing.assert_allclose(e.values, single.values, rtol=1e-4, atol=1e-6)
        assert e.counterfactual.rank_after == single.counterfactual.rank_after, item


def test_check_summary_counts_each_kind_of_case():
    from recsys.explain.quality import check_summary

    row = {"faithful (top 3)": True, "counterfactual holds": True, "none can exist": False}
    rows = [row, {**row, "faithful (top 3)": False, "counterfactual holds": None, "none can exist": True},
            {"faithful (top 3)": None, "counterfactual holds": None, "none can exist": None}]
    assert check_summary(rows) == ("**Faithful in 1 of 2 cases**; a counterfactual was found for 1 of 3 "
                                   "and holds when re-scored in 1; for 1 the model's terms prove that none "
                                   "exists.")
    assert check_summary([row]).endswith("re-scored in 1.")
    larger = {**row, "counterfactual holds": None, "larger set holds": True}
    assert check_summary([row, larger, {**larger, "larger set holds": False}]).endswith(
        "re-scored in 1; of the others, 2 name a larger set, which holds when re-scored in 1.")


@pytest.mark.parametrize("kind", ["ties", "dense", "zeros"])
@pytest.mark.parametrize("n_items", [30, 3000, 54542])
def test_margins_match_their_definition(kind, n_items):
    """The search's margins (best scores from block maxima, not a partition of whole rows) equal the
    definition row by row: the item's score minus the limit-th best score of the other allowed items,
    on tie-heavy scores (a neighbourhood model's zeros), distinct ones and all-equal ones."""
    rng = np.random.default_rng(n_items)
    rows = 6
    scores = {"ties": rng.integers(0, 3, (rows, n_items)) * (rng.random((rows, n_items)) < 0.01),
              "dense": rng.normal(size=(rows, n_items)),
              "zeros": np.zeros((rows, n_items))}[kind].astype(np.float32)
    excluded = rng.random(n_items) < 0.3
    items = rng.integers(0, n_items, rows)
    limits = np.array([1, 2, 10, 11, 25, n_items + 2])
    got = margins(scores, items, excluded, limits)
    for r in range(rows):
        others = np.delete(np.where(excluded, -np.inf, scores[r].astype(np.float64)), items[r])
        kth = np.sort(others)[::-1][min(limits[r], len(others)) - 1] if limits[r] <= len(others) else -np.inf
        assert got[r] == scores[r, items[r]] - kth, f"row {r} (item {items[r]}, limit {limits[r]})"
    best = best_scores(scores, excluded, 12)
    reference = -np.sort(-np.where(excluded, -np.inf, scores.astype(np.float64)), axis=1)[:, :12]
    np.testing.assert_array_equal(best, reference)
