"""GPT and BERT4Rec on sequences whose next item is determined, plus the content model."""
from __future__ import annotations

import json

import numpy as np
import pytest

from recsys.errors import ParameterError
from recsys.models import get_model, load_model

from conftest import make_dataset

SMALL = {"dim": 32, "layers": 1, "heads": 2, "max_len": 16, "dropout": 0.0, "batch_tokens": 2048,
         "content_init": False}


@pytest.fixture(scope="module")
def cycle():
    """60 users, each walking the cycle 0 -> 1 -> ... -> 19 -> 0 for 15 steps from their own start."""
    rows = [(u, (u + step) % 20, 5, step) for u in range(60) for step in range(15)]
    return make_dataset(rows)


@pytest.fixture(scope="module")
def gpt(cycle):
    return get_model("gpt", **SMALL, lr=1e-2, epochs=40).fit(cycle)


@pytest.fixture(scope="module")
def bert(cycle):
    return get_model("bert", **SMALL, lr=1e-2, epochs=200, mask_prob=0.3).fit(cycle)


def hr_at_1(model, cycle) -> float:
    histories = [np.array([(s + i) % 20 for i in range(6)]) for s in range(20)]
    items, _ = model.recommend(histories, k=1)
    return float(np.mean(items[:, 0] == np.array([(s + 6) % 20 for s in range(20)])))


def test_gpt_learns_the_cycle(gpt, cycle):
    assert hr_at_1(gpt, cycle) >= 0.95


def test_bert_learns_the_cycle(bert, cycle):
    assert hr_at_1(bert, cycle) >= 0.9


@pytest.mark.parametrize("name", ["gpt", "bert"])
def test_attention_shapes_and_rows_sum_to_one(request, name):
    model = request.getfixturevalue(name)
    history = np.array([3, 4, 5, 6, 7])
    weights = model.attention(history)
    positions = len(history) + (1 if name == "bert" else 0)  # BERT scores an appended [MASK]
    assert weights.shape == (1, 2, positions, positions)
    assert np.allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    if name == "gpt":  # causal: nothing attends to a later position
        assert np.allclose(np.triu(weights[0, 0], k=1), 0.0)


def test_attention_matches_the_scoring_path(gpt):
    # The explicit-weights path and the fast path give the same final state.
    import torch
    history = np.array([1, 2, 3, 4])
    tokens = torch.as_tensor(gpt._inputs(history)[None])
    fast, _ = gpt.module_.hidden(tokens, True)
    slow, _ = gpt.module_.hidden(tokens, True, None, need_weights=True)
    assert torch.allclose(fast, slow, atol=1e-5)


def test_bert_masking_never_leaks_the_target(bert):
    rng = np.random.default_rng(0)
    tokens = np.array([[5, 6, 7, 8, 0, 0], [1, 2, 3, 4, 5, 6], [9, 10, 0, 0, 0, 0]])
    for _ in range(20):
        inputs, masked = bert.mask_tokens(tokens, rng)
        assert (inputs[masked] == bert.n_items_ + 1).all()       # masked inputs show only [MASK]
        assert not masked[tokens == 0].any()                      # padding is never a target
        assert masked.any(axis=1).all()                           # every sequence has a target
        assert np.array_equal(inputs[~masked], tokens[~masked])   # the rest is untouched


@pytest.mark.parametrize("name", ["gpt", "bert"])
def test_save_load_identical_scores(request, name, tmp_path):
    model = request.getfixturevalue(name)
    model.save(tmp_path / name)
    again = load_model(tmp_path / name)
    histories = [np.array([1, 2, 3]), np.array([7, 8, 9, 10, 11])]
    assert np.array_equal(again.score(histories), model.score(histories))
    assert np.array_equal(again.attention(histories[1]), model.attention(histories[1]))


