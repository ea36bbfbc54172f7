"""Shared fixtures. Every test gets its own data folder (RECLENS_DATA), so nothing touches data/."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.data import build_dataset, load_dataset


@pytest.fixture(scope="session")
def text_cache(tmp_path_factory):
    """Item-text vectors are keyed by the texts' hash, so one cache can serve the whole session."""
    return tmp_path_factory.mktemp("text-cache")


EXPLAINED_USERS = 40


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch, text_cache):
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("RECLENS_DATA", str(root))
    monkeypatch.setenv("RECLENS_CACHE", str(text_cache))
    # The app and `recsys build` maintain this list; tests keep it to models that fit in a second.
    monkeypatch.setenv("RECLENS_MODELS", "pop,itemknn,markov")
    # Builds explain the first 40 test users' lists; the pages explain the others live (both paths run).
    monkeypatch.setenv("RECLENS_EXPLAIN_USERS", str(EXPLAINED_USERS))
    return root


@pytest.fixture(scope="session")
def ml100k():
    return load_dataset("ml-100k")


def make_dataset(rows, items=None, name="tiny", **filters):
    """A Dataset from (user, item, rating, timestamp) tuples."""
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    frame["rating"] = frame["rating"].astype(np.float32)
    return build_dataset(frame, name=name, source=name, items=items, **filters)


@pytest.fixture
def tiny():
    """4 users, 6 items (ids 10..15), ordered by time; genres make diversity checkable."""
    rows = [(1, 10, 5, 1), (1, 11, 4, 2), (1, 12, 3, 3), (1, 13, 4, 4),
            (2, 10, 3, 1), (2, 11, 2, 2), (2, 14, 5, 3),
            (3, 10, 4, 5), (3, 12, 1, 6), (3, 15, 2, 7), (3, 11, 5, 8),
            (4, 10, 5, 1)]
    items = pd.DataFrame({"title": [f"Movie {i}" for i in range(10, 16)],
                          "genres": ["Action", "Action|Comedy", "Drama", "Drama|Romance", "Comedy",
                                     ""],
                          "year": [1990, 1991, 1992, 1993, 1994, 1995]},
                         index=pd.Index(range(10, 16)))
    return make_dataset(rows, items=items)


@pytest.fixture(scope="session")
def ml100k_split(ml100k):
    from recsys.split import leave_one_out

    return leave_one_out(ml100k)


# Small versions of every model family the app shows, built once per test session for the page tests
# and the browser test (fitting them is most of those tests' cost).
APP_MODELS = {"pop": {}, "itemknn": {}, "markov": {}, "bpr": {"epochs": 3}, "features": {"epochs": 2},
              "content": {}, "gpt": {"epochs": 2, "layers": 2, "max_len": 50},
              "bert": {"epochs": 1, "layers": 2, "max_len": 50},
              # every rating of a fold-in alike: the configuration whose open cases the Explanations
              # page can settle (branch and bound needs the bound of lead_terms)
              "bpmf": {"burn_in": 10, "samples": 20, "keep": 5, "fold_in_half_life": None}}


@pytest.fixture(scope="session")
def app_store(tmp_path_factory, text_cache):
    """A data folder (RECLENS_DATA) with APP_MODELS built on ml-100k; tests must only read it."""
    from recsys.pipeline import build_model
    from recsys.split import leave_one_out

    root = tmp_path_factory.mktemp("app-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECLENS_DATA", str(root))
        mp.setenv("RECLENS_CACHE", str(text_cache))
        mp.setenv("RECLENS_EXPLAIN_USERS", str(EXPLAINED_USERS))
        split = leave_one_out(load_dataset())
        for name, params in APP_MODELS.items():
            build_model(name, split, params=params)
    return root


# -- markers: `make test-fast` runs what is left after deselecting these ------------------------------
# Measured with `pytest --durations`: each of these takes a second or more, or builds the session's
# store of app models (the page and app tests), or starts torchrun / Chromium.
SLOW_TESTS = {
    "test_models.py::test_fitting_twice_is_deterministic", "test_index.py::test_ivfpq_trades_bytes_for_recall",
    "test_explain.py", "test_distill.py", "test_classic_models.py::test_sparse_bpr_learns_like_dense_bpr", "test_compress.py",
    "test_models.py::test_fit_returns_self_and_learns_underscore_attributes",
    "test_projection.py::test_sampled_fit_then_transform_covers_every_row",
    "test_bad_inputs.py::test_same_seed_same_metrics", "test_index.py::test_save_load_same_neighbours",
    "test_classic_models.py::test_bpr_fold_in_agrees_with_the_learned_user_vectors",
    "test_models.py::test_score_shape_and_dtype[gpt]", "test_models.py::test_score_shape_and_dtype[bert]",
    "test_sequence_models.py::test_content_init_gives_item_embeddings_from_text",
    "test_sequence_models.py::test_gpt_starts_from_co_occurrence_even_where_items_have_text",
    "test_artifacts.py::test_per_user_evaluation_is_stored_and_averages_to_the_reported_means",
    "test_cli.py::test_module_entry_point_runs", "test_cli.py::test_train_then_recommend_reuses_the_artifact",
    "test_projection.py::test_projection_keeps_clusters_apart",        # umap's first compile
    "test_projection.py::test_cache_returns_the_same_coordinates",     # umap too (14 s when first)
    "test_index.py::test_index_for_models_and_semantic_search", "test_app.py::test_missing_models_are_announced",
    "test_app.py::test_scoreboard_shows_built_models", "test_models.py::test_recommend_one_and_batch[gpt]",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = item.nodeid.split("/")[-1]
        if name.startswith("test_browser.py"):
            item.add_marker(pytest.mark.browser)
        elif name.startswith("test_distributed.py"):
            item.add_marker(pytest.mark.distributed)
        elif "app_store" in item.fixturenames or any(name.startswith(s) for s in SLOW_TESTS):
            item.add_marker(pytest.mark.slow)
