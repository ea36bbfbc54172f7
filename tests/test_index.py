"""FAISS item index: exact answers, approximate recall, save / load, similar items."""
from __future__ import annotations

import numpy as np
import pytest

from recsys.errors import ArtifactError, DataError, NotFittedError, ParameterError
from recsys.index import ItemIndex


@pytest.fixture(scope="module")
def clustered():
    """20k 32-d vectors around 50 centres: structure like item embeddings have."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(50, 32))
    return (centres[rng.integers(0, 50, 20_000)] + 0.3 * rng.normal(size=(20_000, 32))).astype(np.float32)


def brute_force(vectors, queries, k):
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    return np.argsort(-(q @ unit.T), axis=1, kind="stable")[:, :k]


def test_exact_matches_brute_force(clustered):
    index = ItemIndex().build(clustered)
    assert index.kind_ == "exact"
    queries = clustered[:50] + 0.01
    ids, scores = index.search(queries, 10)
    expected = brute_force(clustered, queries, 10)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, expected)]) > 0.99
    assert (np.diff(scores, axis=1) <= 1e-6).all() and (scores <= 1.0001).all()


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_recall(clustered, kind):
    exact = ItemIndex(kind="exact").build(clustered)
    approx = ItemIndex(kind=kind).build(clustered)
    queries = clustered[::200]
    truth, _ = exact.search(queries, 10)
    found, _ = approx.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)])
    assert recall >= 0.9, recall


def test_ivfpq_trades_bytes_for_recall(clustered):
    exact = ItemIndex(kind="exact").build(clustered)
    queries = clustered[::200]
    truth, _ = exact.search(queries, 10)
    recall, size = {}, {}
    for m in (None, 16):  # 32-d vectors: 8 (the default, dim / 4) or 16 one-byte codes instead of 128 bytes
        pq = ItemIndex(kind="ivfpq", pq_m=m).build(clustered)
        m = m or 8
        assert pq.index_.code_size == m
        found, _ = pq.search(queries, 10)
        recall[m] = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)])
        size[m] = pq.size_bytes
    # The clusters are dense, so 8 bytes only tell apart so much; random would find 10 / 20,000.
    assert recall[8] >= 0.3 and recall[16] >= 0.6 and recall[16] > recall[8]
    assert size[8] < size[16] < exact.size_bytes / 3  # ids, direct map and centroids besides the codes
    ids, _ = pq.similar_items(3, 10)
    assert len(ids) == 10 and 3 not in ids


def test_inner_product_metric_ranks_by_raw_dot_product():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(300, 8)).astype(np.float32) * rng.uniform(0.1, 3, size=(300, 1)).astype(np.float32)
    query = rng.normal(size=8).astype(np.float32)
    ids, scores = ItemIndex(kind="exact", metric="ip").build(vectors).search(query, 5)
    assert ids.tolist() == np.argsort(-(vectors @ query), kind="stable")[:5].tolist()
    assert np.allclose(scores, np.sort(vectors @ query)[::-1][:5], atol=1e-5)
    cosine_ids, _ = ItemIndex(kind="exact").build(vectors).search(query, 5)
    assert cosine_ids.tolist() != ids.tolist()  # lengths matter for inner product, not for cosine


def test_ivfpq_bad_settings(clustered):
    with pytest.raises(ParameterError, match="must divide"):
        ItemIndex(kind="ivfpq", pq_m=5).build(clustered)
    with pytest.raises(ParameterError, match="at least 256 items"):
        ItemIndex(kind="ivfpq").build(clustered[:100])
    with pytest.raises(ParameterError, match="unknown metric"):
        ItemIndex(metric="l2").build(clustered)


def test_auto_switches_to_hnsw_above_the_limit(clustered):
    assert ItemIndex(exact_limit=1000).build(clustered).kind_ == "hnsw"


@pytest.mark.parametrize("kind", ["exact", "hnsw", "ivf", "ivfpq"])
def test_save_load_same_neighbours(clustered, kind, tmp_path):
    index = ItemIndex(kind=kind).build(clustered)
    index.save(tmp_path / kind)
    again = ItemIndex.load(tmp_path / kind)
    a, _ = index.search(clustered[:20], 10)
    b, _ = again.search(clustered[:20], 10)
    assert np.array_equal(a, b) and again.kind_ == kind


def test_similar_items_leave_the_item_out(clustered):
    index = ItemIndex().build(clustered)
    ids, scores = index.similar_items(7, k=5)
    assert len(ids) == 5 and 7 not in ids
    with pytest.raises(DataError, match="unknown item"):
        index.similar_items(10**6)


def test_bad_input(clustered, tmp_path):
    with pytest.raises(NotFittedError):
        ItemIndex().search(clustered[:1], 3)
    index = ItemIndex().build(clustered[:100])
    with pytest.raises(ParameterError):
        index.search(clustered[:1], 0)
    with pytest.raises(DataError, match="dimensions"):
        index.search(np.ones((1, 5)), 3)
    with pytest.raises(DataError, match="NaN"):
        ItemIndex().build(np.full((3, 4), np.nan))
    with pytest.raises(ParameterError):
        ItemIndex(kind="lsh").build(clustered[:10])
    ids, _ = index.search(clustered[0], 10**6)  # k above the catalogue is cut to it
    assert len(ids) == 100
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "index.faiss").write_bytes(b"junk")
    (tmp_path / "bad" / "index.json").write_text("{}")
    with pytest.raises(ArtifactError):
        ItemIndex.load(tmp_path / "bad")


def test_index_for_models_and_semantic_search(ml100k, ml100k_split):
    from recsys.index import index_for
    from recsys.models import get_model

    with pytest.raises(DataError, match="no item embeddings"):
        index_for(get_model("pop").fit(ml100k_split.train))
    bpr = get_model("bpr", epochs=2).fit(ml100k_split.train)
    ids, _ = index_for(bpr).similar_items(0, k=5)
    assert len(ids) == 5 and 0 not in ids

    content = get_model("content").fit(ml100k)
    index = index_for(content)
    ids, scores = index.search(content.encode_query("space adventure with robots and starships"), 10)
    titles = ml100k.items["title"].to_numpy()[ids]
    assert any("Star" in t for t in titles), titles
    assert (scores[:-1] >= scores[1:]).all()


def test_similar_items_and_recommend_share_filters(ml100k, ml100k_split):
    from recsys.errors import DataError
    from recsys.index import index_for
    from recsys.models import get_model

    model = get_model("bpr", epochs=2).fit(ml100k_split.train)
    comedy = ml100k.item_mask(genre="Comedy")
    nineties = ml100k.item_mask(years=(1990, 1999))
    index = index_for(model)
    ids, _ = index.similar_items(49, 10, allowed=comedy & nineties, exclude=[0])
    assert len(ids) == 10 and comedy[ids].all() and nineties[ids].all() and 0 not in ids and 49 not in ids
    plain, _ = index.similar_items(49, 10)
    dropped, _ = index.similar_items(49, 10, exclude=plain[:3])
    assert not set(plain[:3]) & set(dropped) and dropped[0] == plain[3]
    h = ml100k_split.test.histories[0]
    recs, _ = model.recommend(h, k=10, allowed=comedy)
    assert comedy[recs].all() and not np.isin(recs, h).any()
    assert model.recommend(h, k=5, exclude=recs[:2], allowed=comedy)[0][0] == recs[2]
    tiny_genre = ml100k.item_mask(genre="Documentary") & ml100k.item_mask(years=(1995, 1995))
    few, _ = model.recommend(h, k=50, allowed=tiny_genre)
    assert len(few) == int((tiny_genre & ~np.isin(np.arange(ml100k.n_items), h)).sum()) < 50
    with pytest.raises(DataError):
        model.recommend(h, k=5, exclude=[10**6])


def test_approximate_overlap_is_one_for_exact_and_high_for_hnsw():
    from recsys.index import approximate_overlap

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(2000, 16)).astype(np.float32)
    assert approximate_overlap(vectors, 10, kind="exact", queries=50) == 1.0
    assert 0.8 <= approximate_overlap(vectors, 10, kind="hnsw", queries=100) <= 1.0
    coarse = approximate_overlap(vectors, 10, kind="ivf", queries=100, nlist=64, nprobe=1)
    assert coarse < 0.9  # one probed cell out of 64 misses neighbours: the check can fail
