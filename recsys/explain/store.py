"""Explanations of every test user's list, computed when a model is built and stored beside it.

The Users page then switches users without computing anything: it reads the same ``HistoryExplanation``
objects ``explain_items`` would return (the arrays below hold all of their fields). A stored entry is
used only when its history is the one asked about (a checksum per user), so an edited or composed
history is always explained afresh.
"""
from __future__ import annotations

import json
import os
import zlib

import numpy as np

from recsys.errors import ParameterError, RecsysError
from recsys.explain.counterfactual import Counterfactual
from recsys.explain.history import HistoryExplanation, explain_items
from recsys.models.base import LARGE_CATALOGUE, Recommender
from recsys.progress import Progress

LIST_LENGTH = 10
# Raise when the explanation or the counterfactual search changes: stored explanations of another version
# are recomputed by the next build and never shown.
VERSION = 4  # 4: the search adds an integer program over single removals (2026-12-05); 3: larger sets
DEFAULT_USERS = 2000  # on ml-100k every test user; a catalogue with more users explains the rest live
# Above LARGE_CATALOGUE items a list costs more to explain (every removal re-scores the whole catalogue):
# on Amazon Beauty (54.5k items) 2,000 users' lists took 14 minutes of a build, 500 take a quarter of that.
LARGE_CATALOGUE_USERS = 500
# The counterfactual's sets of history positions, each a ragged column with a "<name>_lengths" array.
SETS = ("removed", "beyond")


def users_to_explain(n_items: int | None = None) -> int:
    """$RECLENS_EXPLAIN_USERS, or by catalogue size: how many test users' lists a build explains
    (DEFAULT_USERS up to LARGE_CATALOGUE items or when ``n_items`` is not given, else
    LARGE_CATALOGUE_USERS). The Users page explains any other user's list when it is shown."""
    value = os.environ.get("RECLENS_EXPLAIN_USERS", "").strip()
    if not value:
        return DEFAULT_USERS if n_items is None or n_items <= LARGE_CATALOGUE else LARGE_CATALOGUE_USERS
    if not value.isdigit():
        raise ParameterError(f"RECLENS_EXPLAIN_USERS must be a whole number, got {value!r}")
    return int(value)


def history_checksum(history: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(history, dtype=np.int64).tobytes())


def precompute(model: Recommender, heldout, *, k: int = LIST_LENGTH, max_users: int | None = None,
               progress: Progress | None = None) -> dict[str, np.ndarray]:
    """Explain the top-``k`` list of the first ``max_users`` users of ``heldout`` (a HeldOut: users
    and their histories; default ``users_to_explain`` of the model's catalogue) as the Users page shows it
    (per-user models rank with the learned user vector), and pack the explanations into arrays for
    ``atomic_save_npz``."""
    max_users = users_to_explain(model.n_items_) if max_users is None else max_users
    users = np.asarray(heldout.users, np.int64)[:max_users]
    rows = heldout.histories.rows()[:max_users]
    items = np.full((len(users), k), -1, np.int64)
    cols = {name: [] for name in ("values", "error", *SETS)}
    lengths = np.zeros((len(users), k), np.int64)
    set_lengths = {name: np.zeros((len(users), k), np.int64) for name in SETS}
    floats = {name: np.zeros((len(users), k)) for name in ("base", "score")}
    ints = {name: np.zeros((len(users), k), np.int64)
            for name in ("rank", "found", "rank_before", "rank_after", "cutoff", "checked", "proved_none",
                         "rank_beyond")}
    checks = np.zeros(len(users), np.int64)
    meta = {"version": VERSION}                # models that ignore the history store no method
    for r, (user, history) in enumerate(zip(users, rows)):
        history = np.asarray(history, np.int64)
        checks[r] = history_checksum(history)
        if progress and r % 50 == 0:
            progress(r / len(users), f"explaining test users' lists ({r:,} of {len(users):,})")
        if not len(history):
            continue
        listed = np.asarray(model.recommend(history, k=k, users=[user])[0]).ravel()
        listed = listed[listed >= 0]
        try:
            explained = explain_items(model, history, listed, user=int(user))
        except RecsysError:
            continue
        for j, e in enumerate(explained):
            items[r, j] = e.item
            lengths[r, j] = len(history)
            cols["values"].append(e.values)
            if e.error is not None:                         # deterministic methods store none
                cols["error"].append(e.error)
            cf = e.counterfactual
            for name in SETS:
                cols[name].append(getattr(cf, name))
                set_lengths[name][r, j] = len(getattr(cf, name))
            floats["base"][r, j], floats["score"][r, j] = e.base_value, e.score
            ints["rank"][r, j] = e.rank
            ints["found"][r, j], ints["rank_before"][r, j], ints["rank_after"][r, j] = \
                cf.found, cf.rank_before, cf.rank_after
            ints["cutoff"][r, j], ints["checked"][r, j] = cf.cutoff, cf.checked
            ints["proved_none"][r, j], ints["rank_beyond"][r, j] = cf.proved_none, cf.rank_beyond
            meta = {"version": VERSION, "method": e.method, "settings": e.settings, "max_removals": cf.max_removals,
                    "deterministic": e.error is None}
    if progress:
        progress(1.0, f"explained {len(users):,} test users' lists")
    join = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
    return {"users": users, "items": items, "checksum": checks, "lengths": lengths,
            "values": join(cols["values"], np.float32), "error": join(cols["error"], np.float32),
            **{name: join(cols[name], np.int64) for name in SETS},
            **{f"{name}_lengths": set_lengths[name] for name in SETS},
            **floats, **ints, "meta": np.array(json.dumps(meta))}


