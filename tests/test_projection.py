"""UMAP projections: shapes, ids kept in order, sampling path, cache."""
from __future__ import annotations

import numpy as np
import pytest

from recsys.errors import DataError, ParameterError
from recsys.projection import cached_projection, item_colourings, item_projection_frame, project


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16)) * 5
    labels = np.repeat(np.arange(4), 100)
    return (centres[labels] + rng.normal(size=(400, 16))).astype(np.float32), labels


def test_projection_keeps_clusters_apart(blobs):
    vectors, labels = blobs
    coords = project(vectors, dims=2)
    assert coords.shape == (400, 2) and np.isfinite(coords).all()
    centroids = np.array([coords[labels == c].mean(axis=0) for c in range(4)])
    within = np.mean([np.linalg.norm(coords[labels == c] - centroids[c], axis=1).mean() for c in range(4)])
    between = np.min([np.linalg.norm(centroids[a] - centroids[b]) for a in range(4) for b in range(a)])
    assert between > within


def test_sampled_fit_then_transform_covers_every_row(blobs):
    vectors, _ = blobs
    coords = project(vectors, dims=3, sample_above=150)
    assert coords.shape == (400, 3) and np.isfinite(coords).all()


def test_cache_returns_the_same_coordinates(blobs, tmp_path):
    vectors, _ = blobs
    first = cached_projection(vectors, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("umap-*.npz"))) == 1
    assert np.array_equal(cached_projection(vectors, cache_dir=tmp_path), first)


def test_frame_rows_match_item_ids(tiny):
    coords = np.arange(tiny.n_items * 2, dtype=np.float32).reshape(-1, 2)
    frame = item_projection_frame(tiny, coords)
    assert frame["item_id"].tolist() == tiny.item_ids.tolist()
    assert frame["x"].tolist() == coords[:, 0].tolist()
    assert frame.loc[frame["item_id"] == 11, "genre"].item() == "Action"
    assert frame.loc[frame["item_id"] == 15, "genre"].item() == "(none)"
    with pytest.raises(DataError):
        item_projection_frame(tiny, coords[:2])


def test_bad_input(blobs):
    with pytest.raises(ParameterError):
        project(blobs[0], dims=4)
    with pytest.raises(DataError):
        project(np.full((5, 3), np.nan))


def test_user_map_rows_match_users(ml100k, ml100k_split):
    from recsys.models import get_model
    from recsys.projection import user_projection_frame, user_vectors

    model = get_model("bpr", epochs=2).fit(ml100k_split.train)
    users, vectors = user_vectors(model, ml100k_split.test, max_users=50)
    assert len(users) == 50 and vectors.shape == (50, 64)
    j = int(np.flatnonzero(ml100k_split.test.users == users[7])[0])
    np.testing.assert_allclose(vectors[7], model.user_embedding(ml100k_split.test.histories[j]),
                               rtol=1e-5)
    lengths = ml100k_split.test.histories.lengths[np.searchsorted(ml100k_split.test.users, users)]
    frame = user_projection_frame(ml100k, users, np.zeros((50, 2)), lengths)
    assert frame["user_id"].tolist() == [str(ml100k.user_ids[u]) for u in users]
    assert {"age", "gender", "occupation", "x", "y"} <= set(frame.columns)
    assert user_vectors(get_model("pop").fit(ml100k_split.train), ml100k_split.test) is None


def test_item_maps_are_coloured_only_by_what_the_catalogue_has(ml100k, tmp_path):
    from recsys.data import load_dataset

    assert item_colourings(ml100k) == ["genre", "popularity", "year"]
    path = tmp_path / "seq.txt"  # a SASRec-style file of bare ids: no genres, no years
    path.write_text("".join(f"{u} {(u * 7 + s) % 40 + 1}\n" for u in range(1, 30) for s in range(5)))
    assert item_colourings(load_dataset(str(path))) == ["popularity"]
