"""The model contract every recommender follows, and what they share.

A model is configured by keyword-only hyper-parameters in ``__init__`` (stored as given, no work done),
learns in ``fit(train)`` (which returns self), and keeps what it learned in attributes ending in ``_``.
It scores *histories* — ordered arrays of item ids — so one code path serves a training user, a user of
a held-out split, a cold-start user and a user composed in the app. Models with per-user parameters use
them when ``users`` names known users, and fold the history in otherwise.

Saving writes ``config.json`` (model name, hyper-parameters, scalar state) and ``arrays.npz`` (numpy and
scipy.sparse state, loaded with allow_pickle=False). Torch models add a safetensors file.
"""
from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np
from scipy import sparse

from recsys.checks import check_positive_int
from recsys.data.dataset import Dataset
from recsys.data.ragged import Ragged
from recsys.errors import ArtifactError, DataError, NotApplicable, NotFittedError, ParameterError
from recsys.io import atomic_save_npz, atomic_write_json, load_npz
from recsys.progress import Progress
from recsys.ranking import item_filter, mask_history, top_k

Histories = Sequence[np.ndarray] | Ragged

CONFIG_FILE = "config.json"
ARRAYS_FILE = "arrays.npz"


# Items above which a build economises: the transformers train within a time budget
# (``sequential.auto_time_budget``) and fewer test users' lists are explained ahead (``explain.store``).
LARGE_CATALOGUE = 10_000