def test_generation_never_repeats_nor_returns_history(gpt):
    history = np.array([2, 3, 4, 5])
    for beam in (1, 3):
        items, logp = gpt.generate(history, k=10, beam_width=beam)
        assert len(items) == 10 == len(set(items.tolist()))
        assert not set(items.tolist()) & set(history.tolist())
        assert (logp <= 0).all()
    greedy, _ = gpt.generate(history, k=3)
    assert greedy.tolist() == [6, 7, 8]  # the cycle continues
    everything, _ = gpt.generate(history, k=100)
    assert len(everything) == 16  # k is cut to the items left


def test_same_seed_same_model(cycle):
    a = get_model("gpt", **SMALL, epochs=2).fit(cycle)
    b = get_model("gpt", **SMALL, epochs=2).fit(cycle)
    h = [np.array([1, 2, 3])]
    assert np.array_equal(a.score(h), b.score(h))


def test_fine_tuning_continues_from_a_trained_model(cycle):
    # Pre-train on all users, fine-tune briefly on a few: it starts far better than from scratch.
    pretrained = get_model("gpt", **SMALL, lr=1e-2, epochs=20).fit(cycle)
    few = cycle.subset(cycle.user < 5)
    scratch = get_model("gpt", **SMALL, lr=1e-2, epochs=2, cooc_init=False).fit(few)
    tuned = get_model("gpt", **SMALL, lr=1e-2, epochs=2, cooc_init=False).fit(few, init_from=pretrained)
    assert tuned.item_init_ == "warm start" and scratch.item_init_ == "random"
    assert hr_at_1(tuned, cycle) > hr_at_1(scratch, cycle) + 0.3


