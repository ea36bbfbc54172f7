"""Comparing models: list overlap, paired bootstrap tests (every pair of models as one family, Holm-
corrected), and metric segments.

Everything works on per-user vectors from ``recsys.evaluate`` (stored beside each model), so two models
are compared on the same users, pair by pair.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from recsys.data.dataset import first_genres
from recsys.errors import ParameterError

ACTIVITY_BINS = (0, 20, 50, 100, 200, np.inf)


def jaccard(a, b) -> float:
    """|A ∩ B| / |A ∪ B| of two recommendation lists (padding -1 ignored); 1.0 for two empty lists."""
    a, b = {int(x) for x in a if x >= 0}, {int(x) for x in b if x >= 0}
    return 1.0 if not a and not b else len(a & b) / len(a | b)


def rbo(a, b, p: float = 0.9) -> float:
    """Rank-biased overlap (Webber, Moffat & Zobel 2010), extrapolated, of two ranked lists cut to
    their common depth k: (X_k / k)·p^k + (1 − p)/p · Σ_{d≤k} (X_d / d)·p^d, with X_d the size of the
    overlap of the top d. 1 for identical lists, 0 for disjoint ones; agreement at the top weighs
    most (p = 0.9 puts ~86% of the weight on the top 10)."""
    if not 0 < p < 1:
        raise ParameterError(f"p must be in (0, 1), got {p}")
    a = [int(x) for x in a if x >= 0]
    b = [int(x) for x in b if x >= 0]
    k = min(len(a), len(b))
    if k == 0:
        return 1.0 if not a and not b else 0.0
    seen_a, seen_b, overlap, total = set(), set(), 0, 0.0
    for d in range(1, k + 1):
        x, y = a[d - 1], b[d - 1]
        overlap += (x in seen_b) + (y in seen_a) + (x == y)
        seen_a.add(x)
        seen_b.add(y)
        total += overlap / d * p ** d
    return overlap / k * p ** k + (1 - p) / p * total


def overlap_matrix(lists: dict[str, np.ndarray], measure: str = "jaccard") -> pd.DataFrame:
    """Pairwise overlap of named lists: "jaccard" (sets) or "rbo" (rank-biased)."""
    fn = {"jaccard": jaccard, "rbo": rbo}.get(measure)
    if fn is None:
        raise ParameterError(f"unknown overlap measure {measure!r}; use 'jaccard' or 'rbo'")
    names = list(lists)
    return pd.DataFrame([[fn(lists[r], lists[c]) for c in names] for r in names],
                        index=names, columns=names)


@dataclass
class PairTest:
    """One pair of a family of paired comparisons: the mean of (a − b) over users with its bootstrap
    interval and p-value, and that p-value corrected (Holm) for every pair compared together.

    Every verdict in the app comes from here, so a page never shows a green "beats" above a test that
    disagrees: the interval and the p-value are read off the same resampled means, and the verdict is
    the corrected p-value's.
    """

    a: str
    b: str
    mean_a: float
    mean_b: float
    diff: float
    low: float
    high: float
    p_value: float      # two-sided, from the bootstrap distribution of the mean difference
    p_adjusted: float   # Holm's correction over ``pairs``
    pairs: int
    n_users: int
    confidence: float
    resamples: int

    @property
    def significant(self) -> bool:
        return self.p_adjusted < 1 - self.confidence

    def flipped(self) -> "PairTest":
        """The same test read as b − a."""
        return replace(self, a=self.b, b=self.a, mean_a=self.mean_b, mean_b=self.mean_a, diff=-self.diff,
                       low=-self.high, high=-self.low)

    def p_text(self) -> str:
        return _p_text(self.p_value, self.resamples)

    def verdict(self, name_a: str, name_b: str, metric: str = "NDCG@10") -> str:
        ci = (f"{self.confidence:.0%} CI {self.low:+.4f} to {self.high:+.4f}, {self.n_users:,} users, "
              f"{self.p_text()}")
        if self.pairs > 1:
            ci += f"; Holm-corrected over {self.pairs} pairs: {_p_text(self.p_adjusted, self.resamples)}"
        if self.significant:
            better, worse = (name_a, name_b) if self.diff > 0 else (name_b, name_a)
            return f"{better} beats {worse} on {metric} by {abs(self.diff):.4f} ({ci})."
        if self.low > 0 or self.high < 0:
            return (f"{name_a} and {name_b} cannot be told apart on {metric} once {self.pairs} pairs are "
                    f"compared: the difference {self.diff:+.4f} ({ci}) does not survive the correction.")
        return (f"{name_a} and {name_b} cannot be told apart on {metric}: the difference "
                f"{self.diff:+.4f} ({ci}) includes zero.")


def _p_text(p: float, resamples: int) -> str:
    return f"p < {1 / resamples:.2g}" if p == 0 else f"p = {p:.2g}"


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment: controls the chance of any false "beats" across the family."""
    p = np.asarray(p_values, np.float64)
    order = np.argsort(p, kind="stable")
    scaled = (len(p) - np.arange(len(p))) * p[order]
    out = np.empty_like(p)
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def bootstrap_means(values: dict[str, np.ndarray], *, resamples: int = 10_000, seed: int = 0
                    ) -> dict[str, np.ndarray]:
    """Each model's mean over the same ``resamples`` resamples of users (with replacement): a user's
    values stay together across models, so any pair's difference is a paired bootstrap."""
    arrays = {m: np.asarray(v, np.float64) for m, v in values.items()}
    shapes = {v.shape for v in arrays.values()}
    if len(shapes) != 1 or next(iter(shapes)) == () or len(next(iter(shapes))) != 1:
        raise ParameterError("paired values must be 1-D arrays over the same users")
    n = next(iter(shapes))[0]
    if n < 2:
        raise ParameterError("a paired bootstrap needs at least 2 users")
    rng = np.random.default_rng(seed)
    means = {m: np.empty(resamples) for m in arrays}
    chunk = max(1, 20_000_000 // n)  # bounded memory for a million users
    for lo in range(0, resamples, chunk):
        hi = min(lo + chunk, resamples)
        idx = rng.integers(0, n, (hi - lo, n))
        for m, v in arrays.items():
            means[m][lo:hi] = v[idx].mean(axis=1)
    return means


def compare_all(values: dict[str, np.ndarray], *, resamples: int = 10_000, confidence: float = 0.95,
                seed: int = 0) -> list[PairTest]:
    """Every pair of ``values``' models (a before b in the dict's order) as one family of tests."""
    if len(values) < 2:
        raise ParameterError("comparing models needs at least two")
    if not 0 < confidence < 1:
        raise ParameterError(f"confidence must be in (0, 1), got {confidence}")
    arrays = {m: np.asarray(v, np.float64) for m, v in values.items()}
    means = bootstrap_means(arrays, resamples=resamples, seed=seed)
    tail = (1 - confidence) / 2 * 100
    rows = []
    names = list(arrays)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d = means[a] - means[b]
            low, high = np.percentile(d, [tail, 100 - tail])
            p = min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0)))
            va, vb = arrays[a], arrays[b]
            rows.append(dict(a=a, b=b, mean_a=float(va.mean()), mean_b=float(vb.mean()),
                             diff=float((va - vb).mean()), low=float(low), high=float(high), p_value=float(p)))
    adjusted = holm([r["p_value"] for r in rows])
    return [PairTest(**r, p_adjusted=float(q), pairs=len(rows), n_users=len(arrays[names[0]]),
                     confidence=confidence, resamples=resamples) for r, q in zip(rows, adjusted)]


