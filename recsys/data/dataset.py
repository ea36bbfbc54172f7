"""The ``Dataset`` type: interactions with contiguous int ids, the raw-id maps, item and user tables.

Loaders (``recsys.data.movielens``, ``recsys.data.generic``) read files into a frame of raw ids and hand
it to ``build_dataset``, which applies the filters (duplicates, rating threshold, k-core), assigns
contiguous ids and sorts interactions by user, then time, keeping the file's order for equal times.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from recsys.data.ragged import Ragged
from recsys.errors import DataError, ParameterError

ITEM_COLUMNS = ("title", "genres", "year", "text")


@dataclass
class LoadReport:
    """What loading did to the rows, so that nothing is dropped silently."""

    source: str
    rows_read: int = 0
    duplicates_dropped: int = 0
    below_rating_threshold: int = 0
    kcore_dropped: int = 0
    items_without_interactions: int = 0
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"read {self.rows_read:,} interactions from {self.source}"]
        if self.duplicates_dropped:
            out.append(f"dropped {self.duplicates_dropped:,} duplicate (user, item) rows, kept the latest")
        if self.below_rating_threshold:
            out.append(f"dropped {self.below_rating_threshold:,} rows below the rating threshold")
        if self.kcore_dropped:
            out.append(f"dropped {self.kcore_dropped:,} rows by the k-core filter")
        if self.items_without_interactions:
            out.append(f"{self.items_without_interactions:,} items in the item file have no interactions")
        return out + list(self.notes)


def first_genres(genres: pd.Series) -> np.ndarray:
    """Each item's first listed genre ("A|B" strings), "(none)" when it has none: one colour or
    segment per item."""
    return genres.fillna("").str.split("|").str[0].replace("", "(none)").to_numpy()


@dataclass(eq=False)
class Dataset:
    """Interactions sorted by (user, timestamp, file order), with contiguous int32 user and item ids.

    ``user_ids[u]`` / ``item_ids[i]`` give the raw id of index ``u`` / ``i``; ``items`` has one row per
    item index with title, genres ("|"-joined), year and text; ``users`` (optional) has one row per user
    index with age, gender and occupation.
    """

    name: str
    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    items: pd.DataFrame
    users: pd.DataFrame | None = None
    report: LoadReport | None = None
    has_ratings: bool = True
    has_timestamps: bool = True

    # -- sizes -------------------------------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_interactions(self) -> int:
        return len(self.user)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, users={self.n_users:,}, items={self.n_items:,}, "
                f"interactions={self.n_interactions:,})")

    # -- ids -----------------------------------------------------------------------------------------
    def user_index(self, raw) -> int:
        """Index of a raw user id (an int or its string form); DataError if unknown."""
        return _lookup(self.user_ids, raw, "user")

    def item_index(self, raw) -> int:
        return _lookup(self.item_ids, raw, "item")

    # -- derived views ---------------------------------------------------------------------------------
    def sequences(self) -> Ragged:
        """Each user's items in time order (row u = user u)."""
        return Ragged.from_groups(self.user, self.item, self.n_users)

    def item_popularity(self) -> np.ndarray:
        """Interactions per item (int64, length n_items)."""
        return np.bincount(self.item, minlength=self.n_items)

    def user_activity(self) -> np.ndarray:
        return np.bincount(self.user, minlength=self.n_users)

    def ratings_of(self, user: int, items=None) -> dict[int, float] | None:
        """The user's rating of each item they rated, keyed by item (only ``items``, when given); None
        when the dataset has no ratings. Reasons show these ("because you liked … ★5")."""
        if not self.has_ratings:
            return None
        lo, hi = np.searchsorted(self.user, [user, user + 1])  # interactions are sorted by user
        rated = dict(zip(self.item[lo:hi].tolist(), self.rating[lo:hi].tolist()))
        return rated if items is None else {int(i): rated[int(i)] for i in items if int(i) in rated}

    def interactions_of(self, item: int) -> pd.DataFrame:
        """Who interacted with ``item``: raw user id, rating (NaN without ratings) and time (seconds, or
        the position in the file when the dataset has no timestamps), one row per interaction."""
        if not 0 <= int(item) < self.n_items:
            raise DataError(f"unknown item index {item}: the dataset has items 0..{self.n_items - 1}")
        rows = np.flatnonzero(self.item == int(item))
        when = (pd.to_datetime(self.timestamp[rows], unit="s") if self.has_timestamps else rows)
        return pd.DataFrame({"user": self.user_ids[self.user[rows]].astype(str),
                             "rating": self.rating[rows] if self.has_ratings else np.nan, "time": when})

    def positions_in_user(self) -> tuple[np.ndarray, np.ndarray]:
        """For each interaction: its 0-based position in its user's time-ordered sequence, and that
        sequence's length."""
        counts = self.user_activity()
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        return np.arange(self.n_interactions) - starts[self.user], counts[self.user]

    def user_item_matrix(self, binary: bool = True) -> sparse.csr_matrix:
        """The n_users × n_items CSR matrix of interactions (ones, or ratings)."""
        data = np.ones(self.n_interactions, np.float32) if binary else self.rating
        m = sparse.csr_matrix((data, (self.user, self.item)), shape=(self.n_users, self.n_items),
                              dtype=np.float32)
        m.sum_duplicates()
        return m

    def genre_matrix(self) -> tuple[sparse.csr_matrix, list[str]]:
        """Multi-hot genres: an n_items × n_genres CSR matrix and the genre names (built once: a
        dataset does not change after loading, and every re-ranked list asks for them)."""
        if "_genres" not in self.__dict__:
            self.__dict__["_genres"] = self._build_genre_matrix()
        return self.__dict__["_genres"]

    def genre_vectors(self) -> np.ndarray:
        """``genre_matrix`` as a dense float32 array, for MMR's similarities (built once)."""
        if "_genre_vectors" not in self.__dict__:
            self.__dict__["_genre_vectors"] = self.genre_matrix()[0].toarray()
        return self.__dict__["_genre_vectors"]

    def _build_genre_matrix(self) -> tuple[sparse.csr_matrix, list[str]]:
        lists = self.items["genres"].fillna("").str.split("|")
        names = sorted({g for gs in lists for g in gs if g})
        col = {g: j for j, g in enumerate(names)}
        rows, cols = [], []
        for i, gs in enumerate(lists):
            for g in gs:
                if g:
                    rows.append(i)
                    cols.append(col[g])
        m = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                              shape=(self.n_items, len(names)))
        return m, names

    def genre_items(self, genre: str) -> np.ndarray:
        """Which items are of ``genre`` (a boolean mask); ParameterError, naming the catalogue's genres,
        when it has no such genre."""
        matrix, names = self.genre_matrix()
        if genre not in names:
            raise ParameterError(f"unknown genre {genre!r}; " + (
                f"the catalogue's genres are {', '.join(names)}" if names else "the catalogue has no genres"))
        return matrix[:, names.index(genre)].toarray().ravel() > 0

    def item_mask(self, genre: str | None = None, years: tuple[int, int] | None = None) -> np.ndarray:
        """Items of a genre and / or released within ``years`` (inclusive): a filter for
        ``recommend(allowed=...)`` and ``similar_items(allowed=...)``. An unknown genre matches nothing."""
        mask = np.ones(self.n_items, bool)
        if genre:
            mask &= self.genre_items(genre) if genre in self.genre_matrix()[1] else False
        if years is not None:
            year = pd.to_numeric(self.items["year"], errors="coerce").to_numpy(dtype=float)
            mask &= (year >= years[0]) & (year <= years[1])
        return mask

    def stats(self) -> dict:
        n = self.n_interactions
        activity = self.user_activity()
        return {
            "name": self.name,
            "users": self.n_users,
            "items": self.n_items,
            "interactions": n,
            "density": n / max(1, self.n_users * self.n_items),
            "sparsity": 1.0 - n / max(1, self.n_users * self.n_items),
            "median_user_interactions": float(np.median(activity)) if len(activity) else 0.0,
            "median_item_interactions": float(np.median(self.item_popularity())) if self.n_items else 0.0,
            "has_ratings": self.has_ratings,
            "has_timestamps": self.has_timestamps,
            "first_timestamp": int(self.timestamp.min()) if n else None,
            "last_timestamp": int(self.timestamp.max()) if n else None,
        }

    @property
    def has_item_text(self) -> bool:
        """True when some item has a title, genres or text of its own; False for a catalogue of bare
        ids, whose items only have the "item 1234" labels (nothing worth encoding as text)."""
        return bool((self.items["text"] != "").any())

    @property
    def has_genres(self) -> bool:
        """True when some item has a genre: what intra-list diversity, MMR and genre segments need."""
        return bool(self.items["genres"].fillna("").str.replace("|", "", regex=False).str.strip().ne("").any())

    def fingerprint(self) -> str:
        """A content hash of the interactions and id maps (16 hex chars): same data, same fingerprint."""
        if getattr(self, "_fingerprint", None) is None:
            h = hashlib.sha256()
            for a in (self.user, self.item, self.rating, self.timestamp):
                h.update(np.ascontiguousarray(a).tobytes())
            for ids in (self.user_ids, self.item_ids):
                h.update("\x1f".join(map(str, ids)).encode())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    def subset(self, mask: np.ndarray, name: str | None = None) -> "Dataset":
        """The interactions where ``mask`` is true; ids, items and users tables are shared."""
        return Dataset(name or self.name, self.user[mask], self.item[mask], self.rating[mask],
                       self.timestamp[mask], self.user_ids, self.item_ids, self.items, self.users,
                       self.report, self.has_ratings, self.has_timestamps)


