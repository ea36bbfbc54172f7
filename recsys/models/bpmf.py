"""Bayesian probabilistic matrix factorisation (Salakhutdinov & Mnih, ICML 2008): ratings with their
uncertainty.

r(u, i) ~ N(mu + U_u · V_i, 1/alpha), U_u ~ N(mu_U, Lambda_U^-1), V_i ~ N(mu_V, Lambda_V^-1), with
Gaussian-Wishart hyper-priors on (mu_U, Lambda_U) and (mu_V, Lambda_V). Gibbs sampling draws each
user's and item's vector from its Gaussian conditional in turn. Unlike the paper, which fixes the noise
precision alpha = 2, alpha is sampled too (Gamma prior): the predictive intervals are only as honest as
the noise level, and ml-100k's residual spread is not the paper's Netflix one.

After ``burn_in`` sweeps, ``samples`` sweeps are run and every ``samples // keep``-th state is kept
(``keep`` draws of U, V and alpha, saved as plain arrays). Predictions average over the kept draws; the
predictive distribution of a rating is the mixture of their Gaussians, so an interval's width says how
sure the model is (few ratings, unusual taste → wide). Ranking uses the posterior mean, or one posterior
draw per user with ``thompson=True`` (Thompson sampling: uncertain items get their chance).

A history is folded in per kept draw of the item vectors: the user vector's Gaussian posterior given the
history's ratings under the learned user prior (``fold_in``, exact, no sampling), each rating's
likelihood raised to its ``fold_in_weights`` (halving every ``fold_in_half_life`` ratings back from the
latest, averaging 1: the history weighs as much against the prior as before, its latest ratings more).
A half-life of 3 was chosen on ml-100k's validation NDCG@10: 0.0177 against 0.0158 with every rating
alike (``None``), higher on each of 3 seeds (bench/tune.py bpmf-fold-in). Items given without
ratings count as rated at ``implicit_rating`` (the 75th percentile of training ratings by default:
"chosen, so probably liked"). A known user's list folds in their history with the ratings they gave in
training and validation (``known_ratings``), so the list and its explanation (occlusion through the same fold-in) are
one computation; the stored user draws serve ``predict``, the rating errors and Thompson sampling.
"""
from __future__ import annotations

import time

import numpy as np
from scipy import sparse, stats
from scipy.special import ndtr

from recsys.checks import check_int, check_number
from recsys.data.dataset import Dataset
from recsys.errors import DataError, ParameterError
from recsys.models.base import RatingPredictor, Recommender
from recsys.models.rated import RatedHistories
from recsys.models.registry import register
from recsys.progress import Progress


def _owner_matrix(owners: np.ndarray, n: int) -> sparse.csr_matrix:
    """(n, len(owners)) 0/1 matrix: row o marks the ratings owner o gave (a user) or got (an item)."""
    return sparse.csr_matrix((np.ones(len(owners)), (owners, np.arange(len(owners)))),
                             shape=(n, len(owners)))