class Recommender(ABC):
    """Base class: ``fit``, ``score``, ``recommend``, embeddings, ``save`` / ``load``."""

    name: ClassVar[str] = ""
    # Why the history plays no part in the score (None: it does). Explanations say this instead of
    # crediting history items.
    ignores_history: ClassVar[str | None] = None
    # Raised when the same hyper-parameters train a different model (a change in the code): stored
    # artifacts of an earlier revision are then rebuilt instead of served (``recsys.artifacts``).
    revision: ClassVar[int] = 0
    # True when ``users=`` swaps the history for learned per-user parameters (MF); False when it only
    # adjusts a history-based score (UserKNN leaves the user out of their own neighbours).
    per_user_parameters: ClassVar[bool] = False

    # -- hyper-parameters (scikit-learn style) -----------------------------------------------------------
    @classmethod
    def param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.kind == p.KEYWORD_ONLY]

    def get_params(self) -> dict:
        return {name: getattr(self, name) for name in self.param_names()}

    @classmethod
    def check_param_names(cls, params: dict) -> None:
        """ParameterError naming the unknown parameters and the ones the model takes."""
        unknown = set(params) - set(cls.param_names())
        if unknown:
            raise ParameterError(f"{cls.name} has no parameter(s) {', '.join(sorted(unknown))}; "
                                 f"it takes {', '.join(cls.param_names()) or 'none'}")

    def set_params(self, **params) -> "Recommender":
        self.check_param_names(params)
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- learning -----------------------------------------------------------------------------------------
    @abstractmethod
    def fit(self, train: Dataset, *, valid=None, progress: Progress | None = None) -> "Recommender":
        """Learn from ``train``; return self. ``valid`` (a HeldOut) is used by models that stop early."""

    def not_applicable(self, train: Dataset) -> str | None:
        """Why this model cannot learn from ``train`` (one line), or None. ``fit`` refuses with it before
        spending any time, and the app lists such models as not applying instead of "not built"."""
        return None

    def _refuse_if_not_applicable(self, train: Dataset) -> None:
        why = self.not_applicable(train)
        if why:
            raise NotApplicable(why)

    @abstractmethod
    def _score(self, histories: list[np.ndarray], users: np.ndarray | None) -> np.ndarray:
        """Scores (len(histories), n_items_) for validated histories; higher is better."""

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "n_items_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{self.name or type(self).__name__} is not fitted: call fit() first")

    # -- scoring --------------------------------------------------------------------------------------------
    def _check_histories(self, histories: Histories) -> list[np.ndarray]:
        rows = histories.rows() if isinstance(histories, Ragged) else list(histories)
        out = []
        for h in rows:
            h = np.asarray(h)
            if h.size and not np.issubdtype(h.dtype, np.integer):
                raise DataError(f"a history must hold integer item ids, got {h.dtype}")
            h = h.astype(np.int64, copy=False)
            if h.size and (h.min() < 0 or h.max() >= self.n_items_):
                bad = h[(h < 0) | (h >= self.n_items_)]
                raise DataError(f"history has unknown item id(s) {bad[:5].tolist()}: this model knows "
                                f"items 0..{self.n_items_ - 1}")
            out.append(h)
        return out

    def _check_users(self, users, n: int) -> np.ndarray | None:
        if users is None:
            return None
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        if len(users) != n:
            raise DataError(f"got {len(users)} users for {n} histories")
        return users

    def score(self, histories: Histories, users: np.ndarray | None = None) -> np.ndarray:
        """Scores of every item for each history: float32 (n_histories, n_items)."""
        self._check_fitted()
        rows = self._check_histories(histories)
        scores = self._score(rows, self._check_users(users, len(rows)))
        return np.asarray(scores, dtype=np.float32)

    def recommend(self, history, k: int = 10, exclude_seen: bool = True, users=None, *,
                  exclude=None, allowed=None) -> tuple[np.ndarray, np.ndarray]:
        """The top-``k`` items and their scores.

        One history (a 1-D array or list of item ids) gives 1-D arrays; a batch (list of arrays or a
        Ragged) gives 2-D arrays, where rows with fewer than ``k`` candidates are padded with item -1
        and score -inf. ``k`` above the catalogue is cut to the catalogue size. ``exclude`` (item ids)
        and ``allowed`` (a boolean mask over items, e.g. ``dataset.item_mask(genre="Comedy")``) narrow
        the candidates, as in ``ItemIndex.similar_items``.
        """
        check_positive_int("k", k)
        single = _is_single(history)
        batch = [np.asarray(history)] if single else history
        self._check_fitted()
        rows = self._check_histories(batch)
        scores = np.array(self._score(rows, self._check_users(
            None if users is None else np.atleast_1d(users), len(rows))), dtype=np.float32)
        if exclude_seen:
            mask_history(scores, rows)
        keep = item_filter(self.n_items_, exclude, allowed)
        if keep is not None:
            scores[:, ~keep] = -np.inf
        items, top = top_k(scores, int(k))
        if single:
            keep = items[0] >= 0
            return items[0][keep], top[0][keep]
        return items, top

    # -- embeddings (None for models without them) ------------------------------------------------------------
    def item_embeddings(self) -> np.ndarray | None:
        """One vector per item (n_items, dim), or None."""
        return None

    def user_embedding(self, history) -> np.ndarray | None:
        """A vector for a history (dim,), or None."""
        return None

    # -- persistence -------------------------------------------------------------------------------------------
    def _fitted_state(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to the folder ``path`` (created if needed)."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays, state = {}, {}
        for key, value in self._fitted_state().items():
            if isinstance(value, np.ndarray):
                if value.dtype == object:
                    raise TypeError(f"{key}: object arrays cannot be saved without pickle")
                arrays[key] = value
            elif sparse.issparse(value):
                csr = sparse.csr_matrix(value)
                arrays.update({f"{key}.data": csr.data, f"{key}.indices": csr.indices,
                               f"{key}.indptr": csr.indptr})
                state[key] = {"__sparse_shape__": list(csr.shape)}
            elif isinstance(value, (bool, int, float, str, list, dict, type(None), np.generic)):
                state[key] = value.item() if isinstance(value, np.generic) else value
            elif not self._save_extra(key, value, path):
                raise TypeError(f"{type(self).__name__}.{key}: cannot save a {type(value).__name__}")
        atomic_save_npz(path / ARRAYS_FILE, arrays)
        atomic_write_json(path / CONFIG_FILE, {"model": self.name, "params": self.get_params(),
                                               "state": state})
        return path

    def _save_extra(self, key: str, value, path: Path) -> bool:
        """Hook for state numpy cannot hold (torch modules); return True when handled."""
        return False

    def _load_extra(self, path: Path) -> None:
        """Hook to restore what ``_save_extra`` wrote."""

    @classmethod
    def load(cls, path: str | Path) -> "Recommender":
        path = Path(path)
        config = read_config(path)
        if cls.name and config.get("model") != cls.name:
            raise ArtifactError(f"{path} holds a {config.get('model')!r} model, not {cls.name!r}")
        try:
            model = cls(**config["params"])
        except TypeError as e:  # saved by a version whose hyper-parameters differ (an argument gone or renamed)
            raise ArtifactError(f"{path / CONFIG_FILE}: its hyper-parameters do not fit this version of "
                                f"{cls.__name__} ({e}); rebuild it (make build)") from None
        try:
            arrays = load_npz(path / ARRAYS_FILE)
        except (OSError, ValueError) as e:
            raise ArtifactError(f"{path / ARRAYS_FILE}: unreadable ({e})") from None
        for key, value in config["state"].items():
            if isinstance(value, dict) and "__sparse_shape__" in value:
                value = sparse.csr_matrix((arrays.pop(f"{key}.data"), arrays.pop(f"{key}.indices"),
                                           arrays.pop(f"{key}.indptr")),
                                          shape=tuple(value["__sparse_shape__"]))
            setattr(model, key, value)
        for key, value in arrays.items():
            setattr(model, key, value)
        model._load_extra(path)
        return model


class RatingPredictor:
    """What the rating models share: ``rating_errors`` from their ``predict``, and the bookkeeping after
    each training epoch (validation RMSE, early stopping, history, progress)."""

    def rating_errors(self, heldout) -> dict[str, float]:
        """MSE, RMSE and MAE on a held-out split's target ratings."""
        from recsys import metrics as M

        users = np.repeat(heldout.users, heldout.targets.lengths)
        pred = self.predict(users, heldout.targets.values)
        return {"mse": M.mse(heldout.ratings, pred), "rmse": M.rmse(heldout.ratings, pred),
                "mae": M.mae(heldout.ratings, pred)}

    def _rating_validation(self, valid):
        """The rating models' early-stopping criterion for ``torch_utils.train_epochs``: RMSE on the
        validation part (None without one)."""
        if valid is None or not len(valid):
            return None
        return lambda: ("valid_rmse", self.rating_errors(valid)["rmse"])


def history_matrix(histories: list[np.ndarray], n_items: int,
                   half_life: float | None = None) -> sparse.csr_matrix:
    """(n_histories, n_items) CSR matrix of the items in each history: 1 for each item, or with
    ``half_life`` its ``recency_weight`` (from the item's latest occurrence)."""
    lengths = np.fromiter((len(h) for h in histories), np.int64, count=len(histories))
    cols = np.concatenate(histories).astype(np.int64) if lengths.sum() else np.zeros(0, np.int64)
    rows = np.repeat(np.arange(len(histories)), lengths)
    if half_life is None:
        m = sparse.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)),
                              shape=(len(histories), n_items))
        m.data[:] = 1.0  # a repeated item counts once
        return m
    ends = np.repeat(np.cumsum(lengths), lengths)
    weights = recency_weight(ends - 1 - np.arange(len(cols)), half_life)
    # A repeated item counts once, at its latest (heaviest) occurrence: keep the last of each pair.
    last = np.unique((rows * n_items + cols)[::-1], return_index=True)[1]
    keep = len(cols) - 1 - last
    return sparse.csr_matrix((weights[keep].astype(np.float32), (rows[keep], cols[keep])),
                             shape=(len(histories), n_items))