def _lookup(ids: np.ndarray, raw, kind: str) -> int:
    key = raw
    if np.issubdtype(ids.dtype, np.integer) and isinstance(raw, str):
        try:
            key = int(raw)
        except ValueError:
            raise DataError(f"unknown {kind} {raw!r}: {kind} ids in this dataset are integers") from None
    pos = pd.Index(ids).get_indexer([key])[0]
    if pos < 0:
        raise DataError(f"unknown {kind} {raw!r} (the dataset has {len(ids):,} {kind}s)")
    return int(pos)


def build_dataset(frame: pd.DataFrame, *, name: str, source: str, items: pd.DataFrame | None = None,
                  users: pd.DataFrame | None = None, min_user_interactions: int = 0,
                  min_item_interactions: int = 0, rating_threshold: float | None = None,
                  report: LoadReport | None = None) -> Dataset:
    """Turn a validated frame of raw ids into a ``Dataset``.

    ``frame`` has columns user, item and optionally rating (float) and timestamp (int); row order is the
    file's order. ``items`` is indexed by raw item id with any of title, genres, year, text; ``users``
    by raw user id with any of age, gender, occupation. Filters: ``rating_threshold`` keeps rows with
    rating >= threshold (implicit feedback); the k-core filter repeats until every user and item left
    has at least the given number of interactions.
    """
    report = report or LoadReport(source)
    report.rows_read = len(frame)
    has_ratings = "rating" in frame
    has_timestamps = "timestamp" in frame
    user_raw = frame["user"].to_numpy()
    item_raw = frame["item"].to_numpy()
    rating = (frame["rating"].to_numpy(np.float32) if has_ratings
              else np.ones(len(frame), np.float32))
    # Without timestamps the file's order is the time order.
    timestamp = (frame["timestamp"].to_numpy(np.int64) if has_timestamps
                 else np.arange(len(frame), dtype=np.int64))

    if len(frame) == 0:
        raise DataError("no interactions", file=source)

    # Codes first, so the filters below work on integers, not raw ids.
    user_codes, user_uniques = pd.factorize(user_raw, sort=True)
    item_codes, item_uniques = pd.factorize(item_raw, sort=True)
    order = np.lexsort((timestamp, user_codes))  # stable: ties keep the file's order
    user_codes, item_codes = user_codes[order], item_codes[order]
    rating, timestamp = rating[order], timestamp[order]

    keep = np.ones(len(order), bool)
    # A repeated (user, item): keep the latest, which is the last in this order.
    pair = user_codes.astype(np.int64) * len(item_uniques) + item_codes
    _, last_from_end = np.unique(pair[::-1], return_index=True)
    latest = np.zeros(len(pair), bool)
    latest[len(pair) - 1 - last_from_end] = True
    report.duplicates_dropped = int((~latest).sum())
    keep &= latest

    if rating_threshold is not None:
        below = keep & (rating < rating_threshold)
        report.below_rating_threshold = int(below.sum())
        keep &= ~below

    if min_user_interactions > 1 or min_item_interactions > 1:
        before = int(keep.sum())
        while True:
            u_count = np.bincount(user_codes[keep], minlength=len(user_uniques))
            i_count = np.bincount(item_codes[keep], minlength=len(item_uniques))
            ok = keep & (u_count[user_codes] >= min_user_interactions) & (
                i_count[item_codes] >= min_item_interactions)
            if ok.sum() == keep.sum():
                break
            keep = ok
        report.kcore_dropped = before - int(keep.sum())

    if not keep.any():
        raise DataError("no interactions left after the filters (duplicates, rating threshold, k-core)",
                        file=source)

    # Re-number so that only users and items with interactions remain, still in sorted raw-id order.
    user_codes, item_codes = user_codes[keep], item_codes[keep]
    used_users, user_new = np.unique(user_codes, return_inverse=True)
    used_items, item_new = np.unique(item_codes, return_inverse=True)
    user_ids = np.asarray(user_uniques)[used_users]
    item_ids = np.asarray(item_uniques)[used_items]

    item_table = _align_items(items, item_ids)
    if items is not None:
        report.items_without_interactions = int((~pd.Index(items.index).isin(item_ids)).sum())
    user_table = None
    if users is not None:
        user_table = users.reindex(pd.Index(user_ids)).reset_index(drop=True)

    return Dataset(name=name, user=user_new.astype(np.int32), item=item_new.astype(np.int32),
                   rating=rating[keep], timestamp=timestamp[keep], user_ids=user_ids,
                   item_ids=item_ids, items=item_table, users=user_table, report=report,
                   has_ratings=has_ratings, has_timestamps=has_timestamps)


