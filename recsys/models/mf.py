"""Matrix factorization: BPR for ranking (Rendle et al., UAI 2009) and a biased MF for ratings.

Both learn user and item vectors with torch (Adam, vectorized mini-batches) and keep them as numpy
arrays, so scoring needs no torch. Lists are folded in from the history with the item vectors fixed: for
BPR its vector is the ridge regression of "interacted" on the history's item vectors, for rating MF the
ridge regression of the history's ratings (the user's own, for a known user), both weighted to the
latest items. ``user_vectors=True``
ranks known users by their learned vectors instead.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from recsys.checks import check_int, check_number
from recsys.data.dataset import Dataset
from recsys.distributed import data_parallel, loss_weight, shard, world_size
from recsys.errors import DataError, ParameterError
from recsys.models.base import RatingPredictor, Recommender, recency_weight
from recsys.models.rated import RatedHistories
from recsys.models.registry import register
from recsys.models.torch_utils import (optimizer_step, resolve_device, seed_everything, to_numpy,
                                       train_epochs, ndcg_validation, weighted_sample)
from recsys.progress import Progress


def ridge_fold_in(item_factors: np.ndarray, histories: list[np.ndarray], l2: float,
                  half_life: float | None = None) -> np.ndarray:
    """One vector per history: argmin_u sum_h w_h (q_h · u - 1)² + l2 ||u||² (zeros when empty).

    With ``half_life``, w_h halves every ``half_life`` steps back from the latest item.
    """
    d = item_factors.shape[1]
    out = np.zeros((len(histories), d), np.float32)
    eye = l2 * np.eye(d)
    for j, h in enumerate(histories):
        if len(h):
            Q = item_factors[h].astype(np.float64)
            w = recency_weight(np.arange(len(h))[::-1], half_life)
            out[j] = np.linalg.solve((Q * w[:, None]).T @ Q + eye, (Q * w[:, None]).sum(axis=0))
    return out


class _FactorModel(Recommender):
    """Shared by the MF models: validation, per-user or folded-in vectors, embeddings."""

    @property
    def per_user_parameters(self) -> bool:
        """True when a known user is ranked by their learned vector; False (the default of both MF
        models) when every user's history is folded in, so the list and its explanation are one
        computation."""
        return getattr(self, "user_vectors", True)

    def _check_common(self) -> None:
        for name in ("dim", "epochs", "batch_size", "patience"):
            check_int(name, getattr(self, name))
        check_number("lr", self.lr, strict=True)
        check_number("l2", self.l2)

    def _user_vectors(self, histories, users) -> np.ndarray:
        if users is None or not self.per_user_parameters:
            return ridge_fold_in(self.item_factors_, histories, self.fold_in_l2,
                                 getattr(self, "fold_in_half_life", None))
        if users.min() < 0 or users.max() >= len(self.user_factors_):
            raise DataError(f"unknown user index in {users[:5].tolist()}: the model knows "
                            f"{len(self.user_factors_):,} users")
        return self.user_factors_[users]

    def item_embeddings(self) -> np.ndarray:
        self._check_fitted()
        return self.item_factors_

    def user_embedding(self, history) -> np.ndarray:
        self._check_fitted()
        return self._user_vectors(self._check_histories([history]), None)[0]


@register("bpr")
class BPR(_FactorModel):
    """MF trained with the BPR pairwise loss: an observed item should outscore a sampled one.

    No item bias by default: on ml-100k's validation split it lowered NDCG@10 (learned user vectors
    0.098 with, 0.100 without; folded-in ones 0.097 with, 0.115 without; bench/tune.py). A history
    without a known user is folded in (``ridge_fold_in``) with its own penalty and recency half-life,
    chosen on the validation NDCG@10 of folded-in vectors: 10 and 1.5 (0.115; the training's half-life
    of 10 gave 0.090). Training samples positives with the longer half-life; the fold-in reads the
    latest items.

    Known users are ranked the same way (``user_vectors=False``): their learned vectors ranked worse on
    ml-100k's test split (NDCG@10 0.073 against 0.105, bench/models.py), and a list made from the
    history is one whose explanation (which credits history items) explains it. ``user_vectors=True``
    ranks known users by their learned vectors.
    """

    def __init__(self, *, dim: int = 64, epochs: int = 200, batch_size: int = 2048, lr: float = 5e-3,
                 l2: float = 1e-2, init_std: float = 0.04, item_bias: bool = False, negatives: int = 1,
                 recency_half_life: float | None = 10.0, patience: int = 10, eval_every: int = 1,
                 fold_in_l2: float = 10.0, fold_in_half_life: float | None = 1.5,
                 user_vectors: bool = False, sparse: bool = False, seed: int = 0, device: str = "auto"):
        self.dim = dim
        self.sparse = sparse
        self.negatives = negatives
        self.recency_half_life = recency_half_life
        self.item_bias = item_bias
        self.init_std = init_std
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.l2 = l2
        self.patience = patience
        self.eval_every = eval_every
        self.fold_in_l2 = fold_in_l2
        self.fold_in_half_life = fold_in_half_life
        self.user_vectors = user_vectors
        self.seed = seed
        self.device = device

    def fit(self, train: Dataset, *, valid=None, progress: Progress | None = None) -> "BPR":
        self._check_common()
        check_int("negatives", self.negatives)
        check_int("eval_every", self.eval_every)
        check_number("init_std", self.init_std, strict=True)
        check_number("fold_in_l2", self.fold_in_l2, strict=True)
        for name in ("recency_half_life", "fold_in_half_life"):
            check_number(name, getattr(self, name), strict=True, optional=True)
        if self.sparse and world_size() > 1:
            raise ParameterError("sparse=True (lazy Adam) trains in one process only; drop it under torchrun")
        device = resolve_device(self.device)
        gen = seed_everything(self.seed)
        users = torch.as_tensor(train.user, dtype=torch.long)
        items = torch.as_tensor(train.item, dtype=torch.long)
        n_users, n_items = train.n_users, train.n_items
        positives = np.sort(train.user.astype(np.int64) * n_items + train.item)
        net = _BPRNet(n_users, n_items, self.dim, self.init_std, self.sparse, gen, self.item_bias).to(device)
        # Dense Adam moves every row every step; past a few million parameters that dominates the step,
        # so ``sparse`` switches to lazy Adam over the rows a batch touches (SparseAdam).
        opt = (torch.optim.SparseAdam if self.sparse else torch.optim.Adam)(net.parameters(), lr=self.lr)
        trainer = data_parallel(net, self._bpr_loss, device)
        self.n_items_ = n_items
        weights = _recency_weights(train, self.recency_half_life)

        def run_epoch(epoch: int) -> dict:
            if weights is None:
                order = torch.randperm(len(users), generator=gen)
            else:
                order = weighted_sample(weights, len(users), gen)
            neg = torch.randint(0, n_items, (len(users), self.negatives), generator=gen)
            # Re-draw negatives that happen to be positives (once: ~density² of them remain, harmless).
            codes = train.user[order.numpy()].astype(np.int64)[:, None] * n_items + neg.numpy()
            clash = torch.as_tensor(np.isin(codes, positives))
            neg[clash] = torch.randint(0, n_items, (int(clash.sum()),), generator=gen)
            total = 0.0
            for lo in range(0, len(order), self.batch_size):
                batch = torch.arange(lo, min(lo + self.batch_size, len(order)))
                mine = shard(batch)  # this process's rows of the batch (all of them without torchrun)
                idx, weight = order[mine], loss_weight(len(mine), len(batch))
                loss = trainer(users[idx].to(device), items[idx].to(device), neg[mine].to(device),
                               weight=weight)
                total += optimizer_step(opt, loss) / weight * len(batch)
            self._set_factors(net)
            return {"loss": total / len(order)}

        def restore(state) -> None:
            self.user_factors_, self.item_factors_, self.item_bias_ = state

        train_epochs(self, run_epoch, progress=progress, eval_every=self.eval_every,
                     validate=ndcg_validation(self, valid, train),
                     snapshot=lambda: (self.user_factors_, self.item_factors_, self.item_bias_),
                     restore=restore)
        return self

    def _bpr_loss(self, net: "_BPRNet", u, i, j, weight: float = 1.0) -> torch.Tensor:
        """Mean BPR loss of a batch (times ``weight``, see ``distributed.loss_weight``)."""
        pu, qi, qj = net.P(u), net.Q(i), net.Q(j)  # j: (batch, negatives)
        diff = (pu * qi).sum(dim=1, keepdim=True) - torch.einsum("bd,bnd->bn", pu, qj)
        if self.item_bias:
            diff = diff + net.B(i) - net.B(j)[..., 0]
        loss = -F.logsigmoid(diff).mean() + self.l2 * (
            pu.pow(2).sum() + qi.pow(2).sum() + qj.pow(2).sum() / self.negatives) / len(u)
        return loss * weight

    def _set_factors(self, net: "_BPRNet") -> None:
        self.user_factors_, self.item_factors_ = to_numpy(net.P.weight), to_numpy(net.Q.weight)
        self.item_bias_ = (to_numpy(net.B.weight)[:, 0].copy() if net.B is not None
                           else np.zeros(len(self.item_factors_), np.float32))

    def _score(self, histories, users):
        # asarray: float16 factors (recsys.compress.half_embeddings) are widened here, float32 pass as is.
        vectors = np.asarray(self._user_vectors(histories, users), np.float32)
        return vectors @ np.asarray(self.item_factors_, np.float32).T + self.item_bias_[None, :]


class _BPRNet(torch.nn.Module):
    """BPR's parameters as one module, so that DistributedDataParallel can wrap them."""

    def __init__(self, n_users: int, n_items: int, dim: int, init_std: float, sparse: bool,
                 gen: torch.Generator, item_bias: bool = True):
        super().__init__()
        self.P = torch.nn.Embedding(n_users, dim, sparse=sparse)
        self.Q = torch.nn.Embedding(n_items, dim, sparse=sparse)
        # Item bias (popularity, learned) only when asked for: DistributedDataParallel refuses a
        # parameter that gets no gradient.
        self.B = torch.nn.Embedding(n_items, 1, sparse=sparse) if item_bias else None
        for emb in (self.P, self.Q):
            torch.nn.init.normal_(emb.weight, std=init_std, generator=gen)
        if self.B is not None:
            torch.nn.init.zeros_(self.B.weight)


