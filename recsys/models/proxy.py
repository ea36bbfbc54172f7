"""Recommendations made by another tool, evaluated beside ours with the same protocol.

The "proxy" model reads a file of (user, item, rank) or (user, item, score) rows — RecBole, implicit,
Elliot or any script can write one — and ranks each listed user's items in the file's order. Items the
file does not list for a user are never recommended to them (a shorter list, padded with -1). A history of a user not in the file gets the
items the file recommends most often (the file carries no way to score a new history).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recsys.data.dataset import Dataset
from recsys.data.generic import read_table
from recsys.errors import DataError, ParameterError
from recsys.models.base import Recommender
from recsys.models.registry import register
from recsys.progress import Progress


@register("proxy")
class ProxyRecommender(Recommender):
    ignores_history = "its lists come from another tool's file, which carries no reasons"
    """Scores from a recommendations file: ``path`` with columns user, item and rank or score."""

    def __init__(self, *, path: str = "", user_col: str = "user", item_col: str = "item"):
        self.path = path
        self.user_col = user_col
        self.item_col = item_col

    def fit(self, train: Dataset, *, valid=None, progress: Progress | None = None) -> "ProxyRecommender":
        if not self.path:
            raise ParameterError("the proxy model needs path=<a CSV of user, item, rank or score>")
        frame, _ = read_table(Path(self.path))
        file = str(self.path)
        missing = [c for c in (self.user_col, self.item_col) if c not in frame.columns]
        if missing or not ({"rank", "score"} & set(frame.columns)):
            raise DataError(f"needs columns {self.user_col!r}, {self.item_col!r} and 'rank' or 'score'; "
                            f"found {', '.join(map(str, frame.columns))}", file=file)
        by = "score" if "score" in frame.columns else "rank"
        value = pd.to_numeric(frame[by], errors="coerce")
        if value.isna().any():
            line = int(np.flatnonzero(value.isna().to_numpy())[0]) + 2
            raise DataError(f"{by} is not a number", file=file, line=line, column=by)
        users = _lookup(frame[self.user_col], train.user_ids)
        items = _lookup(frame[self.item_col], train.item_ids)
        known = (users >= 0) & (items >= 0)
        self.unknown_users_ = int(frame.loc[users < 0, self.user_col].nunique())
        self.unknown_items_ = int(frame.loc[items < 0, self.item_col].nunique())
        if not known.any():
            raise DataError(f"none of the file's {len(frame):,} rows names a user and an item of this "
                            f"dataset ({self.unknown_users_:,} unknown users, {self.unknown_items_:,} "
                            "unknown items)", file=file)
        # Higher is better: scores as given, ranks negated. Listed items sit above every unlisted one.
        score = value.to_numpy(np.float64)[known] * (1.0 if by == "score" else -1.0)
        u, i = users[known], items[known]
        order = np.lexsort((-score, u))
        u, i, score = u[order], i[order], score[order]
        self.n_items_ = train.n_items
        self.indptr_ = np.concatenate([[0], np.cumsum(np.bincount(u, minlength=train.n_users))])
        self.items_ = i.astype(np.int64)
        # Within a user, position p of n gets n - p: the file's order, on one comparable scale.
        starts = self.indptr_[u]
        self.values_ = (np.diff(self.indptr_)[u] - (np.arange(len(u)) - starts)).astype(np.float32)
        self.fallback_ = np.bincount(self.items_, minlength=train.n_items).astype(np.float32)
        self.rows_ = int(known.sum())
        return self

    def _score(self, histories, users):
        if users is None:
            return np.repeat(self.fallback_[None, :], len(histories), axis=0)
        # Items the file does not list for a user are not recommended to them (-inf, never drawn).
        out = np.full((len(histories), self.n_items_), -np.inf, np.float32)
        if len(users) and (users.min() < 0 or users.max() >= len(self.indptr_) - 1):
            raise DataError("unknown user index for the proxy model")
        for j, user in enumerate(users):
            lo, hi = self.indptr_[user], self.indptr_[user + 1]
            out[j, self.items_[lo:hi]] = self.values_[lo:hi]
        return out


def _lookup(raw: pd.Series, ids: np.ndarray) -> np.ndarray:
    """Internal indices of raw ids (-1 for unknown), matching 7 and '7'."""
    index = {str(v): j for j, v in enumerate(ids)}
    return np.array([index.get(str(v).strip(), -1) for v in raw], dtype=np.int64)