def distinct_titles(titles: np.ndarray, years: np.ndarray, item_ids: np.ndarray,
                    own: np.ndarray) -> np.ndarray:
    """Each item's own title, told apart where several items share one: by the year where it differs
    ("Cape Fear (1962)", "Cape Fear (1991)"), else by the item id ("Chasing Amy (item 268)": ml-100k
    lists some films twice), so that a list or a "because you watched" names one item. ``own``: the
    item has a title of its own (placeholders like "item 12" are distinct already)."""
    frame = pd.DataFrame({"title": np.asarray(titles, dtype=object), "year": years})
    shared = frame["title"].duplicated(keep=False).to_numpy() & np.asarray(own, bool)
    # The year tells an item apart where no other item has both its title and its year.
    by_year = shared & frame["year"].notna().to_numpy() & ~frame.duplicated(keep=False).to_numpy()
    by_id = shared & ~by_year
    out = frame["title"].to_numpy().copy()
    out[by_year] = [f"{t} ({int(y)})" for t, y in zip(out[by_year], years[by_year])]
    out[by_id] = [f"{t} (item {i})" for t, i in zip(out[by_id], np.asarray(item_ids)[by_id])]
    return out


def _align_items(items: pd.DataFrame | None, item_ids: np.ndarray) -> pd.DataFrame:
    """One row per item index, with title, genres, year and text filled for every item."""
    table = (items.reindex(pd.Index(item_ids)) if items is not None
             else pd.DataFrame(index=pd.Index(item_ids)))
    table = table.copy()
    title = table["title"] if "title" in table else pd.Series(np.nan, index=table.index)
    own_title = title.notna().to_numpy()
    table["title"] = title.astype(object).where(own_title, [f"item {i}" for i in item_ids])
    table["title"] = table["title"].astype(str)
    table["genres"] = table["genres"].fillna("").astype(str) if "genres" in table else ""
    year = table["year"] if "year" in table else pd.Series(np.nan, index=table.index)
    table["year"] = pd.to_numeric(year, errors="coerce").astype("Int32")
    extra = table["text"].fillna("").astype(str) if "text" in table else ""
    genres_text = table["genres"].str.replace("|", ", ", regex=False)
    year_text = table["year"].astype(str).where(table["year"].notna(), "")
    # A placeholder title ("item 1234") is a label, not text: an item without its own title, genres,
    # year or text gets an empty text, so no model encodes strings of ids.
    named = table["title"].where(own_title, "")
    text = named + ". Genres: " + genres_text + ". Year: " + year_text + ". " + extra
    table["text"] = (text.str.replace(r"(Genres: |Year: )\. ", "", regex=True)
                     .str.replace(r"^\. ", "", regex=True).str.strip().replace(".", ""))
    # After the text: a model reads the title as the source gave it.
    table["title"] = distinct_titles(table["title"].to_numpy(), table["year"].to_numpy(float, na_value=np.nan),
                                     item_ids, own_title)
    other = [c for c in table.columns if c not in ITEM_COLUMNS]
    table = table[list(ITEM_COLUMNS) + other]
    table.index = pd.RangeIndex(len(item_ids), name="item")
    table.insert(0, "item_id", item_ids)
    return table
