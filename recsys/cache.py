"""Where RecLens keeps files, and the on-disk cache of derived arrays (text vectors, UMAP coordinates).

Low in the library on purpose: models (the content model's text vectors), projections and the artifact
store all read it, and it reads nothing of theirs.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from recsys.io import atomic_save_npz, load_npz


def data_root() -> Path:
    """$RECLENS_DATA, or the data/ folder beside the recsys package."""
    return Path(os.environ.get("RECLENS_DATA") or Path(__file__).resolve().parents[1] / "data")


def cache_root() -> Path:
    """Where derived arrays (text vectors, UMAP coordinates) are cached: $RECLENS_CACHE or data/cache.
    Entries are keyed by a hash of their inputs, so a stale entry is never read and any can be deleted."""
    return Path(os.environ.get("RECLENS_CACHE") or data_root() / "cache")


def cached_array(name: str, key: str, compute, rows: int, cache_dir: str | Path | None = None
                 ) -> np.ndarray:
    """``compute()``'s array, read from <cache>/<name>-<key>.npz when present with ``rows`` rows, else
    computed and written atomically. A damaged entry is recomputed, never trusted. With
    ``compute=None`` a missing entry gives None (for readers that must not compute)."""
    path = Path(cache_dir or cache_root()) / f"{name}-{key}.npz"
    if path.is_file():
        try:
            array = load_npz(path)["array"]
            if len(array) == rows:
                return array
        except (OSError, ValueError, KeyError):
            pass
    if compute is None:
        return None
    array = compute()
    atomic_save_npz(path, {"array": array})
    return array