def _conditionals(owned: sparse.csr_matrix, factors: np.ndarray, values: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per owner: the sum of f f^T and of value * f over the rating rows it owns (``factors`` holds the
    other side's vector for each rating row). One sparse product each, not a loop over owners."""
    d = factors.shape[1]
    outer = (factors[:, :, None] * factors[:, None, :]).reshape(len(factors), d * d)
    return (owned @ outer).reshape(-1, d, d), owned @ (factors * values[:, None])


def _gaussian_draws(precision: np.ndarray, shift: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row from N(precision^-1 shift, precision^-1), batched over the leading axis."""
    chol = np.linalg.cholesky(precision)
    mean = np.linalg.solve(precision, shift[..., None])[..., 0]
    z = rng.standard_normal(shift.shape)
    return mean + np.linalg.solve(np.swapaxes(chol, -1, -2), z[..., None])[..., 0]


def _hyper_draw(vectors: np.ndarray, beta0: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(mu, Lambda) from their Gaussian-Wishart conditional given the vectors (mu0 = 0, W0 = I,
    nu0 = dim, as in the paper)."""
    n, d = vectors.shape
    mean = vectors.mean(axis=0)
    scatter = (vectors - mean).T @ (vectors - mean)
    w_inv = np.eye(d) + scatter + (beta0 * n / (beta0 + n)) * np.outer(mean, mean)
    w = np.linalg.inv(w_inv)
    w = (w + w.T) / 2
    lam = stats.wishart.rvs(df=d + n, scale=w, random_state=rng)
    lam = np.atleast_2d(lam)
    mu = rng.multivariate_normal(n * mean / (beta0 + n), np.linalg.inv((beta0 + n) * lam))
    return mu, lam


def _leverage_bound(Y: np.ndarray, alpha: float, leverage: np.ndarray, k: int, root: np.ndarray,
                    lam: np.ndarray) -> float:
    """An upper bound below 1 on the largest eigenvalue of α Σ_R ŷ_j ŷ_jᵀ over every set R of k rows.

    For a unit x, the sum over R is at most the top-k sum of s_j = α(ŷ_j·x)², which is at most
    kτ + Σ_j (s_j − τ)₊ for any τ, and (s_j − τ)₊ ≤ (1 − τ/h_j)₊ s_j since s_j ≤ h_j (a convex
    function under its chord): so kτ + λmax(Σ_j (1 − τ/h_j)₊ α ŷ_j ŷ_jᵀ) bounds it, minimised over a
    grid of τ. Removing every item leaves the prior, so 1 − λmin(P^-½ Λ P^-½) bounds it too.
    """
    prior = 1.0 - float(np.linalg.eigvalsh(root @ lam @ root).min())
    taus = np.quantile(leverage, np.linspace(0, 1, 33))
    weights = np.clip(1 - taus[:, None] / np.maximum(leverage, 1e-300), 0, None)      # (τ, rows)
    largest = np.linalg.eigvalsh(alpha * (weights[:, None, :] * Y.T) @ Y)[:, -1]
    return min(prior, float((k * taus + largest).min()))


def mixture_quantiles(means: np.ndarray, sds: np.ndarray, levels: np.ndarray,
                      iterations: int = 40) -> np.ndarray:
    """Quantiles of equal-weight Gaussian mixtures: ``means``/``sds`` (n, S) → (n, len(levels)), by
    bisection on the mixture's CDF."""
    lo = (means - 6 * sds).min(axis=1)
    hi = (means + 6 * sds).max(axis=1)
    out = np.empty((len(means), len(levels)))
    for j, level in enumerate(levels):
        a, b = lo.copy(), hi.copy()
        for _ in range(iterations):
            mid = (a + b) / 2
            below = ndtr((mid[:, None] - means) / sds).mean(axis=1) < level
            a = np.where(below, mid, a)
            b = np.where(below, b, mid)
        out[:, j] = (a + b) / 2
    return out


@register("bpmf")
class BPMF(RatedHistories, RatingPredictor, Recommender):
    """Bayesian PMF by Gibbs sampling; ``predict_interval`` gives predictive intervals."""

    # 1: known users are ranked by folding in their rated history (2026-12-05); the ratings are stored.
    # 2: each kept draw keeps its own user prior for the fold-in (2026-12-05; was the last draw's).
    # 3: the validation items' ratings are kept too: a test history holds them (2026-12-05).
    # 4: the fold-in weighs the latest ratings more (fold_in_half_life; was every rating alike).
    revision = 4

    @property
    def per_user_parameters(self) -> bool:
        """Thompson sampling ranks known users by their stored draws; otherwise every list is a fold-in."""
        return self.thompson

    def __init__(self, *, dim: int = 10, burn_in: int = 100, samples: int = 200, keep: int = 20,
                 beta0: float = 2.0, noise_shape: float = 1.0, noise_rate: float = 1.0,
                 implicit_rating: float | None = None, fold_in_half_life: float | None = 3.0,
                 thompson: bool = False, seed: int = 0):
        self.dim = dim
        self.burn_in = burn_in
        self.samples = samples
        self.keep = keep
        self.beta0 = beta0
        self.noise_shape = noise_shape
        self.noise_rate = noise_rate
        self.implicit_rating = implicit_rating
        self.fold_in_half_life = fold_in_half_life
        self.thompson = thompson
        self.seed = seed

    def not_applicable(self, train: Dataset) -> str | None:
        if not train.has_ratings:
            return "BPMF models explicit ratings, and this dataset has none"
        return None

    def _check_params(self) -> None:
        for name in ("dim", "samples", "keep"):
            check_int(name, getattr(self, name))
        check_int("burn_in", self.burn_in, minimum=0)
        if self.keep > self.samples:
            raise ParameterError(f"keep ({self.keep}) cannot exceed samples ({self.samples})")
        for name in ("beta0", "noise_shape", "noise_rate"):
            check_number(name, getattr(self, name), strict=True)
        check_number("implicit_rating", self.implicit_rating, optional=True)
        check_number("fold_in_half_life", self.fold_in_half_life, strict=True, optional=True)

    def fit(self, train: Dataset, *, valid=None, progress: Progress | None = None) -> "BPMF":
        self._check_params()
        self._refuse_if_not_applicable(train)
        rng = np.random.default_rng(self.seed)
        users, items = train.user.astype(np.int64), train.item.astype(np.int64)
        ratings = train.rating.astype(np.float64)
        n_users, n_items, d = train.n_users, train.n_items, self.dim
        mu = float(ratings.mean())
        centred = ratings - mu
        U = 0.1 * rng.standard_normal((n_users, d))
        V = 0.1 * rng.standard_normal((n_items, d))
        alpha = 2.0
        total = self.burn_in + self.samples
        every = self.samples // self.keep
        kept_u, kept_v, kept_alpha, kept_hyper = [], [], [], []
        self.history_ = []
        start = time.perf_counter()
        by_item, by_user = _owner_matrix(items, n_items), _owner_matrix(users, n_users)
        for sweep in range(total):
            mu_v, lam_v = _hyper_draw(V, self.beta0, rng)
            gram, linear = _conditionals(by_item, U[users], centred)
            V = _gaussian_draws(lam_v + alpha * gram, alpha * linear + lam_v @ mu_v, rng)
            mu_u, lam_u = _hyper_draw(U, self.beta0, rng)
            gram, linear = _conditionals(by_user, V[items], centred)
            U = _gaussian_draws(lam_u + alpha * gram, alpha * linear + lam_u @ mu_u, rng)
            residual = centred - (U[users] * V[items]).sum(axis=1)
            sse = float(residual @ residual)
            alpha = rng.gamma(self.noise_shape + len(ratings) / 2, 1.0 / (self.noise_rate + sse / 2))
            record = {"sweep": sweep + 1, "train_rmse": float(np.sqrt(sse / len(ratings))),
                      "noise_sd": float(alpha ** -0.5), "seconds": time.perf_counter() - start}
            after = sweep + 1 - self.burn_in
            if after > 0 and after % every == 0 and len(kept_u) < self.keep:
                kept_u.append(U.astype(np.float32))
                kept_v.append(V.astype(np.float32))
                kept_alpha.append(alpha)
                kept_hyper.append(np.concatenate([mu_u[None], lam_u]))
            self.history_.append(record)
            if progress and (sweep + 1) % 10 == 0:
                phase = "burn-in" if sweep < self.burn_in else "sampling"
                progress((sweep + 1) / total, f"sweep {sweep + 1}/{total} ({phase}), "
                                              f"train RMSE {record['train_rmse']:.3f}")
        self.n_items_ = n_items
        self.global_mean_ = mu
        self.rating_range_ = [float(ratings.min()), float(ratings.max())]
        self.user_samples_ = np.stack(kept_u)
        self.item_samples_ = np.stack(kept_v)
        self.noise_precision_ = np.asarray(kept_alpha)
        # Each kept draw's user prior (mu_U; Lambda_U), (keep, 1 + d, d): a new user is folded in under
        # the prior its draw of V was sampled with. The chain turns the factors slowly, so one prior for
        # all draws would not fit the earlier ones (ml-100k: draw 1's mean user vector is 0.49 of the last
        # prior mean's length away from it).
        self.hyper_user_ = np.stack(kept_hyper)
        self._keep_ratings(train, valid)  # a known user's list folds in the ratings they gave
        return self

    # -- predictions ----------------------------------------------------------------------------------
    def _check_items(self, items) -> np.ndarray:
        self._check_fitted()
        items = np.asarray(items, np.int64)
        if items.size and (items.min() < 0 or items.max() >= self.n_items_):
            raise DataError(f"unknown item id in {items[(items < 0) | (items >= self.n_items_)][:5].tolist()}: "
                            f"the model knows items 0..{self.n_items_ - 1}")
        return items

    def _check_user_indices(self, users) -> np.ndarray:
        users = np.asarray(users, np.int64)
        n = self.user_samples_.shape[1]
        if users.size and (users.min() < 0 or users.max() >= n):
            raise DataError(f"unknown user index in {users[(users < 0) | (users >= n)][:5].tolist()}: "
                            f"the model knows {n:,} users")
        return users

    def _check_pairs(self, users, items) -> tuple[np.ndarray, np.ndarray]:
        items = self._check_items(items)
        users = self._check_user_indices(users)
        if users.shape != items.shape:
            raise DataError(f"got {users.size} users for {items.size} items")
        return users, items

    def _draw_means(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """(n, keep): each kept draw's mean rating for the pairs."""
        return self.global_mean_ + np.einsum("snd,snd->ns", self.user_samples_[:, users],
                                             self.item_samples_[:, items])

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Posterior-mean ratings for (user, item) pairs, clipped to the training ratings' range."""
        users, items = self._check_pairs(users, items)
        return np.clip(self._draw_means(users, items).mean(axis=1), *self.rating_range_).astype(np.float32)

    def predict_interval(self, users, items, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """The central ``level`` predictive interval of each pair's rating: (low, high), from the mixture
        of the kept draws' Gaussians (parameter and noise uncertainty), clipped to the rating range."""
        users, items = self._check_pairs(users, items)
        return self._intervals(self._draw_means(users, items), level)

    def _intervals(self, means: np.ndarray, level: float, extra_var: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Central interval of the mixture of N(means[:, s], 1/alpha_s + extra_var[:, s])."""
        if not 0 < level < 1:
            raise ParameterError(f"level must be in (0, 1), got {level}")
        var = np.broadcast_to(1.0 / self.noise_precision_, means.shape)
        sds = np.sqrt(var if extra_var is None else var + extra_var)
        q = np.clip(mixture_quantiles(means, sds, np.array([(1 - level) / 2, (1 + level) / 2])),
                    *self.rating_range_)
        return q[:, 0].astype(np.float32), q[:, 1].astype(np.float32)

    def rating_summary(self, items, *, user: int | None = None, history=None, ratings=None,
                       level: float = 0.9) -> dict[str, np.ndarray]:
        """For each of ``items``: the predicted rating (posterior mean), the ``level`` predictive interval
        and ``model_sd``, the model's own uncertainty about the mean rating (the spread of the posterior,
        without the rating noise every prediction shares). For a known ``user`` (their stored draws), or
        a ``history`` (with optional ``ratings``) folded in (exact Gaussian per kept draw); a known
        ``user`` with a ``history`` folds it in with the user's training ratings, as their list ranks."""
        items = self._check_items(items)
        if user is not None and history is None:
            means, extra = self._draw_means(np.full(len(items), int(user)), items), None
            spread = means.var(axis=1)
        else:
            history = np.asarray(history if history is not None else [], np.int64)
            if user is not None and ratings is None:
                ratings = self.known_ratings(user, history)
            mean, cov = self.fold_in(history, ratings)
            V = self.item_samples_[:, items].astype(np.float64)                  # (keep, n, d)
            means = self.global_mean_ + np.einsum("sd,snd->ns", mean, V)
            extra = np.einsum("snd,sde,sne->ns", V, cov, V)                      # v' Sigma_s v
            spread = means.var(axis=1) + extra.mean(axis=1)
        low, high = self._intervals(means, level, extra)
        return {"predicted": np.clip(means.mean(axis=1), *self.rating_range_).astype(np.float32),
                "low": low, "high": high, "model_sd": np.sqrt(spread).astype(np.float32)}

    def posterior_path(self, history, ratings, item: int, points: int = 40,
                       level: float = 0.9) -> dict[str, np.ndarray]:
        """How the prediction for ``item`` moves as the rated ``history`` is folded in, oldest first:
        the summary (``rating_summary``) after 0, …, len(history) items, at up to ``points`` steps."""
        history = np.asarray(history, np.int64)
        ratings = np.asarray(ratings, np.float64)
        if ratings.shape != history.shape:
            raise DataError(f"got {ratings.size} ratings for {history.size} items")
        steps = np.unique(np.linspace(0, len(history), min(points, len(history) + 1)).round().astype(int))
        rows = [self.rating_summary([item], history=history[:n], ratings=ratings[:n], level=level)
                for n in steps]
        return {"items": steps, **{key: np.array([r[key][0] for r in rows]) for key in rows[0]}}

    def rating_errors(self, heldout) -> dict[str, float]:
        """RMSE, MAE, MSE, and the share of held-out ratings inside the 50 / 80 / 90% intervals."""
        errors = super().rating_errors(heldout)
        users = np.repeat(heldout.users, heldout.targets.lengths)
        for level in (0.5, 0.8, 0.9):
            low, high = self.predict_interval(users, heldout.targets.values, level)
            inside = (heldout.ratings >= low) & (heldout.ratings <= high)
            errors[f"coverage_{round(level * 100)}"] = float(inside.mean())
        return errors

    # -- fold-in and ranking --------------------------------------------------------------------------
    def _ratings_of(self, items: np.ndarray, ratings) -> np.ndarray:
        r = (np.full(len(items), self.implicit_rating_) if ratings is None
             else np.asarray(ratings, np.float64))
        if r.shape != items.shape:
            raise DataError(f"got {r.size} ratings for {items.size} items")
        return r

    def fold_in(self, items, ratings=None) -> tuple[np.ndarray, np.ndarray]:
        """The posterior of a new user's vector given rated ``items`` (ratings default to
        ``implicit_rating``), per kept draw of the item vectors: Gaussian means (keep, dim) and
        covariances (keep, dim, dim), under the learned user prior. An empty history gives the prior."""
        items = self._check_items(items)
        r = self._ratings_of(items, ratings)
        w = self.fold_in_weights(len(items))
        V = self.item_samples_[:, items].astype(np.float64)  # (keep, n, d)
        precision, shift = self._user_posterior(np.einsum("snd,n,sne->sde", V, w, V),
                                                np.einsum("snd,n->sd", V, w * (r - self.global_mean_)))
        cov = np.linalg.inv(precision)
        return np.einsum("sde,se->sd", cov, shift), cov

    def _user_posterior(self, gram: np.ndarray, linear: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Precision and shift (precision · mean) of a user vector's Gaussian posterior per kept draw,
        from the history's sums of v v^T (keep, ..., d, d) and of (rating − mean) · v (keep, ..., d),
        under the learned user prior — the same conditional the sampler draws users from."""
        extra = (1,) * (linear.ndim - 2)                                   # the "..." axes
        mu_u, lam_u = self.hyper_user_[:, 0], self.hyper_user_[:, 1:]
        prior_shift = np.einsum("sde,se->sd", lam_u, mu_u).reshape(len(mu_u), *extra, -1)
        alpha = self.noise_precision_.reshape(-1, *[1] * (linear.ndim - 1))
        return (lam_u.reshape(len(lam_u), *extra, *lam_u.shape[1:]) + alpha[..., None] * gram,
                alpha * linear + prior_shift)

    def _stacked(self) -> tuple[np.ndarray, np.ndarray]:
        """Every item's vectors across the kept draws side by side (items, keep·dim), and their outer
        products (items, keep·dim²): built once per loaded model, they are most of a scoring call."""
        if "_stacked_cache" not in self.__dict__:
            V = self.item_samples_.astype(np.float64)
            S, n, d = V.shape
            self._stacked_cache = (V.transpose(1, 0, 2).reshape(n, S * d),
                                   np.einsum("sid,sie->isde", V, V).reshape(n, S * d * d))
        return self._stacked_cache

    def _fold_in_means(self, histories: list[np.ndarray], users: np.ndarray | None = None) -> np.ndarray:
        """Posterior-mean user vectors (keep, n, dim) of many histories at once (occlusion asks for
        hundreds): one sparse (histories × items) matrix of the ratings' weights times every item's v v^T, for all kept
        draws in one product, instead of an outer product per history row. With ``users``, each
        history's items carry that user's ratings (``ratings_of``), else the implicit one."""
        lengths = np.array([len(h) for h in histories])
        items = np.concatenate(histories) if lengths.sum() else np.zeros(0, np.int64)
        rows = np.repeat(np.arange(len(histories)), lengths)
        shape = (len(histories), self.n_items_)
        weights = np.concatenate([self.fold_in_weights(n) for n in lengths]) if len(items) else np.zeros(0)
        counts = sparse.csr_matrix((weights, (rows, items)), shape=shape)
        rated = np.concatenate(self.ratings_of(histories, users)) if len(items) else np.zeros(0)
        centred = sparse.csr_matrix((weights * (rated - self.global_mean_), (rows, items)), shape=shape)
        S, d = len(self.noise_precision_), self.dim
        stacked, outer = self._stacked()
        gram = (counts @ outer).reshape(len(histories), S, d, d).transpose(1, 0, 2, 3)
        linear = (centred @ stacked).reshape(len(histories), S, d).transpose(1, 0, 2)
        precision, shift = self._user_posterior(gram, linear)
        return np.linalg.solve(precision, shift[..., None])[..., 0]

    def _score(self, histories, users):
        S = len(self.noise_precision_)
        if users is not None and self.thompson:
            vectors = self.user_samples_[:, self._check_user_indices(users)]
        else:
            vectors = self._fold_in_means(histories, users)  # (keep, n, d)
        if self.thompson:
            # One posterior draw per row: a new draw every call, as Thompson sampling needs.
            rng = self.__dict__.setdefault("_rng", np.random.default_rng(self.seed))
            pick = rng.integers(0, S, len(histories))
            return self.global_mean_ + np.einsum("nd,nid->ni", vectors[pick, np.arange(len(pick))],
                                                 self.item_samples_[pick])
        # The mean over draws of U_s V_s^T as one matrix product over the stacked (draw, factor) axis.
        n = vectors.shape[1]
        return self.global_mean_ + (vectors.transpose(1, 0, 2).reshape(n, -1) @ self._stacked()[0].T) / S

    def lead_terms(self, history, items, max_removals: int, user: int | None = None,
                   removable: np.ndarray | None = None, others: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray] | None:
        """What any set of up to ``max_removals`` history positions (of ``removable``, default all) can
        do to each of ``items``' lead over each of ``others`` (default every item), for the
        counterfactual search to prove that none takes an item out of the top
        (``recsys.explain.counterfactual.lowest_lead``): the lead now (len(items), len(others)), and per
        removable position a term ((len(items), len(others), positions)) such that removing any set
        changes the lead by no less than the sum of its members' terms. The list is the fold-in of the
        history (with the user's ratings, given ``user``).

        Per kept draw, removing R moves the folded-in vector m by −α P_R⁻¹ Σ_R e_j v_j (e_j: item j's
        residual, P_R the precision without R). In whitened terms (hats: P^-½; a_j = ŵ·ŷ_j for
        w = v_i − v_c; G = α Ŷ_RᵀŶ_R, whose eigenvalues stay below λ, a bound on the leverage of any k
        history items) the lead over c changes by −α a_Rᵀ(I − G)⁻¹e_R: first-order terms −α a_j e_j plus
        a remainder −α a_Rᵀ G(I − G)⁻¹ e_R of size at most αλ/(1 − λ)·‖a_R‖·‖e_R‖ ≤
        αλ/(2(1 − λ)) Σ_R (t a_j² + e_j²/t) for any t > 0. Both are sums over R, so each removal's worst
        case adds up, and the k most negative sums bound the change: one set serves both parts and all
        draws, unlike bounding each part by its own worst set. None with Thompson sampling (the list is
        a random draw) and with ``fold_in_half_life``: then a removal also raises the weights of the
        ratings before it, which the bound (of removals from a fixed sum) does not cover."""
        if self.thompson or self.fold_in_half_life is not None:
            return None
        items = self._check_items(np.atleast_1d(items))
        history = self._check_histories([history])[0]
        removable = np.ones(len(history), bool) if removable is None else np.asarray(removable, bool)
        if removable.shape != history.shape:
            raise ParameterError(f"removable must mark each of the {len(history)} history positions, "
                                 f"got shape {removable.shape}")
        k = min(int(max_removals), int(removable.sum()))
        others = np.arange(self.n_items_) if others is None else self._check_items(others)
        scores = self._score([history], None if user is None else np.array([user]))[0]
        lead = scores[items, None] - scores[None, others]
        if not k:
            return lead, np.zeros((len(items), len(others), 0))
        ratings = None if user is None else self.known_ratings(user, history)
        means, covariances = self.fold_in(history, ratings)                # the list's fold-in, per draw
        r = self._ratings_of(history, ratings) - self.global_mean_
        S = len(self.noise_precision_)
        terms = np.zeros((len(items), len(others), int(removable.sum())))  # per removal: worst change
        for s in range(S):
            alpha = float(self.noise_precision_[s])
            V = self.item_samples_[s].astype(np.float64)
            residual = (r - V[history] @ means[s])[removable]
            values, vectors = np.linalg.eigh(covariances[s])
            root = (vectors * np.sqrt(values)) @ vectors.T                 # P^-1/2 (P: the precision)
            Y, W = V[history[removable]] @ root, V[others] @ root
            leverage = _leverage_bound(Y, alpha, alpha * (Y ** 2).sum(axis=1), k, root,
                                       self.hyper_user_[s, 1:])
            factor = alpha * leverage / (2 * (1 - leverage)) / S
            WY, gram = W @ Y.T, Y.T @ Y                                    # ŵ·ŷ_j; Σ_j ŷ_j ŷ_jᵀ
            for j, item in enumerate(items):
                own = V[item] @ root
                a = own @ Y.T - WY                                         # (others, positions)
                w = own - W
                # t balances the two squares over the whole history (any t is sound; this one is cheap)
                t = np.sqrt((residual ** 2).sum() / np.maximum(np.einsum("cd,de,ce->c", w, gram, w),
                                                               1e-300))[:, None]
                terms[j] -= alpha * a * residual / S + factor * (t * a ** 2 + residual ** 2 / t)
        return lead, terms

    def item_embeddings(self) -> np.ndarray:
        self._check_fitted()
        return self.item_samples_.mean(axis=0)

    def user_embedding(self, history) -> np.ndarray:
        self._check_fitted()
        return self.fold_in(self._check_histories([history])[0])[0].mean(axis=0)