def is_current(arrays: dict[str, np.ndarray] | None) -> bool:
    """Stored explanations that this code would compute the same way."""
    if arrays is None:
        return False
    return json.loads(str(arrays["meta"])).get("version") == VERSION


class StoredExplanations:
    """Read side of ``precompute``'s arrays: ``get(user, history, item)``."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays
        self.meta = json.loads(str(arrays["meta"]))
        self.row_of = {int(u): r for r, u in enumerate(arrays["users"])}
        self.starts = _starts(arrays["lengths"])
        self.set_starts = {name: _starts(arrays[f"{name}_lengths"]) for name in SETS}

    def get(self, user: int, history: np.ndarray, item: int) -> HistoryExplanation | None:
        """The stored explanation of ``item`` for this user and exactly this history, or None."""
        a = self.arrays
        r = self.row_of.get(int(user))
        history = np.asarray(history, np.int64)
        if r is None or int(a["checksum"][r]) != history_checksum(history):
            return None
        where = np.flatnonzero(a["items"][r] == int(item))
        if not len(where):
            return None
        j = int(where[0])
        n = int(a["lengths"][r, j])
        if n != len(history):
            return None
        lo = int(self.starts[r, j])
        error = a["error"][lo:lo + n]
        removed, beyond = (self._positions(name, r, j) for name in SETS)
        cf = Counterfactual(removed, bool(a["found"][r, j]), int(a["rank_before"][r, j]),
                            int(a["rank_after"][r, j]), int(a["cutoff"][r, j]),
                            int(self.meta["max_removals"]), int(a["checked"][r, j]),
                            # A model that ignores the history: no removal can move the item (stores
                            # written before this was recorded hold False).
                            bool(a["proved_none"][r, j]) or self.meta["method"] == "none",
                            beyond, int(a["rank_beyond"][r, j]))
        return HistoryExplanation(int(item), history, a["values"][lo:lo + n].copy(),
                                  float(a["base"][r, j]), float(a["score"][r, j]), self.meta["method"],
                                  dict(self.meta["settings"]),
                                  None if self.meta["deterministic"] else error.copy(),
                                  int(a["rank"][r, j]), cf)

    def _positions(self, name: str, r: int, j: int) -> np.ndarray:
        """A copy of the history positions a counterfactual names (``removed`` or ``beyond``) for row r,
        list place j."""
        lo = int(self.set_starts[name][r, j])
        return self.arrays[name][lo:lo + int(self.arrays[f"{name}_lengths"][r, j])].copy()


def _starts(lengths: np.ndarray) -> np.ndarray:
    """Where each (user, item) entry of a ragged column begins, from the entries' lengths."""
    flat = lengths.ravel()
    return np.concatenate([[0], np.cumsum(flat)[:-1]]).astype(np.int64).reshape(lengths.shape)


def stored_or_live(stored: StoredExplanations | None, history: np.ndarray, user: int | None,
                   items: list[int], live) -> list[HistoryExplanation]:
    """Each item's explanation: the stored one where it was stored for this user and exactly this
    history, else from ``live(missing_items)`` (one call for all the missing items, so that the
    counterfactual search batches them)."""
    found = {}
    if stored is not None and user is not None:
        for item in items:
            e = stored.get(user, history, item)
            if e is not None:
                found[int(item)] = e
    missing = tuple(int(i) for i in items if int(i) not in found)
    if missing:
        found.update({e.item: e for e in live(missing)})
    return [found[int(i)] for i in items]