def paired_bootstrap(a, b, *, resamples: int = 10_000, confidence: float = 0.95, seed: int = 0) -> PairTest:
    """One pair alone (a family of one: no correction)."""
    return compare_all({"a": a, "b": b}, resamples=resamples, confidence=confidence, seed=seed)[0]


def find_pair(tests: list[PairTest], a: str, b: str) -> PairTest:
    """The test of a against b (read as a − b) from a family."""
    for t in tests:
        if (t.a, t.b) == (a, b):
            return t
        if (t.a, t.b) == (b, a):
            return t.flipped()
    raise ParameterError(f"{a} and {b} were not compared together")


def pairs_matrix(tests: list[PairTest], labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Row − column mean differences with the Holm-corrected verdicts, one row per model: the
    all-pairs view (NaN on the diagonal)."""
    names = list(dict.fromkeys([t.a for t in tests] + [t.b for t in tests]))
    label = (labels or {}).get
    index = [label(n, n) for n in names]
    diff = pd.DataFrame(np.nan, index=index, columns=index)
    significant = pd.DataFrame(False, index=index, columns=index)
    for t in tests:
        for x in (t, t.flipped()):
            diff.loc[label(x.a, x.a), label(x.b, x.b)] = x.diff
            significant.loc[label(x.a, x.a), label(x.b, x.b)] = x.significant
    return pd.concat({"difference": diff, "significant": significant}, axis=1)


def disagreements(users: np.ndarray, a, b, n: int = 10) -> pd.DataFrame:
    """The ``n`` users where two models' per-user values differ most (a − b, both signs)."""
    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    order = np.argsort(-np.abs(diff), kind="stable")[:n]
    return pd.DataFrame({"user": np.asarray(users)[order], "a": np.asarray(a)[order],
                         "b": np.asarray(b)[order], "difference": diff[order]})


def activity_segment(history_lengths: np.ndarray) -> pd.Categorical:
    """Users by history length: 1–19, 20–49, 50–99, 100–199, 200+ interactions."""
    labels = ["1–19", "20–49", "50–99", "100–199", "200+"]
    return pd.cut(np.asarray(history_lengths), ACTIVITY_BINS, right=False, labels=labels)


def popularity_segment(items: np.ndarray, popularity: np.ndarray) -> pd.Categorical:
    """Items by popularity rank: head (top 5% of items), torso (next 15%), tail (the other 80%)."""
    rank = np.empty(len(popularity))
    rank[np.argsort(-popularity, kind="stable")] = np.arange(len(popularity)) / len(popularity)
    return pd.cut(rank[np.asarray(items)], [0, 0.05, 0.20, 1.0], right=False,
                  labels=["head (top 5%)", "torso (5–20%)", "tail (80%)"])


def segment_means(values: dict[str, np.ndarray], segment: pd.Categorical) -> pd.DataFrame:
    """Mean of each model's per-user values within each segment, plus the segment's size."""
    frame = pd.DataFrame(values)
    frame["segment"] = segment
    grouped = frame.groupby("segment", observed=False)
    out = grouped.mean()
    out.insert(0, "users", grouped.size())
    return out


@dataclass(frozen=True)
class Cohort:
    """Which test users a comparison counts: by profile (age, gender, occupation), by activity, and by
    how they rated their held-out item — ``min_rating`` makes relevance need a rating (a held-out 1★ film
    is not a hit to aim for). Empty fields do not filter."""

    min_rating: float | None = None
    ages: tuple[int, int] | None = None
    genders: tuple[str, ...] = ()
    occupations: tuple[str, ...] = ()
    activity: tuple[int, int] | None = None   # history length, inclusive
    taste: tuple[str, float] | None = None    # (genre, least share of the history in it), e.g. ("Horror", 0.2)

    def mask(self, users: np.ndarray, dataset, heldout) -> np.ndarray:
        """For each of ``users`` (internal indices, each a test user of ``heldout``), whether it is in."""
        rows = pd.Index(heldout.users).get_indexer(np.asarray(users))
        if (rows < 0).any():
            raise ParameterError(f"{int((rows < 0).sum())} of the users are not test users of this split")
        keep = np.ones(len(rows), bool)
        if self.min_rating is not None:
            if not len(heldout.ratings):
                raise ParameterError("this dataset has no ratings: relevance cannot need one")
            keep &= heldout.ratings[heldout.targets.indptr[:-1]][rows] >= self.min_rating
        if self.activity is not None:
            lengths = heldout.histories.lengths[rows]
            keep &= (lengths >= self.activity[0]) & (lengths <= self.activity[1])
        if self.taste is not None:
            keep &= genre_share(dataset, heldout, self.taste[0])[rows] >= self.taste[1]
        profile = dataset.users
        for column, wanted in (("gender", self.genders), ("occupation", self.occupations)):
            if wanted:
                if profile is None or column not in profile:
                    raise ParameterError(f"this dataset's users have no {column}")
                keep &= np.isin(profile[column].astype(str).to_numpy()[heldout.users[rows]], list(wanted))
        if self.ages is not None:
            if profile is None or "age" not in profile:
                raise ParameterError("this dataset's users have no age")
            age = pd.to_numeric(profile["age"], errors="coerce").to_numpy()[heldout.users[rows]]
            keep &= (age >= self.ages[0]) & (age <= self.ages[1])
        return keep

    def describe(self) -> str:
        parts = []
        if self.min_rating is not None:
            parts.append(f"held-out item rated {self.min_rating:g}★ or more")
        if self.ages is not None:
            parts.append(f"aged {self.ages[0]}–{self.ages[1]}")
        if self.genders:
            parts.append("gender " + " or ".join(self.genders))
        if self.occupations:
            parts.append(", ".join(self.occupations))
        if self.activity is not None:
            parts.append(f"{self.activity[0]}–{self.activity[1]} interactions")
        if self.taste is not None:
            parts.append(f"at least {self.taste[1]:.0%} {self.taste[0]} in their history")
        return "; ".join(parts) or "all test users"


def genre_share(dataset, heldout, genre: str) -> np.ndarray:
    """For each test user of ``heldout``, the share of their history's items that are of ``genre``."""
    of_genre = dataset.genre_items(genre)
    histories = heldout.histories
    running = np.concatenate(([0], np.cumsum(of_genre[histories.values])))
    counts = running[histories.indptr[1:]] - running[histories.indptr[:-1]]
    return counts / np.maximum(histories.lengths, 1)


def cohort_values(evaluation: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    """A stored per-user evaluation (``ArtifactStore.evaluation``) cut to the users ``keep`` marks."""
    n = len(evaluation["users"])
    return {k: (v[keep] if isinstance(v, np.ndarray) and v.ndim and len(v) == n else v)
            for k, v in evaluation.items()}


def recommended_to(evaluation: dict[str, np.ndarray], item: int, k: int = 10) -> np.ndarray:
    """The test users (internal indices) whose stored top-``k`` list holds ``item``."""
    lists = np.asarray(evaluation["lists"])[:, :k]
    return np.asarray(evaluation["users"])[(lists == int(item)).any(axis=1)]


def segment_errors(values: dict[str, np.ndarray], segment: pd.Categorical, z: float = 1.96) -> pd.DataFrame:
    """Half-widths of each segment mean's normal-approximation interval (z standard errors; 95% by
    default), shaped like ``segment_means`` without its size column: NaN where a segment has fewer than
    two users. ItemKNN's 0.21 on Western from 4 users is 0.21 ± 0.4."""
    frame = pd.DataFrame(values)
    frame["segment"] = segment
    grouped = frame.groupby("segment", observed=False)
    return z * grouped.std(ddof=1) / np.sqrt(grouped.count())


def rank_changes(before, after) -> pd.DataFrame:
    """How items moved between two lists: 1-based rank before and after (NaN when absent), and the
    change (positive = moved up). Items of either list, in the order of ``after`` then the dropped."""
    before = [int(x) for x in before if x >= 0]
    after = [int(x) for x in after if x >= 0]
    rank_before = {item: r for r, item in enumerate(before, 1)}
    rank_after = {item: r for r, item in enumerate(after, 1)}
    items = after + [i for i in before if i not in rank_after]
    out = pd.DataFrame({"item": items,
                        "before": [rank_before.get(i, np.nan) for i in items],
                        "after": [rank_after.get(i, np.nan) for i in items]})
    out["change"] = out["before"] - out["after"]
    return out


def edited_history(history, removed=(), moved=(), added=()) -> np.ndarray:
    """The What-if editor's history: ``removed`` items dropped, ``moved`` ones taken out and appended
    in the order given (the most recent end), then ``added`` ones appended as the latest."""
    removed = {int(i) for i in removed}
    moved = [int(i) for i in moved if int(i) not in removed]
    gone = removed | set(moved)
    kept = [int(i) for i in history if int(i) not in gone]
    return np.asarray(kept + moved + [int(i) for i in added], np.int64)


def genre_segment(items: np.ndarray, genres: pd.Series) -> pd.Categorical:
    """Items by their first listed genre (``genres`` holds "A|B" strings, indexed by item)."""
    return pd.Categorical(first_genres(genres)[np.asarray(items)])


def exposure_by_popularity(lists: np.ndarray, popularity: np.ndarray, k: int = 10, bins: int = 10
                           ) -> pd.DataFrame:
    """Share of the top-``k`` recommendation slots that go to each popularity decile of the catalogue
    (decile 1 = the most popular 10% of items), next to that decile's share of interactions."""
    order = np.argsort(-popularity, kind="stable")
    decile = np.empty(len(popularity), np.int64)
    decile[order] = np.arange(len(popularity)) * bins // len(popularity)
    top = np.asarray(lists)[:, :k]
    top = top[top >= 0]
    slots = np.bincount(decile[top], minlength=bins) / max(1, len(top))
    interactions = np.bincount(decile, weights=popularity, minlength=bins) / max(1, popularity.sum())
    return pd.DataFrame({"decile": np.arange(1, bins + 1), "share of slots": slots,
                         "share of interactions": interactions})


def popularity_concentration(lists: np.ndarray, popularity: np.ndarray, k: int = 10) -> float:
    """Share of top-``k`` slots taken by the most popular 10% of items (1.0 = nothing else is shown)."""
    return float(exposure_by_popularity(lists, popularity, k)["share of slots"].iloc[0])
