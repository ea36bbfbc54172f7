"""Synthetic interaction data for benchmarks: power-law popularity and sequential structure, at any size.

Items sit on a hidden ring (a random permutation). Each user's sequence starts at an item drawn by
popularity (Zipf with exponent ``zipf``); each next step either walks 1–3 places along the ring
(probability ``p_sequential``: the next item follows the last, which sequence models can learn) or jumps
to a fresh popularity draw. User activity is heavy-tailed too. Generation is vectorised over all
interactions (no loop over users), so 50M interactions take well under a minute.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.data.dataset import Dataset, build_dataset
from recsys.errors import ParameterError


def synthetic_frame(n_users: int, n_items: int, n_interactions: int, *, zipf: float = 1.0,
                    p_sequential: float = 0.6, seed: int = 0) -> pd.DataFrame:
    """Columns user, item, timestamp (each user's rows in time order), ``n_interactions`` rows."""
    for name, value in (("n_users", n_users), ("n_items", n_items), ("n_interactions", n_interactions)):
        if not isinstance(value, (int, np.integer)) or value <= 0:
            raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    if n_interactions < 3 * n_users:
        raise ParameterError("n_interactions must be at least 3 per user (leave-one-out needs 3)")
    if not 0 <= p_sequential <= 1:
        raise ParameterError(f"p_sequential must be in [0, 1], got {p_sequential}")
    rng = np.random.default_rng(seed)
    # Activity: 3 each, the rest spread by a heavy-tailed (lognormal) weight per user.
    weight = rng.lognormal(0.0, 1.0, n_users)
    extra = rng.multinomial(n_interactions - 3 * n_users, weight / weight.sum())
    lengths = 3 + extra
    user = np.repeat(np.arange(n_users, dtype=np.int64), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    position = np.arange(n_interactions) - np.repeat(starts, lengths)

    popularity = 1.0 / np.arange(1, n_items + 1) ** zipf
    popularity /= popularity.sum()
    by_popularity = rng.permutation(n_items)       # which item has popularity rank r
    ring = rng.permutation(n_items)                # the hidden order sequences walk along
    ring_position = np.empty(n_items, np.int64)
    ring_position[ring] = np.arange(n_items)

    jump = (position == 0) | (rng.random(n_interactions) >= p_sequential)
    jumped_to = by_popularity[rng.choice(n_items, int(jump.sum()), p=popularity)]
    anchor = np.zeros(n_interactions, np.int64)
    anchor[jump] = ring_position[jumped_to]
    steps = np.where(jump, 0, rng.integers(1, 4, n_interactions))
    # Position on the ring = the last jump's anchor + the steps walked since it.
    last_jump = np.maximum.accumulate(np.where(jump, np.arange(n_interactions), 0))
    walked = np.cumsum(steps)
    offset = walked - walked[last_jump]
    item = ring[(anchor[last_jump] + offset) % n_items]
    return pd.DataFrame({"user": user + 1, "item": item.astype(np.int64) + 1,
                         "timestamp": position.astype(np.int64)})


def synthetic_dataset(n_users: int, n_items: int, n_interactions: int, **options) -> Dataset:
    """``synthetic_frame`` as a Dataset (repeated (user, item) pairs keep the latest, as for real data)."""
    frame = synthetic_frame(n_users, n_items, n_interactions, **options)
    return build_dataset(frame, name=f"synthetic-{n_users}x{n_items}x{n_interactions}",
                         source="synthetic")