def first_occurrences(history: np.ndarray) -> np.ndarray:
    """Boolean mask of the positions where each item of ``history`` first appears: a repeated item
    counts once in a score, so only those positions carry its term."""
    first = np.zeros(len(history), bool)
    first[np.unique(history, return_index=True)[1]] = True
    return first


def recency_weight(steps_back: np.ndarray, half_life: float | None) -> np.ndarray:
    """1 for a user's latest interaction, halving every ``half_life`` steps back (1 everywhere if None).
    MF-BPR samples its training positives with it; models that read a history weigh its items with it."""
    steps_back = np.asarray(steps_back, dtype=np.float64)
    return np.ones_like(steps_back) if half_life is None else 0.5 ** (steps_back / half_life)


def read_config(path: Path) -> dict:
    try:
        config = json.loads((Path(path) / CONFIG_FILE).read_text())
    except (OSError, ValueError) as e:
        raise ArtifactError(f"{Path(path) / CONFIG_FILE}: unreadable ({e})") from None
    if not isinstance(config, dict) or not {"model", "params", "state"} <= set(config):
        raise ArtifactError(f"{Path(path) / CONFIG_FILE}: not a saved model")
    return config


def _is_single(history) -> bool:
    """One history (1-D ids) rather than a batch of histories."""
    if isinstance(history, Ragged):
        return False
    if isinstance(history, np.ndarray):
        if history.ndim > 1:
            raise DataError("pass one history as a 1-D array, or a batch as a list of 1-D arrays")
        return history.dtype != object
    seq = list(history)
    return not seq or all(isinstance(x, (int, np.integer)) for x in seq)