@register("ratingmf")
class RatingMF(RatedHistories, RatingPredictor, _FactorModel):
    """Biased MF for explicit ratings: r(u, i) = mu + b_u + b_i + p_u · q_i, trained on squared error.

    ``predict(users, items)`` gives ratings (clipped to the training range) from the learned user
    parameters; ``score`` ranks items by predicted rating, so the model can also recommend.

    A list is the history folded in (``fold_in``): (b_u, p_u) refitted to the history's ratings with the
    item side fixed, under the training's own penalty — each rating brings l2 (‖p_u‖² + b_u²), as in
    the training loss; items without a rating count as rated at ``implicit_rating``. Each rating's
    squared error and penalty weigh by recency (``fold_in_weights``: halving every
    ``fold_in_half_life`` items back from the latest), so the list follows what the user rated lately.
    A half-life of 2 was chosen on ml-100k's validation NDCG@10 (mean of 3 seeds, bench/tune.py
    ratingmf-fold-in; every rating alike, ``fold_in_half_life=None``, ranked worse). With None a known user's fold-in of their
    training ratings is the learned user's step of alternating least squares (on ml-100k 82% of the
    top 10 is the learned vector's). Known users are ranked by the fold-in (``user_vectors=False``):
    then the list the Users page shows is the one its explanation (occlusion, through the same
    fold-in) explains. ``user_vectors=True`` ranks them by the learned vectors, which the list's
    explanation does not read.
    """

    # 1: lists are the rated history folded in under the training penalty, known users too, with the
    #    training and validation ratings (2026-12-05; was: learned vectors for known users, a ridge on
    #    "watched" for other histories).
    # 2: the fold-in weighs the latest ratings more (fold_in_half_life=2; was every rating alike).
    revision = 2

    def __init__(self, *, dim: int = 64, epochs: int = 40, batch_size: int = 1024, lr: float = 3e-3,
                 l2: float = 0.1, patience: int = 3, implicit_rating: float | None = None,
                 fold_in_half_life: float | None = 2.0, user_vectors: bool = False, seed: int = 0,
                 device: str = "auto"):
        self.dim = dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.l2 = l2
        self.patience = patience
        self.implicit_rating = implicit_rating
        self.fold_in_half_life = fold_in_half_life
        self.user_vectors = user_vectors
        self.seed = seed
        self.device = device

    def fit(self, train: Dataset, *, valid=None, progress: Progress | None = None) -> "RatingMF":
        self._check_common()
        check_number("l2", self.l2, strict=True)        # the fold-in's penalty: a short history needs it
        check_number("implicit_rating", self.implicit_rating, optional=True)
        check_number("fold_in_half_life", self.fold_in_half_life, strict=True, optional=True)
        if not train.has_ratings:
            raise DataError("RatingMF needs explicit ratings; this dataset has none")
        device = resolve_device(self.device)
        gen = seed_everything(self.seed)
        users = torch.as_tensor(train.user, dtype=torch.long)
        items = torch.as_tensor(train.item, dtype=torch.long)
        ratings = torch.as_tensor(train.rating, dtype=torch.float32)
        mu = float(ratings.mean())
        P = torch.nn.Embedding(train.n_users, self.dim).to(device)
        Q = torch.nn.Embedding(train.n_items, self.dim).to(device)
        bu = torch.nn.Embedding(train.n_users, 1).to(device)
        bi = torch.nn.Embedding(train.n_items, 1).to(device)
        for emb in (P, Q):
            torch.nn.init.normal_(emb.weight, std=0.05, generator=gen)
        for emb in (bu, bi):
            torch.nn.init.zeros_(emb.weight)
        opt = torch.optim.Adam([P.weight, Q.weight, bu.weight, bi.weight], lr=self.lr)
        self.n_items_ = train.n_items
        self.global_mean_ = mu
        self.rating_range_ = [float(train.rating.min()), float(train.rating.max())]

        def run_epoch(epoch: int) -> dict:
            order = torch.randperm(len(users), generator=gen)
            total = 0.0
            for lo in range(0, len(order), self.batch_size):
                idx = order[lo:lo + self.batch_size]
                u, i, r = users[idx].to(device), items[idx].to(device), ratings[idx].to(device)
                pu, qi = P(u), Q(i)
                pred = mu + bu(u).squeeze(1) + bi(i).squeeze(1) + (pu * qi).sum(dim=1)
                mse = F.mse_loss(pred, r)
                reg = self.l2 * ((pu.pow(2).sum(1) + qi.pow(2).sum(1)).mean()
                                 + (bu(u).pow(2) + bi(i).pow(2)).mean())
                optimizer_step(opt, mse + reg)
                total += float(mse.detach()) * len(idx)
            self._set_state(P, Q, bu, bi)
            return {"train_mse": total / len(order)}

        def restore(state) -> None:
            self.user_factors_, self.item_factors_, self.user_bias_, self.item_bias_ = state

        train_epochs(self, run_epoch, validate=self._rating_validation(valid),
                     snapshot=self._factors, restore=restore, progress=progress)
        self._keep_ratings(train, valid)
        return self

    def _set_state(self, P, Q, bu, bi) -> None:
        self.user_factors_, self.item_factors_ = to_numpy(P.weight), to_numpy(Q.weight)
        self.user_bias_, self.item_bias_ = to_numpy(bu.weight).ravel(), to_numpy(bi.weight).ravel()

    def _factors(self):
        return self.user_factors_, self.item_factors_, self.user_bias_, self.item_bias_

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted ratings for (user, item) pairs, clipped to the training ratings' range."""
        self._check_fitted()
        users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
        if len(users) and (users.min() < 0 or users.max() >= len(self.user_factors_)):
            raise DataError("unknown user index in predict()")
        if len(items) and (items.min() < 0 or items.max() >= self.n_items_):
            raise DataError("unknown item index in predict()")
        pred = (self.global_mean_ + self.user_bias_[users] + self.item_bias_[items]
                + (self.user_factors_[users] * self.item_factors_[items]).sum(axis=1))
        return np.clip(pred, *self.rating_range_).astype(np.float32)

    def fold_in(self, histories, users=None) -> tuple[np.ndarray, np.ndarray]:
        """Each history's (b_u, p_u): argmin Σ_h w_h [(r_h − mu − b_h − b_u − q_h · p_u)² + l2 (b_u² +
        ‖p_u‖²)] over its items, w_h their ``fold_in_weights`` (the latest most, averaging 1),
        the ratings its user gave (``known_ratings``) with ``users``, else ``implicit_rating``.
        Returns biases (len,) and vectors (len, dim); an empty history gives zeros.
        """
        self._check_fitted()
        histories = self._check_histories(histories)
        users = self._check_users(users, len(histories))
        Q = np.asarray(self.item_factors_, np.float64)
        X = np.hstack([Q, np.ones((len(Q), 1))])                  # the bias as one more factor
        d = X.shape[1]
        gram = np.empty((len(histories), d, d))
        linear = np.empty((len(histories), d))
        for j, (h, r) in enumerate(zip(histories, self.ratings_of(histories, users))):
            h = np.asarray(h, np.int64)
            w = self.fold_in_weights(len(h))          # average 1: the penalty stays l2 per rating
            Xw = X[h] * w[:, None]
            gram[j] = Xw.T @ X[h] + self.l2 * max(len(h), 1) * np.eye(d)
            linear[j] = Xw.T @ (r - self.global_mean_ - self.item_bias_[h])
        solved = np.linalg.solve(gram, linear[..., None])[..., 0]
        return solved[:, -1], solved[:, :-1]

    def _user_vectors(self, histories, users) -> np.ndarray:
        if users is not None and self.per_user_parameters:
            return super()._user_vectors(histories, users)
        return self.fold_in(histories, users)[1].astype(np.float32)

    def _score(self, histories, users):
        if users is not None and self.per_user_parameters:
            vectors = self._user_vectors(histories, users)                 # checks the user indices
            bias = self.user_bias_[users]
        else:
            bias, vectors = self.fold_in(histories, users)
        return (self.global_mean_ + bias[:, None] + self.item_bias_[None, :]
                + vectors @ np.asarray(self.item_factors_, np.float64).T)


def _recency_weights(train: Dataset, half_life: float | None) -> torch.Tensor | None:
    """Sampling weight per training interaction, or None for uniform sampling."""
    if half_life is None:
        return None
    pos, length = train.positions_in_user()
    return torch.as_tensor(recency_weight(length - 1 - pos, half_life), dtype=torch.float64)
