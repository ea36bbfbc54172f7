"""A rating model over user and item *features*, for explainability reviews.

It never sees user or item ids: a small MLP predicts a rating from the user's age, gender and
occupation and the item's genres, release year and popularity, so shap can say which of these six
features moved a prediction (``recsys.explain.features``). It ranks items by predicted rating, like any
model. Users without a features table (generic CSVs) contribute nothing; a history with no known user
is scored as the average user.

Weights live in numpy arrays (trained with torch), so scoring and shap's many calls need no torch.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from recsys.checks import check_int, check_number
from recsys.data.dataset import Dataset
from recsys.errors import DataError
from recsys.models.base import RatingPredictor, Recommender
from recsys.models.registry import register
from recsys.models.torch_utils import optimizer_step, resolve_device, seed_everything, to_numpy, train_epochs
from recsys.progress import Progress

FEATURES = ["age", "gender", "occupation", "genres", "year", "popularity"]
MAX_GENRES = 62  # genres are packed into one int64 bit set per item


@register("features")
class FeatureRating(RatingPredictor, Recommender):
    ignores_history = ("it predicts a rating from the user's profile and the item's features only "
                       "(feature SHAP explains it)")
    """MLP: (age, gender, occupation, genres, year, log popularity) → rating."""


    def __init__(self, *, hidden: int = 64, epochs: int = 30, batch_size: int = 1024, lr: float = 3e-3,
                 l2: float = 1e-5, patience: int = 3, seed: int = 0, device: str = "auto"):
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.l2 = l2
        self.patience = patience
        self.seed = seed
        self.device = device

    # -- raw features: one row per (user, item), the table shap explains -------------------------------------
    def _learn_vocabulary(self, train: Dataset) -> None:
        users = train.users if train.users is not None else pd.DataFrame(index=range(train.n_users))
        age = pd.to_numeric(users["age"], errors="coerce") if "age" in users else pd.Series(np.nan,
                                                                                              users.index)
        self.user_age_ = age.fillna(age.median() if age.notna().any() else 0.0).to_numpy(np.float32)
        self.genders_, self.user_gender_ = _codes(users, "gender", train.n_users)
        self.occupations_, self.user_occupation_ = _codes(users, "occupation", train.n_users)
        matrix, names = train.genre_matrix()
        keep = np.argsort(-np.asarray(matrix.sum(axis=0)).ravel(), kind="stable")[:MAX_GENRES]
        self.genre_names_ = [names[j] for j in keep]
        dense = matrix[:, keep].toarray() > 0
        self.item_genres_ = (dense.astype(np.int64) << np.arange(len(keep), dtype=np.int64)).sum(axis=1)
        year = pd.to_numeric(train.items["year"], errors="coerce").astype("float64")
        self.item_year_ = year.fillna(year.median() if year.notna().any() else 0.0).to_numpy(np.float32)
        self.item_popularity_ = train.item_popularity().astype(np.float32)

    def raw_features(self, users: np.ndarray | None, items: np.ndarray) -> np.ndarray:
        """(n, 6) float64 rows in FEATURES order for aligned (user, item) pairs; ``users=None`` means
        the average user. Categorical features hold their code (-1 = unknown)."""
        self._check_fitted()
        items = self._check_items(items)
        n = len(items)
        out = np.empty((n, len(FEATURES)), np.float64)
        if users is None:
            out[:, 0], out[:, 1], out[:, 2] = float(np.median(self.user_age_)), -2, -2
        else:
            users = np.asarray(users, np.int64)
            if len(users) and (users.min() < 0 or users.max() >= len(self.user_age_)):
                raise DataError(f"unknown user index in {users[:5].tolist()}: the model knows "
                                f"{len(self.user_age_):,} users")
            out[:, 0], out[:, 1], out[:, 2] = (self.user_age_[users], self.user_gender_[users],
                                               self.user_occupation_[users])
        out[:, 3], out[:, 4], out[:, 5] = (self.item_genres_[items], self.item_year_[items],
                                           self.item_popularity_[items])
        return out

    def describe(self, row: np.ndarray) -> list[str]:
        """Readable values of one raw feature row (for plots and tables)."""
        def category(names, code):
            return "average user" if code == -2 else (names[int(code)] if 0 <= code < len(names) else "?")
        genres = [g for j, g in enumerate(self.genre_names_) if (int(row[3]) >> j) & 1]
        return [f"{row[0]:.0f}", category(self.genders_, row[1]), category(self.occupations_, row[2]),
                "|".join(genres) or "none", f"{row[4]:.0f}", f"{row[5]:.0f} ratings"]

    def _encode(self, raw: np.ndarray) -> np.ndarray:
        """Network inputs: scaled numbers, one-hot categories (the average user gets the mean one-hot)."""
        def one_hot(codes, n, mean):
            codes = codes.astype(np.int64)
            out = (codes[:, None] == np.arange(n)[None, :]).astype(np.float32)
            out[codes == -2] = mean
            return out
        bits = ((raw[:, 3].astype(np.int64)[:, None] >> np.arange(len(self.genre_names_))) & 1)
        return np.hstack([
            ((raw[:, 0] - self.scale_[0]) / self.scale_[1])[:, None],
            one_hot(raw[:, 1], len(self.genders_), self.gender_mean_),
            one_hot(raw[:, 2], len(self.occupations_), self.occupation_mean_),
            bits.astype(np.float32),
            ((raw[:, 4] - self.scale_[2]) / self.scale_[3])[:, None],
            ((np.log1p(raw[:, 5]) - self.scale_[4]) / self.scale_[5])[:, None],
        ]).astype(np.float32)

    def predict_raw(self, raw: np.ndarray) -> np.ndarray:
        """Ratings for raw feature rows (what shap calls)."""
        x = self._encode(np.atleast_2d(raw))
        h = np.maximum(x @ self.w1_ + self.b1_, 0)
        h = np.maximum(h @ self.w2_ + self.b2_, 0)
        pred = (h @ self.w3_ + self.b3_).ravel() + self.global_mean_
        return np.clip(pred, *self.rating_range_).astype(np.float64)

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted ratings for (user, item) pairs."""
        return self.predict_raw(self.raw_features(users, items)).astype(np.float32)

    # -- learning -------------------------------------------------------------------------------------------
    def not_applicable(self, train: Dataset) -> str | None:
        if not train.has_ratings:
            return f"the feature model predicts ratings, and {train.name.split('/')[0]!r} has none"
        return None

    def fit(self, train: Dataset, *, valid=None, progress: Progress | None = None) -> "FeatureRating":
        for name in ("hidden", "epochs", "batch_size", "patience"):
            check_int(name, getattr(self, name))
        check_number("lr", self.lr, strict=True)
        check_number("l2", self.l2)
        self._refuse_if_not_applicable(train)
        device = resolve_device(self.device)
        gen = seed_everything(self.seed)
        self.n_items_ = train.n_items
        self._learn_vocabulary(train)
        self.gender_mean_ = _mean_one_hot(self.user_gender_, len(self.genders_))
        self.occupation_mean_ = _mean_one_hot(self.user_occupation_, len(self.occupations_))
        raw = self.raw_features(train.user, train.item)
        logpop = np.log1p(raw[:, 5])
        self.scale_ = np.array([raw[:, 0].mean(), raw[:, 0].std() or 1.0, raw[:, 4].mean(),
                                raw[:, 4].std() or 1.0, logpop.mean(), logpop.std() or 1.0], np.float64)
        self.global_mean_ = float(train.rating.mean())
        self.rating_range_ = [float(train.rating.min()), float(train.rating.max())]
        x = torch.as_tensor(self._encode(raw))
        y = torch.as_tensor(train.rating - self.global_mean_, dtype=torch.float32)
        net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], self.hidden), torch.nn.ReLU(),
                                  torch.nn.Linear(self.hidden, self.hidden), torch.nn.ReLU(),
                                  torch.nn.Linear(self.hidden, 1)).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.l2)

        def run_epoch(epoch: int) -> dict:
            net.train()
            order = torch.randperm(len(y), generator=gen)
            total = 0.0
            for lo in range(0, len(order), self.batch_size):
                idx = order[lo:lo + self.batch_size]
                loss = F.mse_loss(net(x[idx].to(device)).squeeze(1), y[idx].to(device))
                total += optimizer_step(opt, loss) * len(idx)
            self._set_weights(net)
            return {"train_mse": total / len(y)}

        def restore(state) -> None:
            self.w1_, self.b1_, self.w2_, self.b2_, self.w3_, self.b3_ = state

        train_epochs(self, run_epoch, validate=self._rating_validation(valid), snapshot=self._weights,
                     restore=restore, progress=progress)
        return self

    def _set_weights(self, net) -> None:
        self.w1_, self.b1_ = to_numpy(net[0].weight).T.copy(), to_numpy(net[0].bias)
        self.w2_, self.b2_ = to_numpy(net[2].weight).T.copy(), to_numpy(net[2].bias)
        self.w3_, self.b3_ = to_numpy(net[4].weight).T.copy(), to_numpy(net[4].bias)

    def _weights(self):
        return self.w1_, self.b1_, self.w2_, self.b2_, self.w3_, self.b3_

    # -- ranking --------------------------------------------------------------------------------------------
    def _check_items(self, items) -> np.ndarray:
        items = np.asarray(items, np.int64)
        if len(items) and (items.min() < 0 or items.max() >= self.n_items_):
            raise DataError("unknown item index")
        return items

    def _score(self, histories, users):
        all_items = np.arange(self.n_items_)
        out = np.empty((len(histories), self.n_items_), np.float32)
        if users is None:
            out[:] = self.predict(None, all_items)[None, :]
            return out
        for j, u in enumerate(users):
            out[j] = self.predict(np.full(self.n_items_, u), all_items)
        return out


def _codes(users: pd.DataFrame, column: str, n_users: int) -> tuple[list[str], np.ndarray]:
    if column not in users:
        return [], np.full(n_users, -1, np.int64)
    values = users[column].astype("string").fillna("?")
    names = sorted(values.unique().tolist())
    return names, values.map({v: i for i, v in enumerate(names)}).to_numpy(np.int64)


def _mean_one_hot(codes: np.ndarray, n: int) -> np.ndarray:
    if n == 0:
        return np.zeros(0, np.float32)
    return np.bincount(codes[codes >= 0], minlength=n).astype(np.float32) / max(1, (codes >= 0).sum())
