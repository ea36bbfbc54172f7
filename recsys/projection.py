"""UMAP projections of item (or user) vectors to 2-D / 3-D, cached on disk, ready for plotly.

UMAP's first call in a process compiles with numba (~40 s), so projections are computed when models are
built and read from the cache afterwards; a page render only reads them. Above ``sample_above`` points
UMAP is fitted on a random sample and the rest are placed with ``transform``.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.cache import cached_array
from recsys.checks import check_int
from recsys.data.dataset import Dataset, first_genres
from recsys.errors import DataError, ParameterError

# UMAP of 54.5k 64-d vectors (Amazon Beauty's catalogue size) took 67 s on 2 cores; fitted on 10k of them
# and the rest placed with ``transform``, 15 s (a 20k sample was no faster than fitting all of them). A
# build makes two maps per model with vectors (items, users).
SAMPLE_ABOVE = 10_000


def project(vectors: np.ndarray, *, dims: int = 2, neighbors: int = 15, min_dist: float = 0.1,
            sample_above: int = SAMPLE_ABOVE, seed: int = 0) -> np.ndarray:
    """Coordinates (n, dims) for the rows of ``vectors`` (cosine metric)."""
    import umap  # imported here: its import alone takes seconds, and most callers only read caches

    if dims not in (2, 3):
        raise ParameterError(f"dims must be 2 or 3, got {dims!r}")
    check_int("neighbors", neighbors, minimum=2)
    check_int("sample_above", sample_above, minimum=10)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) < 3:
        raise DataError(f"need at least 3 vectors to project, got shape {vectors.shape}")
    if not np.isfinite(vectors).all():
        raise DataError("vectors contain NaN or infinite values")
    reducer = umap.UMAP(n_components=dims, n_neighbors=min(neighbors, len(vectors) - 1),
                        min_dist=min_dist, metric="cosine", random_state=seed, n_jobs=1)
    if len(vectors) <= sample_above:
        return reducer.fit_transform(vectors).astype(np.float32)
    sample = np.sort(np.random.default_rng(seed).choice(len(vectors), sample_above, replace=False))
    out = np.empty((len(vectors), dims), np.float32)
    out[sample] = reducer.fit_transform(vectors[sample])
    rest = np.setdiff1d(np.arange(len(vectors)), sample)
    for lo in range(0, len(rest), 50_000):
        chunk = rest[lo:lo + 50_000]
        out[chunk] = reducer.transform(vectors[chunk])
    return out


def cached_projection(vectors: np.ndarray, *, cache_dir: str | Path | None = None,
                      compute: bool = True, **params) -> np.ndarray | None:
    """``project`` through an on-disk cache keyed by the vectors' bytes and the parameters.
    ``compute=False`` only reads: None when the projection was never computed."""
    h = hashlib.sha256(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    if len(vectors) > params.get("sample_above", SAMPLE_ABOVE):
        # Only then does the sample size change the map (smaller maps keep the keys they had).
        params = {"sample_above": SAMPLE_ABOVE, **params}
    h.update(repr(sorted(params.items())).encode())
    return cached_array("umap", h.hexdigest()[:16],
                        (lambda: project(vectors, **params)) if compute else None,
                        rows=len(vectors), cache_dir=cache_dir)


def item_projection_frame(dataset: Dataset, coords: np.ndarray) -> pd.DataFrame:
    """One row per item: its index and raw id, title, genres, first genre, year, popularity, x, y(, z)."""
    if len(coords) != dataset.n_items:
        raise DataError(f"{len(coords)} coordinates for {dataset.n_items} items")
    items = dataset.items
    frame = pd.DataFrame({"item": np.arange(dataset.n_items), "item_id": items["item_id"].to_numpy(),
                          "title": items["title"].to_numpy(), "genres": items["genres"].to_numpy(),
                          "genre": first_genres(items["genres"]),
                          "year": items["year"].to_numpy(), "popularity": dataset.item_popularity()})
    for axis, name in zip(range(coords.shape[1]), "xyz"):
        frame[name] = coords[:, axis]
    return frame


def item_colourings(dataset: Dataset) -> list[str]:
    """What an item map can be coloured by: popularity always; genre and year where some item has one
    (a catalogue of bare ids would paint every point "(none)")."""
    has_years = bool(dataset.items["year"].notna().any())
    return ["genre"] * dataset.has_genres + ["popularity"] + ["year"] * has_years


def user_vectors(model, heldout, *, max_users: int = 20_000, seed: int = 0
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """(user indices, vectors) from ``model.user_embedding`` of each held-out user's history — at
    most ``max_users`` of them, a seeded sample — or None for models without user embeddings."""
    users = np.asarray(heldout.users)
    rows = np.arange(len(users))
    if len(rows) > max_users:
        rows = np.sort(np.random.default_rng(seed).choice(len(rows), max_users, replace=False))
    first = model.user_embedding(heldout.histories[int(rows[0])]) if len(rows) else None
    if first is None:
        return None
    vectors = np.empty((len(rows), len(first)), np.float32)
    vectors[0] = first
    for j, r in enumerate(rows[1:], start=1):
        vectors[j] = model.user_embedding(heldout.histories[int(r)])
    return users[rows], vectors


def user_projection_frame(dataset: Dataset, users: np.ndarray, coords: np.ndarray,
                          history_lengths: np.ndarray) -> pd.DataFrame:
    """One row per user: index, raw id, history length, the users table's columns, x, y(, z)."""
    if len(coords) != len(users) or len(history_lengths) != len(users):
        raise DataError(f"{len(coords)} coordinates for {len(users)} users")
    frame = pd.DataFrame({"user": users, "user_id": dataset.user_ids[users].astype(str),
                          "history": history_lengths})
    if dataset.users is not None:
        for column in dataset.users.columns:
            frame[column] = dataset.users[column].to_numpy()[users]
    for axis, name in zip(range(coords.shape[1]), "xyz"):
        frame[name] = coords[:, axis]
    return frame


def cached_user_vectors(model, heldout, key: str, *, compute: bool = True, max_users: int = 20_000
                        ) -> tuple[np.ndarray, np.ndarray] | None:
    """``user_vectors`` through the disk cache; ``key`` names the model's artifact. None for models
    without user embeddings, or (``compute=False``) when nothing is cached yet."""
    if not len(heldout) or model.user_embedding(heldout.histories[0]) is None:
        return None
    rows = min(len(heldout), max_users)

    @functools.cache
    def both() -> tuple[np.ndarray, np.ndarray]:  # one pass fills both cache entries
        return user_vectors(model, heldout, max_users=max_users)

    users = cached_array("user-ids", key, (lambda: both()[0]) if compute else None, rows=rows)
    vectors = cached_array("user-vectors", key, (lambda: both()[1]) if compute else None, rows=rows)
    return None if users is None or vectors is None else (users, vectors)