def test_the_co_occurrence_start_gives_a_head_start():
    # Four groups of 25 items; each user buys 12 items of one group in random order. After one epoch
    # from random item vectors GPT's lists are still mostly other groups (0.35 of the items were in the
    # user's group when written); started from the co-occurrence embedding they all are.
    rng = np.random.default_rng(0)
    rows = [(u, int(i), 5, step) for u in range(80)
            for step, i in enumerate(rng.choice(25, 12, replace=False) + 25 * (u % 4))]
    groups = make_dataset(rows)
    histories = [groups.sequences()[u][:6] for u in range(80)]

    def in_group(model) -> float:
        items, _ = model.recommend(histories, k=10)
        return float(np.mean([(groups.item_ids[items[u]].astype(int) // 25 == u % 4).mean()
                              for u in range(80)]))

    random_start = get_model("gpt", **SMALL, lr=1e-2, epochs=1, cooc_init=False).fit(groups)
    cooc_start = get_model("gpt", **SMALL, lr=1e-2, epochs=1).fit(groups)
    assert cooc_start.item_init_ == "co-occurrence" and random_start.item_init_ == "random"
    assert in_group(cooc_start) >= 0.9 and in_group(random_start) <= 0.6


def test_co_occurrence_vectors_put_neighbours_close(cycle):
    from recsys.models.sequential import cooccurrence_vectors

    vectors = cooccurrence_vectors(cycle, 8)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    for item in range(20):
        nearest = set(np.argsort(-similarity[item])[1:3].tolist())
        assert nearest == {(item - 1) % 20, (item + 1) % 20}, (item, nearest)


def test_init_from_must_match(cycle, tiny):
    model = get_model("gpt", **SMALL, epochs=1).fit(tiny)
    with pytest.raises(ParameterError, match="item ids"):
        get_model("gpt", **SMALL, epochs=1).fit(cycle, init_from=model)
    with pytest.raises(ParameterError, match="fitted"):
        get_model("gpt", **SMALL, epochs=1).fit(cycle, init_from=get_model("bert"))


def test_sampled_softmax_trains(cycle):
    model = get_model("gpt", **SMALL, lr=1e-2, epochs=40, sampled_softmax_above=5,
                      negatives=8).fit(cycle)
    assert hr_at_1(model, cycle) >= 0.8


def test_bad_transformer_parameters(tiny):
    for params in ({"dim": 30, "heads": 4}, {"dropout": 1.5}, {"layers": 0}, {"max_len": -1}):
        with pytest.raises(ParameterError):
            get_model("gpt", **{**SMALL, **params}).fit(tiny)
    with pytest.raises(ParameterError):
        get_model("bert", mask_prob=0.0).fit(tiny)
    fitted = get_model("gpt", **SMALL, epochs=1).fit(tiny)
    for k, beam in ((0, 1), (3, 0)):
        with pytest.raises(ParameterError):
            fitted.generate([1], k=k, beam_width=beam)


def test_content_init_gives_item_embeddings_from_text(ml100k, content):
    # Fused with the content vectors, two Star Trek films start (and stay, after one epoch) closer to
    # each other than to Toy Story, even in the transformer's own 64-d item space.
    titles = ml100k.items["title"].tolist()
    star = [i for i, t in enumerate(titles) if t.startswith("Star Trek")]
    toy = titles.index("Toy Story")
    model = get_model("gpt", epochs=1, layers=1, max_len=50, content_init=True).fit(ml100k)
    e = model.item_embeddings()
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    assert e[star[0]] @ e[star[1]] > e[star[0]] @ e[toy] + 0.1


def test_gpt_starts_from_co_occurrence_even_where_items_have_text(ml100k):
    # The measured default (recsys.models.gpt): the sequences' co-occurrence start beat the title vectors
    # on ml-100k; BERT4Rec keeps the text start (the co-occurrence one fails its cycle test).
    gpt = get_model("gpt", epochs=1, dim=16, layers=1, heads=1, max_len=20).fit(ml100k)
    bert = get_model("bert", epochs=1, dim=16, layers=1, heads=1, max_len=20)
    assert ml100k.has_item_text and gpt.item_init_ == "co-occurrence"
    assert bert.content_init and not bert.cooc_init


@pytest.mark.parametrize("name", ["gpt", "bert"])
def test_transition_prior_is_weighed_on_validation_and_added_to_each_score(cycle, name, tmp_path):
    from recsys import compress
    from recsys.models.sequential import (FIRST_PRIOR_CHAIN, PRIOR_CHAIN, PRIOR_COUNTS, PRIOR_DECAYS,
                                          PRIOR_FLOOR, PRIOR_WEIGHTS)
    from recsys.models.torch_utils import validation_ndcg
    from recsys.split import leave_one_out

    split = leave_one_out(cycle)
    # One epoch leaves the transformer far from the cycle; the Markov chain knows it exactly, so the
    # validation NDCG@10 must pick a positive weight for it.
    model = get_model(name, **SMALL, epochs=1, transition_prior=True).fit(split.train, valid=split.valid)
    tried = {(decay, w): score for decay, w, score in model.prior_validation_}
    assert sorted(tried) == sorted((d, w) for d in PRIOR_DECAYS for w in PRIOR_WEIGHTS)
    chosen = (model.prior_chain_["decay"], model.prior_weight_)
    assert model.prior_weight_ > 0 and tried[chosen] == max(tried.values())
    assert tried[chosen] > tried[(PRIOR_DECAYS[0], 0.0)]
    weight, settings = model.prior_weight_, model.prior_chain_
    for (decay, w), score in tried.items():  # one transformer pass served every pair: as if each was scored
        model.prior_weight_, model.prior_chain_ = w, {**PRIOR_CHAIN, "decay": decay}
        assert validation_ndcg(model, split.valid, split.train) == pytest.approx(score, abs=1e-9), \
            f"decay {decay}, weight {w}"
    model.prior_weight_, model.prior_chain_ = weight, settings
    chain = get_model("markov", **settings, **PRIOR_COUNTS).fit(split.train)
    counts = split.train.item_popularity() + 1.0
    chain.popularity_ = counts / counts.sum()  # the prior smooths toward add-one popularity
    histories = ([np.array([(s + i) % 20 for i in range(6)]) for s in range(20)]
                 + [np.array([7]), np.array([], dtype=np.int64)])
    with_prior = model.score(histories)
    weight, model.prior_weight_ = model.prior_weight_, 0.0
    alone = model.score(histories)
    model.prior_weight_ = weight
    expected = alone + weight * np.log(chain.score(histories) + PRIOR_FLOOR)
    for h, got, want in zip(histories, with_prior, expected):
        assert np.allclose(got, want, rtol=1e-5, atol=1e-4), f"history {h.tolist()}"
    assert np.allclose(model.score(split.valid.histories)[:3], model.score(split.valid.histories.rows(0, 3)))
    again = load_model(model.save(tmp_path / name))
    assert again.prior_weight_ == weight and np.allclose(again.score(histories), with_prior, atol=1e-5)
    # A model saved before the chain's settings were kept loads with the settings it was scored with.
    config = json.loads((tmp_path / name / "config.json").read_text())
    del config["state"]["prior_chain_"]
    (tmp_path / name / "config.json").write_text(json.dumps(config))
    assert load_model(tmp_path / name).prior_chain_ == FIRST_PRIOR_CHAIN
    with pytest.raises(ParameterError, match="transition_prior"):  # no longer a pure dot product
        compress.linear_parts(model, histories[:3])


def test_without_validation_the_prior_stays_off_even_on_a_refit(cycle):
    from recsys.split import leave_one_out

    split = leave_one_out(cycle)
    model = get_model("gpt", **SMALL, epochs=1, transition_prior=True).fit(split.train, valid=split.valid)
    assert model.prior_weight_ > 0 and hasattr(model, "transitions_")
    model.fit(split.train)  # no validation part this time: nothing of the first chain is kept
    assert model.prior_weight_ == 0.0
    assert not any(hasattr(model, k) for k in ("transitions_", "out_degree_", "popularity_",
                                               "prior_validation_"))


# -- content model -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def content(ml100k):
    return get_model("content").fit(ml100k)


def test_content_vectors_are_unit_length_and_cached(content, ml100k, tmp_path, monkeypatch):
    import recsys.models.content as content_module

    v = content.item_embeddings()
    assert v.shape == (ml100k.n_items, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    calls = []

    def encode(texts, **kwargs):
        calls.append(len(texts))
        return v

    monkeypatch.setattr(content_module, "encode_texts", encode)
    first = content_module.item_text_vectors(ml100k, cache_dir=tmp_path)
    again = content_module.item_text_vectors(ml100k, cache_dir=tmp_path)
    assert calls == [ml100k.n_items] and np.array_equal(again, first)   # the second call read the disk
    # A damaged entry is recomputed, never trusted.
    next(tmp_path.glob("text-vectors-*.npz")).write_bytes(b"not an npz")
    assert np.array_equal(content_module.item_text_vectors(ml100k, cache_dir=tmp_path), v)
    assert calls == [ml100k.n_items] * 2


def test_content_similar_titles_are_close(content, ml100k):
    titles = ml100k.items["title"].tolist()
    toy = titles.index("Toy Story")
    star = [i for i, t in enumerate(titles) if t.startswith("Star Trek")]
    v = content.item_embeddings()
    # Two Star Trek films are closer to each other than to Toy Story.
    assert v[star[0]] @ v[star[1]] > v[star[0]] @ v[toy]


def test_content_recommends_from_the_history_text(content, ml100k):
    titles = ml100k.items["title"].tolist()
    star = [i for i, t in enumerate(titles) if t.startswith("Star Trek")]
    items, _ = content.recommend(np.array(star[:2]), k=5)
    assert any(titles[i].startswith("Star Trek") for i in items)
    query = content.encode_query("space adventure with robots")
    assert query.shape == (384,)
    with pytest.raises(ParameterError):
        content.encode_query("   ")


def test_content_profile_is_the_recency_weighted_mean(content, ml100k):
    # Score = cosine to the weighted mean of the history's vectors: 1, 1/4, 1/16 … from the latest
    # (half-life 0.5), a repeated item counted once, at its latest place.
    v = content.item_embeddings().astype(np.float64)
    history = np.array([40, 7, 300, 7, 12])
    weights = {12: 1.0, 7: 0.25, 300: 1 / 16, 40: 1 / 256}
    profile = sum(w * v[i] for i, w in weights.items())
    want = v @ (profile / np.linalg.norm(profile))
    assert np.allclose(content.score([history])[0], want, atol=1e-5)
    assert content.history_terms(history) is None     # the weights move when an item is removed
    plain = get_model("content", recency_half_life=None).fit(ml100k)
    assert np.allclose(plain.score([history])[0], v @ (v[[40, 7, 300, 12]].sum(0) / np.linalg.norm(
        v[[40, 7, 300, 12]].sum(0))), atol=1e-5)
    terms = plain.history_terms(history)
    assert terms.shape == (5, ml100k.n_items) and not terms[3].any()   # the second 7 adds nothing


def test_batches_are_small_and_dropout_high_for_short_histories_only(tmp_path):
    from recsys.models.sequential import auto_batch_size, auto_dropout

    short = make_dataset([(u, (u + s) % 50, 5, s) for u in range(30) for s in range(6)])
    long = make_dataset([(u, (u + s) % 50, 5, s) for u in range(30) for s in range(40)])
    assert auto_batch_size(short) == 128 and auto_batch_size(long) == 512
    assert auto_dropout(short) == 0.5 and auto_dropout(long) == 0.2
    small = {**SMALL, "dropout": None}
    fitted = get_model("gpt", **small, epochs=1).fit(short)
    assert fitted.batch_size_ == 128 and fitted.dropout_ == 0.5
    assert fitted.module_.drop.p == 0.5
    assert get_model("gpt", **SMALL, epochs=1, batch_size=7).fit(short).batch_size_ == 7
    assert get_model("gpt", **SMALL, epochs=1).fit(long).dropout_ == 0.0  # given, not chosen
    again = load_model(fitted.save(tmp_path / "gpt"))  # the chosen dropout and the scores survive a reload
    assert again.dropout is None and again.dropout_ == 0.5 and again.module_.drop.p == 0.5
    assert np.allclose(again.score([np.array([1, 2, 3])]), fitted.score([np.array([1, 2, 3])]), atol=1e-5)


def test_the_co_occurrence_start_is_scaled_like_the_random_one(cycle):
    # 20 items and 64 dimensions: only a few columns can be filled (5 positive eigenvalues on this
    # cycle); they get the random start's spread (std 0.02), not one diluted by the empty columns.
    model = get_model("gpt", **{**SMALL, "dim": 64}, epochs=1, lr=1e-9).fit(cycle)
    vectors = model.item_embeddings()
    filled = np.abs(vectors).sum(axis=0) > 1e-3
    assert 0 < filled.sum() < 20
    assert 0.015 < vectors[:, filled].std() < 0.025


def test_a_large_catalogue_trains_within_a_time_budget(gpt, monkeypatch):
    """Beyond LARGE_CATALOGUE items an unbounded default would let `make build` run for hours."""
    from recsys.models import sequential

    large = make_dataset([(u, 5 * u + s, 5, s) for u in range(sequential.LARGE_CATALOGUE // 5 + 1)
                          for s in range(5)])
    assert large.n_items > sequential.LARGE_CATALOGUE
    assert sequential.auto_time_budget(large) == sequential.LARGE_BUDGET_SECONDS
    assert gpt.time_budget_ is None  # a small catalogue stops on validation, as before
    # The budget really ends training: made tiny, the first epoch stops after its first batch.
    monkeypatch.setattr(sequential, "LARGE_BUDGET_SECONDS", 1e-9)
    cut = get_model("gpt", **SMALL, epochs=3, cooc_init=False).fit(large)
    full = get_model("gpt", **SMALL, epochs=1, cooc_init=False, max_seconds=600).fit(large)
    assert cut.time_budget_ == 1e-9 and full.time_budget_ == 600
    assert len(cut.history_) == 1 and cut.history_[0]["targets"] < full.history_[0]["targets"], \
        (cut.history_, full.history_)
